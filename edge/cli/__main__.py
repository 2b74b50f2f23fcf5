"""``python -m edge.cli``: the same as ``sspinn-edge``."""

import sys

from edge.cli.main import main

sys.exit(main())
