"""The exit codes of every ``sspinn-edge`` command, and the error that carries one."""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEM = 1  # the command ran and found a problem (missing sensor, not still, ...)
EXIT_USAGE = 2  # cannot run: no I2C bus, bad config, unknown recording


class CommandFailed(Exception):
    """A command that cannot go on: ``main`` prints the message on stderr and exits ``code``.

    Args:
        message: what went wrong and, where it helps, what to do (may span lines).
        code: the exit code (:data:`EXIT_USAGE` unless said otherwise).
    """

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code
