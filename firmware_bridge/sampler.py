"""Fixed-rate loop on a monotonic clock, scheduled by absolute deadlines.

Tick k is due at ``t0 + k·T`` with ``T`` an exact rational number of nanoseconds, so
wake-up latency and work time never accumulate: after an hour the k-th deadline is
exactly where it should be (no drift). When the work of a tick ends after the next
deadline that is an *overrun*; deadlines already in the past are skipped (counted in
``skipped``), never executed in a burst, so every executed tick starts close to its
own deadline and ``Tick.index`` reveals the gap.

Jitter = start − deadline (how late a tick started), kept in a 1-µs histogram so an
hour at 400 Hz costs no memory growth and percentiles are exact to 1 µs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from firmware_bridge.clock import Clock, SystemClock

MAX_RATE_HZ = 1000.0


@dataclass(frozen=True, slots=True)
class Tick:
    """One scheduled sample: its index k, due time and actual start (clock ns)."""

    index: int
    scheduled_ns: int
    start_ns: int

    @property
    def lateness_ns(self) -> int:
        return self.start_ns - self.scheduled_ns


class LatencyHistogram:
    """Streaming histogram with 1-µs bins up to ``max_us`` (larger values go in the last)."""

    def __init__(self, max_us: int = 100_000) -> None:
        self.counts = np.zeros(max_us + 1, dtype=np.int64)
        self.max_ns = 0
        self.n = 0
        self._cap = max_us

    def add(self, value_ns: int) -> None:
        if value_ns < 0:
            value_ns = 0
        us = value_ns // 1000
        self.counts[us if us < self._cap else self._cap] += 1
        if value_ns > self.max_ns:
            self.max_ns = value_ns
        self.n += 1

    def percentile_us(self, q: float) -> float:
        if self.n == 0:
            return float("nan")
        target = q / 100.0 * self.n
        idx = int(np.searchsorted(np.cumsum(self.counts), max(target, 1), side="left"))
        return float(idx)

    def reset(self) -> None:
        self.counts[:] = 0
        self.max_ns = 0
        self.n = 0


@dataclass(frozen=True, slots=True)
class SamplerStats:
    """Summary of a run (times in µs unless the name says otherwise)."""

    rate_hz: float
    ticks: int
    overruns: int
    skipped: int
    jitter_p50_us: float
    jitter_p99_us: float
    jitter_max_us: float
    work_p50_us: float
    work_p99_us: float
    work_max_us: float
    elapsed_s: float
    achieved_rate_hz: float  # (ticks − 1) / (last start − first start)
    last_index: int
    last_start_offset_us: float  # last start − (t0 + last_index·T): stays within the jitter

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


class FixedRateSampler:
    """Calls ``callback(tick)`` at ``rate_hz`` until stopped.

    Args:
        rate_hz: sample rate (default 100 Hz, up to ``MAX_RATE_HZ``).
        clock: monotonic clock (``SimulatedClock`` in tests: an hour in seconds).
    """

    def __init__(self, rate_hz: float = 100.0, clock: Clock | None = None) -> None:
        if not 0 < rate_hz <= MAX_RATE_HZ:
            raise ValueError(f"rate_hz must be in (0, {MAX_RATE_HZ:g}], got {rate_hz}")
        self.rate_hz = float(rate_hz)
        self.clock = clock or SystemClock()
        rate = Fraction(rate_hz).limit_denominator(1_000_000)
        # deadline_k = t0 + k * 1e9 / rate = t0 + (k * _num) // _den  (exact integers)
        self._num = 1_000_000_000 * rate.denominator
        self._den = rate.numerator
        self.jitter = LatencyHistogram()
        self.work = LatencyHistogram()
        self.ticks = 0
        self.overruns = 0
        self.skipped = 0
        self._t0 = 0
        self._last_index = -1
        self._stop = threading.Event()
        self._started_ns = 0
        self._ended_ns = 0
        self._first_start = 0
        self._last_start = 0

    def period_ns(self) -> float:
        return self._num / self._den

    def deadline_ns(self, k: int) -> int:
        """Due time of tick ``k`` (ns on the clock) for the current run."""
        return self._t0 + (k * self._num) // self._den

    def stop(self) -> None:
        """Ask a running :meth:`run` to return after the current tick (thread-safe)."""
        self._stop.set()

    def run(
        self,
        callback: Callable[[Tick], object],
        *,
        n_ticks: int | None = None,
        duration_s: float | None = None,
        start_ns: int | None = None,
    ) -> SamplerStats:
        """Run until ``n_ticks`` ticks were due, ``duration_s`` elapsed, or :meth:`stop`.

        Args:
            callback: the work of one tick (read the sensors, publish, ...).
            start_ns: deadline of tick 0 (default: now).
        """
        clock = self.clock
        self._stop.clear()
        self._t0 = clock.monotonic_ns() if start_ns is None else start_ns
        self._started_ns = self._t0
        last_k = None
        if n_ticks is not None:
            last_k = n_ticks - 1
        if duration_s is not None:
            k_dur = (int(duration_s * 1e9) * self._den) // self._num - 1
            last_k = k_dur if last_k is None else min(last_k, k_dur)
        num, den, t0 = self._num, self._den, self._t0
        jitter_add, work_add = self.jitter.add, self.work.add
        stop = self._stop
        k = 0
        while (last_k is None or k <= last_k) and not stop.is_set():
            deadline = t0 + (k * num) // den
            clock.sleep_until_ns(deadline)
            start = clock.monotonic_ns()
            jitter_add(start - deadline)
            if not self.ticks:
                self._first_start = start
            callback(Tick(k, deadline, start))
            end = clock.monotonic_ns()
            work_add(end - start)
            self.ticks += 1
            self._last_start = start
            self._last_index = k
            k += 1
            next_deadline = t0 + (k * num) // den
            if end > next_deadline:
                self.overruns += 1
                # first deadline strictly after `end`
                k_next = ((end - t0) * den) // num + 1
                self.skipped += (k_next if last_k is None else min(k_next, last_k + 1)) - k
                k = k_next
        self._ended_ns = clock.monotonic_ns()
        return self.stats()

    def stats(self) -> SamplerStats:
        elapsed = (self._ended_ns - self._started_ns) / 1e9
        span = self._last_start - self._first_start
        j, w = self.jitter, self.work
        return SamplerStats(
            rate_hz=self.rate_hz,
            ticks=self.ticks,
            overruns=self.overruns,
            skipped=self.skipped,
            jitter_p50_us=j.percentile_us(50),
            jitter_p99_us=j.percentile_us(99),
            jitter_max_us=j.max_ns / 1e3,
            work_p50_us=w.percentile_us(50),
            work_p99_us=w.percentile_us(99),
            work_max_us=w.max_ns / 1e3,
            elapsed_s=elapsed,
            achieved_rate_hz=(self.ticks - 1) * 1e9 / span if span > 0 else float("nan"),
            last_index=self._last_index,
            last_start_offset_us=(self._last_start - self.deadline_ns(self._last_index)) / 1e3,
        )
