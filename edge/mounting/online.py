"""The functional calibration on the device: rule (d) of :mod:`edge.mounting.rule`.

:class:`LiveFunctional` copies the loop's samples into a preallocated window (one row
copy per sample, nothing else on the sampling thread); when ``window_s`` seconds are
buffered, a background thread runs :func:`edge.mounting.estimate_functional` on them
(~0.1 s for 20 s of 7 sensors on an x86 core) and hands the result to ``on_result``.
Too little gait in a window (standing, turning, missing samples) is no error: the next
window is collected and tried, until one succeeds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edge.mounting.apply import Mounting
from edge.mounting.functional import estimate_functional
from edge.mounting.settings import FunctionalSettings, InsufficientGaitError
from edge.recording import Recording, Sidecar

log = logging.getLogger(__name__)


class LiveFunctional:
    """Collect a window of samples on the loop, estimate the mounting off it.

    Args:
        sidecar: what the recording of these samples would say (participant, sensor
            placements); its ``calibration`` is ignored.
        sensors: the names of the rows of each observed (S, 6) sample.
        rate_hz: the sample rate.
        window_s: seconds of samples per attempt.
        on_result: called (from the worker thread) with the estimate.
        settings: functional-calibration settings (default ones when None).
    """

    def __init__(
        self,
        sidecar: Sidecar,
        sensors: Sequence[str],
        rate_hz: float,
        window_s: float,
        on_result: Callable[[Mounting], None],
        settings: FunctionalSettings | None = None,
    ) -> None:
        self.sensors = tuple(sensors)
        self.rate_hz = float(rate_hz)
        self.window_s = float(window_s)
        n = max(2, round(window_s * rate_hz))
        self._meta = sidecar.model_copy(
            update={
                "sample_period_s": 1.0 / rate_hz,
                "calibration": None,
                "samples_per_cycle": None,
                "cycle_duration_s": None,
            }
        )
        self._buf = np.full((n, len(self.sensors), 6), np.nan)
        self._time = np.arange(n, dtype=np.float64) / rate_hz
        self._n = 0
        self._collecting = False
        self._busy = False
        self._on_result = on_result
        self._settings = settings
        self._thread: threading.Thread | None = None
        self.attempts = 0
        self.last_error: str | None = None
        self.result: Mounting | None = None

    @property
    def collecting(self) -> bool:
        return self._collecting

    def start(self) -> None:
        """Collect (from an empty window) until an estimate succeeds or :meth:`stop`."""
        if not self._collecting:
            self._n = 0
            self._collecting = True

    def stop(self) -> None:
        """Stop collecting (an attempt already running still finishes)."""
        self._collecting = False

    def observe(self, row: np.ndarray) -> None:
        """Hot path: copy one (S, 6) sample into the window; start an attempt when full."""
        if not self._collecting or self._busy:
            return
        self._buf[self._n] = row
        self._n += 1
        if self._n == self._buf.shape[0]:
            self._busy = True  # the window is the worker's until it finishes
            self._thread = threading.Thread(
                target=self._attempt, name="mounting-functional", daemon=True
            )
            self._thread.start()

    def _attempt(self) -> None:
        self.attempts += 1
        result: Mounting | None = None
        try:
            rec = Recording(self._time, self.sensors, self._buf, self._meta)
            result = estimate_functional(rec, settings=self._settings)
        except InsufficientGaitError as exc:
            self.last_error = str(exc)
            log.info("functional mounting estimate: not yet (%s); trying the next window", exc)
        except Exception as exc:  # never take the device down: report and keep trying
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("functional mounting estimate failed")
        if result is not None:
            self.last_error = None
            self.result = result
            self._collecting = False
        self._n = 0
        self._busy = False  # the window is free again (collected anew on a failure)
        if result is not None:
            try:
                self._on_result(result)
            except Exception:
                log.exception("functional mounting result could not be applied")

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for a running attempt (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def status(self) -> dict[str, Any]:
        """``state`` (collecting | estimating | done | idle), seconds buffered of the
        window, attempts so far and the last reason an attempt gave no estimate."""
        if self._busy:
            state = "estimating"
        elif self._collecting:
            state = "collecting"
        else:
            state = "done" if self.result is not None else "idle"
        return {
            "state": state,
            "buffered_s": round(self._n / self.rate_hz, 2),
            "window_s": self.window_s,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }
