"""``python -m dashboard``: the same as ``sspinn-dashboard``."""

from dashboard.cli import main

raise SystemExit(main())
