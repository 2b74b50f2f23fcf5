"""A capture of raw (uncalibrated) samples from the running loop, for a command thread.

The command thread creates a :class:`RawCapture` through
:meth:`edge.daemon.loop.EstimationLoop.request_capture` and waits on it; the loop adds
one sample per tick until it is full. The hand-over is a single reference assignment,
so the loop's hot path needs no lock.
"""

from __future__ import annotations

import threading

import numpy as np


class RawCapture:
    """``n_samples`` raw samples of every sensor.

    Attributes:
        data: (n_samples, S, 6) acc xyz (m/s²) and gyr xyz (rad/s); NaN until filled.
        filled: samples added so far.
    """

    def __init__(self, n_samples: int, n_sensors: int) -> None:
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        self.data = np.full((n_samples, n_sensors, 6), np.nan)
        self.filled = 0
        self._done = threading.Event()

    @property
    def full(self) -> bool:
        return self._done.is_set()

    def add(self, sample: np.ndarray) -> bool:
        """Copy one (S, 6) sample (the loop's thread); True once the capture is full."""
        i = self.filled
        if i < len(self.data):
            self.data[i] = sample
            self.filled = i + 1
            if i + 1 == len(self.data):
                self._done.set()
        return self._done.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Block until full or ``timeout_s`` (s) passes; True when full."""
        return self._done.wait(timeout_s)
