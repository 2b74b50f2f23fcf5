"""One open segment's files: ``NAME.json`` (sidecar) and ``NAME.csv.part`` (rows),
closed into ``NAME.csv`` by an fsync and an atomic rename.

Used by the recorder's writer thread only (not thread-safe). The sidecar is written
exactly as :func:`edge.recording.write_recording` writes it, so a closed segment is a
recording like any other.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np

from edge.recorder.recovery import PART_SUFFIX
from edge.recording import Sidecar
from edge.recording.csv_io import atomic_write, format_rows, fsync_dir

log = logging.getLogger(__name__)


def utc_stamp(unix_s: float) -> str:
    """``20260131T120000Z`` (file names)."""
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y%m%dT%H%M%SZ")


def utc_iso(unix_s: float) -> str:
    """ISO 8601 UTC with milliseconds (sidecars)."""
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="milliseconds")


def sidecar_text(meta: Sidecar) -> str:
    """The sidecar exactly as :func:`edge.recording.write_recording` writes it."""
    return json.dumps(meta.model_dump(mode="json", exclude_none=True), indent=2) + "\n"


class SegmentWriter:
    """Writes one segment at a time.

    Args:
        columns: the CSV header (``time_s`` then the IMU columns).
        fsync_interval_s: the open segment is fsync'd this often (s); 0: every write.
    """

    def __init__(self, columns: list[str], fsync_interval_s: float) -> None:
        self.columns = columns
        self.fsync_interval_s = fsync_interval_s
        self._fh: IO[str] | None = None
        self._part: Path | None = None
        self._meta: Sidecar | None = None
        self.rows = 0
        self._last_fsync = 0.0

    @property
    def is_open(self) -> bool:
        return self._fh is not None

    @property
    def part_path(self) -> Path | None:
        """The open segment's ``.csv.part``, or None."""
        return self._part if self._fh is not None else None

    def open(self, folder: Path, name: str, meta: Sidecar) -> None:
        """Write the sidecar and the header, both synced to the card (OSError on failure)."""
        self.abandon()
        atomic_write(folder / f"{name}.json", [sidecar_text(meta)])
        part = folder / f"{name}{PART_SUFFIX}"
        fh = open(part, "w", encoding="utf-8", newline="", buffering=1 << 16)  # noqa: SIM115
        fh.write(",".join(self.columns) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
        fsync_dir(folder)
        self._fh, self._part, self._meta, self.rows = fh, part, meta, 0
        self._last_fsync = time.monotonic()

    def write(self, times: np.ndarray, values: np.ndarray) -> None:
        """Append rows: times (N,) s and values (N, S, 6); flushed to the OS, fsync'd every
        ``fsync_interval_s``."""
        assert self._fh is not None, "no open segment"
        n = len(times)
        rows = np.concatenate([times[:, None], values.reshape(n, -1)], axis=1)
        rows[np.isinf(rows)] = np.nan  # the format allows NaN for missing, never inf
        self._fh.write(format_rows(rows))
        self._fh.flush()
        self.rows += n
        now = time.monotonic()
        if now - self._last_fsync >= self.fsync_interval_s:
            os.fsync(self._fh.fileno())
            self._last_fsync = now

    def close(self, end_unix_s: float) -> Path | None:
        """Close the segment: the final ``.csv`` path, or None when it held no rows (its
        files are removed) or none was open."""
        fh, part, meta = self._fh, self._part, self._meta
        if fh is None or part is None or meta is None:
            return None
        self._fh = None
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        final = part.with_name(part.name[: -len(PART_SUFFIX)] + ".csv")
        if self.rows == 0:  # nothing recorded: no empty segment files
            part.unlink(missing_ok=True)
            final.with_suffix(".json").unlink(missing_ok=True)
            return None
        device = dict(meta.device or {})
        device.update(n_samples=self.rows, end_utc=utc_iso(end_unix_s))
        atomic_write(
            final.with_suffix(".json"),
            [sidecar_text(meta.model_copy(update={"device": device}))],
        )
        os.replace(part, final)
        fsync_dir(final.parent)
        log.info("closed segment %s (%d samples)", final.name, self.rows)
        return final

    def abandon(self) -> None:
        """Leave the open segment as ``.part`` (after a write error) for recovery."""
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
