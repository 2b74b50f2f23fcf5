"""Monotonic clocks: the real one and a simulated one (an hour runs in a second).

Everything that waits or time-stamps takes a :class:`Clock`, so tests can replace wall
time. Times are integer nanoseconds (``time.monotonic_ns``) to keep long runs exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import numpy as np


class Clock(Protocol):
    """What the sampler, the acquisition and the emulated chips need from a clock."""

    def monotonic_ns(self) -> int:
        """Current monotonic time (ns)."""
        ...

    def sleep_until_ns(self, deadline_ns: int) -> None:
        """Block until ``deadline_ns`` (returns at once when it has passed)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        ...


class SystemClock:
    """``time.monotonic_ns`` and ``time.sleep``: what runs on the Pi."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def sleep_until_ns(self, deadline_ns: int) -> None:
        remaining = deadline_ns - time.monotonic_ns()
        if remaining > 0:
            time.sleep(remaining / 1e9)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """A clock that only moves when told to (``advance``) or when something sleeps on it.

    ``wake_latency_ns`` models the operating system waking a sleeper late: it is added
    to every ``sleep_until_ns``. Pass an int for a constant latency or use
    :meth:`with_random_latency` for a seeded, cycled random sequence (no per-call RNG).
    """

    def __init__(self, start_ns: int = 0, wake_latency_ns: int | Callable[[], int] = 0) -> None:
        self._now = int(start_ns)
        if callable(wake_latency_ns):
            self._latency: Callable[[], int] = wake_latency_ns
        else:
            constant = int(wake_latency_ns)
            self._latency = lambda: constant

    @classmethod
    def with_random_latency(
        cls, mean_us: float, sd_us: float, seed: int = 0, start_ns: int = 0, table: int = 8192
    ) -> SimulatedClock:
        """Wake latencies ~ |N(mean, sd)| µs from a seeded table cycled forever."""
        rng = np.random.default_rng(seed)
        values = np.abs(rng.normal(mean_us, sd_us, size=table)) * 1e3
        latencies = [int(v) for v in values]
        state = {"i": 0}

        def next_latency() -> int:
            i = state["i"]
            state["i"] = (i + 1) % table
            return latencies[i]

        return cls(start_ns=start_ns, wake_latency_ns=next_latency)

    def monotonic_ns(self) -> int:
        return self._now

    def advance_ns(self, dt_ns: int) -> None:
        """Move time forward by ``dt_ns`` (work being done, bus time, ...)."""
        if dt_ns > 0:
            self._now += int(dt_ns)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.advance_ns(round(seconds * 1e9))

    def sleep_until_ns(self, deadline_ns: int) -> None:
        if deadline_ns > self._now:
            self._now = deadline_ns
        self._now += self._latency()

    def sleep(self, seconds: float) -> None:
        self.sleep_until_ns(self._now + round(seconds * 1e9))
