"""What the recorder's hot path asks its writer thread to do: one dataclass per command,
queued in order (the writer dispatches on the type)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, slots=True)
class OpenSegment:
    """Start segment ``name`` (number ``seq``) in ``session``.

    Attributes:
        wall: Unix time at the segment's first sample (s), for names and sidecars.
        t0: the first sample's time (s, sampler clock).
        note: the session's note, kept in the sidecar.
    """

    session: Path
    name: str
    seq: int
    wall: float
    t0: float
    note: str | None


@dataclass(frozen=True, slots=True)
class WriteRows:
    """Write the first ``n`` rows of a block: times (N,) s and values (N, S, 6)."""

    block: tuple[np.ndarray, np.ndarray]
    n: int


@dataclass(frozen=True, slots=True)
class CloseSegment:
    """Close the open segment (fsync, rename ``.csv.part`` → ``.csv``)."""


@dataclass(frozen=True, slots=True)
class Sync:
    """Set ``done`` once everything queued before it is done."""

    done: threading.Event


@dataclass(frozen=True, slots=True)
class Exit:
    """Close the open segment and end the writer thread."""


WriterCommand = OpenSegment | WriteRows | CloseSegment | Sync | Exit
