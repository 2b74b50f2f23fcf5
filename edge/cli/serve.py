"""Running a daemon from a command line: signals stop it cleanly, it is always closed."""

from __future__ import annotations

import logging
import signal
import sys
from typing import TYPE_CHECKING

from edge.cli.exit_codes import CommandFailed

if TYPE_CHECKING:
    from edge.daemon import Daemon

log = logging.getLogger(__name__)


def serve(daemon: Daemon, duration_s: float | None) -> dict:
    """Run ``daemon`` (``duration_s`` s, or until SIGINT/SIGTERM); returns sampler stats."""

    def stop(signum, frame):  # type: ignore[no-untyped-def]
        log.info("signal %d: stopping", signum)
        daemon.stop()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            problems = daemon.start()
        except (OSError, ValueError, RuntimeError) as exc:  # TLS files, recorder folder, ...
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise CommandFailed(f"error: cannot start: {text}") from None
        for name, why in problems.items():
            print(f"warning: sensor {name} not available: {why}", file=sys.stderr)
        stats = daemon.run(duration_s=duration_s)
    finally:
        daemon.close()
        for s, handler in old.items():
            signal.signal(s, handler)
    return stats
