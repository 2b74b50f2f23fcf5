"""``sspinn-edge``: the command line of the edge device (``run``, ``simulate``, ``probe``,
``calibrate``). One module per command; shared pieces in :mod:`edge.cli.hardware`
(the I2C bus opener, sensor map and recording arguments), :mod:`edge.cli.exit_codes`
and :mod:`edge.cli.serve`.
"""

from edge.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
