"""``sspinn-edge``: the parser with every subcommand, and ``main``.

Subcommands are registered in :data:`COMMANDS` as ``(name, add_parser_function)``; each
``add_*`` function adds its parser and sets ``func`` (returns the exit code, or raises
:class:`edge.cli.exit_codes.CommandFailed`). The work is done by ``firmware_bridge``
(probe, calibration) and the other ``edge`` packages, imported when a command runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from edge.cli.broker_config import add_broker_config
from edge.cli.calibrate import add_calibrate
from edge.cli.exit_codes import EXIT_OK, CommandFailed
from edge.cli.probe import add_probe
from edge.cli.run import add_run
from edge.cli.send_command import add_send_command
from edge.cli.simulate import add_simulate
from edge.version import add_version_argument

COMMANDS: list[tuple[str, Callable[[argparse._SubParsersAction], None]]] = [
    ("run", add_run),
    ("simulate", add_simulate),
    ("probe", add_probe),
    ("calibrate", add_calibrate),
    ("broker-config", add_broker_config),
    ("send-command", add_send_command),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sspinn-edge", description="SSPINNpose edge device: sensors, model, MQTT."
    )
    add_version_argument(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for _name, add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except CommandFailed as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return EXIT_OK
