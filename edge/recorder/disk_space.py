"""Free disk space for the recorder: checked at start and, at most every few seconds,
on the writer thread; below the limit recording stops with a clear reason."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def default_free_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path``."""
    return shutil.disk_usage(path).free


class DiskSpaceGuard:
    """Says when ``directory`` has less than ``min_free_mb`` free.

    Args:
        directory: the recordings folder.
        min_free_mb: the limit (MB).
        interval_s: :meth:`check` looks at the disk at most this often (s); 0: always.
        free_bytes: ``f(path) -> free bytes`` (injectable for tests).
    """

    def __init__(
        self,
        directory: Path,
        min_free_mb: float,
        interval_s: float,
        free_bytes: Callable[[Path], int] | None = None,
    ) -> None:
        self.directory = directory
        self.min_free_bytes = int(min_free_mb * 1e6)
        self.interval_s = interval_s
        self._free_bytes = free_bytes or default_free_bytes
        self._last = -math.inf

    def reason_now(self) -> str | None:
        """Look now: the reason recording cannot go on, or None (OSError if unreadable)."""
        self._last = time.monotonic()
        free = self._free_bytes(self.directory)
        if free >= self.min_free_bytes:
            return None
        return (
            f"disk nearly full: {free / 1e6:.0f} MB free in {self.directory}, "
            f"below min_free_mb {self.min_free_bytes / 1e6:g}; recording stopped"
        )

    def check(self, force: bool = False) -> str | None:
        """Like :meth:`reason_now`, at most every ``interval_s`` unless ``force``; an
        unreadable disk is logged and passes."""
        if not force and time.monotonic() - self._last < self.interval_s:
            return None
        try:
            return self.reason_now()
        except OSError as exc:
            log.warning("cannot check free space: %s", exc)
            return None
