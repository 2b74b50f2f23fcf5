"""The package version and the ``--version`` flag every console script has."""

from __future__ import annotations

import argparse
from importlib import metadata
from typing import Any

#: The distribution name in ``pyproject.toml``.
DISTRIBUTION = "sspinnpose-edge"


def package_version() -> str:
    """The installed package's version (``pyproject.toml``), or ``"unknown"`` when the
    source tree runs without being installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``: print ``PROG VERSION`` and exit 0 (the version is looked up only
    when asked for, so building a parser stays cheap)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kw: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"{parser.prog} {package_version()}")
        parser.exit()


def add_version_argument(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` a ``--version`` flag that prints the package version."""
    parser.add_argument(
        "--version", action=_VersionAction, help="print the package version and exit"
    )
