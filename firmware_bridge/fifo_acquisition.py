"""FIFO-driven acquisition: the chips sample on their own clocks, the host drains bursts.

Each chip fills its FIFO at its output data rate; :meth:`FifoAcquisition.frames` (called
every few ms) drains every FIFO, time-stamps the samples on the host clock through one
:class:`firmware_bridge.chip_clock.ChipClock` per chip (drift corrected) and yields
frames on ONE time base: grid point ``n`` at host time ``t0 + n / rate_hz``, each
sensor linearly interpolated between its two chip samples around that instant (the
nearer one when the other was lost). A late host only means larger bursts: nothing is
lost while the FIFOs hold the backlog (MPU-6050: 73 samples, LSM6DSOX: ~200), and the
frames come out in order.

Overflow (the host stalled longer than a FIFO holds): the driver flushes the FIFO; the
samples read afterwards are placed on the chip's sample index by the clock model, so the
number of samples lost is exact (``SensorHealth.samples_lost``), and the grid points
that have no sample within half a period are NaN with ``Quality.MISSING``: a gap, never a
silent splice.

Faults: a failed FIFO read costs nothing (the samples stay in the FIFO; retried at the
next drain); after ``missing_after`` drains in a row without an answer, or a sensor
whose FIFO stops filling, WHO_AM_I and the configuration are read back, and only a chip
that lost its state (or stays silent) is re-initialised (the :class:`Acquisition`
state machine: backoff, ``bus_recovery``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from firmware_bridge.acquisition import (
    Acquisition,
    AcquisitionSettings,
    Frame,
    Quality,
    SensorState,
    _Slot,
)
from firmware_bridge.bus import LockedBus
from firmware_bridge.chip_clock import ChipClock
from firmware_bridge.clock import Clock
from firmware_bridge.errors import BusError, HardwareError
from firmware_bridge.sensor_map import SensorMap

log = logging.getLogger(__name__)

RING = 2048  # samples kept per sensor (power of two)
BURST = 320  # most samples one drain can return (LSM6DSOX: 512 words)
RESOLVE_S = 0.05  # how long to wait for an unambiguous gap count before estimating it


@dataclass(slots=True)
class _Stream:
    """One chip's sample stream since its FIFO was (re-)enabled."""

    clock: ChipClock
    data: np.ndarray = field(default_factory=lambda: np.full((RING, 6), np.nan))
    temp: np.ndarray = field(default_factory=lambda: np.full(RING, np.nan))
    valid: np.ndarray = field(default_factory=lambda: np.zeros(RING, dtype=bool))
    first_k: int = 0  # oldest index still kept
    next_k: int = 0  # index the next sample out of the FIFO will have
    gap_from: int | None = None  # overflow: first index lost, until resolved
    limbo: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    limbo_n: int = 0
    limbo_since_ns: int = 0  # host time of the overflow
    last_new_ns: int = 0  # host time the last sample arrived
    bad_drains: int = 0  # drains in a row that failed
    bad_since_ns: int = 0

    def put(self, block: np.ndarray, temps: np.ndarray, k0: int) -> None:
        """Samples ``k0 …`` (segment axes) into the ring."""
        idx = np.arange(k0, k0 + len(block)) & (RING - 1)
        self.data[idx] = block
        self.temp[idx] = temps
        self.valid[idx] = True

    def mark_lost(self, k0: int, k1: int) -> None:
        idx = np.arange(max(k0, k1 - RING), k1) & (RING - 1)
        self.valid[idx] = False


class FifoAcquisition(Acquisition):
    """All sensors drained from their FIFOs onto one time base.

    Args:
        bus, sensor_map, clock, settings, bus_recovery: as :class:`Acquisition`
            (``settings.odr_hz`` is the output data rate the chips are set to).
        rate_hz: the frame rate of the common time base (default ``settings.odr_hz``).
        max_wait_s: a frame waits at most this long for a late sensor, which is then NaN
            (0.25 s: a lock-up cleared by ``bus_recovery`` within 0.2 s costs nothing).
        stall_s: a sensor whose FIFO brings nothing for this long is checked.
        give_up_s: a sensor that does not answer for this long (its FIFO holds 0.73 s
            and more) is missing and re-initialised; until then nothing is lost.
    """

    def __init__(
        self,
        bus: LockedBus,
        sensor_map: SensorMap,
        *,
        clock: Clock | None = None,
        settings: AcquisitionSettings | None = None,
        bus_recovery: Callable[[], None] | None = None,
        rate_hz: float | None = None,
        max_wait_s: float = 0.25,
        stall_s: float = 0.1,
        give_up_s: float = 0.5,
    ) -> None:
        super().__init__(bus, sensor_map, clock=clock, settings=settings, bus_recovery=bus_recovery)
        self.rate_hz = float(rate_hz or self.settings.odr_hz)
        self.period_ns = 1e9 / self.rate_hz
        self.max_wait_ns = int(max_wait_s * 1e9)
        self.stall_ns = int(stall_s * 1e9)
        self.give_up_ns = int(give_up_s * 1e9)
        self._streams: list[_Stream | None] = [None] * len(self._slots)
        self._burst = np.empty((BURST, 6))
        self._burst_t = np.empty(BURST)
        self.t0_ns: int | None = None  # host time of grid point 0
        self._grid_wait_ns: int | None = None
        self.next_index = 0  # the next grid point to emit
        self.drains = 0

    # ---- set-up ---------------------------------------------------------------------
    def _on_ready(self, slot: _Slot, now: int) -> None:
        i = self._slots.index(slot)
        try:
            slot.driver.enable_fifo()
        except BusError as exc:
            self._on_bus_error(slot, exc)
            self._fail(slot, exc, now)
            self._streams[i] = None
            return
        cfg = slot.driver.config
        assert cfg is not None
        stream = _Stream(ChipClock(1e9 / cfg.odr_hz))
        stream.last_new_ns = now
        self._streams[i] = stream

    def _fail(self, slot: _Slot, exc: Exception | None, now: int, stuck: bool = False) -> None:
        super()._fail(slot, exc, now, stuck)
        if hasattr(self, "_streams"):
            self._streams[self._slots.index(slot)] = None

    def read(self) -> Frame:  # pragma: no cover - guard
        raise TypeError("FifoAcquisition yields frames from frames(), not read()")

    # ---- draining -------------------------------------------------------------------
    def drain(self) -> None:
        """Read every FIFO once; service sensors that are missing."""
        now = self.clock.monotonic_ns()
        self.drains += 1
        for i, slot in enumerate(self._slots):
            stream = self._streams[i]
            if stream is None:
                if slot.health.state is not SensorState.OK:
                    self._service(slot, now)
                if slot.health.state is SensorState.OK and self._streams[i] is None:
                    # back without re-initialisation (after a lock-up)
                    self._on_ready(slot, now)  # a new stream
                continue
            self._drain_one(i, slot, stream)

    def _drain_one(self, i: int, slot: _Slot, stream: _Stream) -> None:
        drv = slot.driver
        h = slot.health
        t_pre = self.clock.monotonic_ns()
        try:
            try:
                level, overflowed = drv.fifo_level()
            except BusError as exc:
                if exc.is_lockup:
                    raise
                self._on_bus_error(slot, exc)
                t_pre = self.clock.monotonic_ns()
                level, overflowed = drv.fifo_level()  # immediate retry
            t_post = self.clock.monotonic_ns()
            n = 0
            if level:
                try:
                    n = drv.read_fifo(self._burst, self._burst_t, level)
                except BusError as exc:
                    if exc.is_lockup:
                        raise
                    self._on_bus_error(slot, exc)
                    n = drv.read_fifo(self._burst, self._burst_t, level)
                    h.retried_ok += 1
        except BusError as exc:
            self._on_bus_error(slot, exc)
            self._drain_failed(slot, stream, exc, t_pre)
            return
        stream.bad_drains = 0
        if n:
            block = self._burst[:n]
            slot.config.mounting.to_segment(block.copy(), block)
            h.reads += n
            stream.last_new_ns = t_post
        if overflowed:
            stream.last_new_ns = t_post
            if stream.next_k == 0 or stream.clock.n < 2:  # nothing read yet: no gap to
                stream.clock.reset()  # count, the stream starts with the next sample
                stream.next_k = stream.first_k = 0
                stream.gap_from = None
                log.info("%s: FIFO overflowed before its first drain", h.name)
                return
            if stream.gap_from is None:
                stream.gap_from = stream.next_k
            stream.limbo.clear()
            stream.limbo_n = 0
            stream.limbo_since_ns = t_post
            log.warning("%s (%s): FIFO overflow (the host was late)", h.name, h.where)
            return
        if stream.gap_from is not None:
            if n:
                stream.limbo.append((self._burst[:n].copy(), self._burst_t[:n].copy()))
                stream.limbo_n += n
            self._resolve_gap(slot, stream, t_pre, t_post)
            return
        if n:
            stream.put(self._burst[:n], self._burst_t[:n], stream.next_k)
            stream.next_k += n
        if stream.next_k:
            stream.clock.observe(stream.next_k - 1, t_pre, t_post)
        if t_post - stream.last_new_ns > self.stall_ns:
            self._stalled(slot, stream, t_post)

    def _resolve_gap(self, slot: _Slot, stream: _Stream, t_pre: int, t_post: int) -> None:
        """Place the samples read since an overflow on the chip's sample index."""
        assert stream.gap_from is not None
        if stream.limbo_n == 0:
            if t_post - stream.last_new_ns > self.stall_ns:
                self._stalled(slot, stream, t_post)
            return
        newest = stream.clock.newest_index(t_pre, t_post)
        estimated = False
        if newest is None:
            if t_post - stream.limbo_since_ns < RESOLVE_S * 1e9:
                return
            newest = math.floor((t_post - stream.clock.time_ns(0)) / stream.clock.period_ns)
            estimated = True
        first = newest - stream.limbo_n + 1
        lost = first - stream.gap_from
        if lost < 0:  # the model contradicts the counts: keep the samples, count nothing
            log.error("%s: gap count %d is impossible; model reset", slot.health.name, lost)
            first, lost = stream.gap_from, 0
            stream.clock.reset()
        stream.mark_lost(stream.gap_from, first)
        k = first
        for block, temps in stream.limbo:
            stream.put(block, temps, k)
            k += len(block)
        stream.next_k = k
        stream.gap_from = None
        stream.limbo.clear()
        stream.limbo_n = 0
        slot.health.samples_lost += lost
        stream.clock.observe(k - 1, t_pre, t_post)
        log.warning(
            "%s (%s): %d samples lost to the FIFO overflow%s",
            slot.health.name,
            slot.health.where,
            lost,
            " (estimated: the clock phase was ambiguous)" if estimated else "",
        )

    def _drain_failed(self, slot: _Slot, stream: _Stream, exc: BusError, now: int) -> None:
        """The FIFO did not answer (NACK, or a lock-up already handed to ``bus_recovery``):
        its samples wait there; check the chip if it persists."""
        slot.health.last_error = str(exc)
        if stream.bad_drains == 0:
            stream.bad_since_ns = now
        stream.bad_drains += 1
        if stream.bad_drains % self.settings.missing_after == 0:
            self._verify(slot, stream, now, exc)

    def _stalled(self, slot: _Slot, stream: _Stream, now: int) -> None:
        """No new sample for ``stall_s``: a chip that lost its state (brown-out) stops
        filling its FIFO."""
        self._verify(slot, stream, now, None)
        stream.last_new_ns = now

    def _verify(self, slot: _Slot, stream: _Stream, now: int, exc: BusError | None) -> None:
        slot.health.state_checks += 1
        try:
            problem = slot.driver.verify_state()
        except BusError as exc2:
            self._on_bus_error(slot, exc2)
            if stream.bad_drains and now - stream.bad_since_ns >= self.give_up_ns:
                self._fail(slot, exc2, now)  # silent for longer than its FIFO could hold
            return
        if problem is not None:
            self._fail(slot, HardwareError(f"{slot.health.name} lost its state: {problem}"), now)
            slot.next_attempt_ns = now
        elif exc is None:
            log.warning("%s: FIFO brings no samples, configuration intact", slot.health.name)

    # ---- the common time base -------------------------------------------------------
    def _start_grid(self, now: int) -> bool:
        """Grid point 0: the latest first-sample time among the running sensors; a sensor
        that is not ready ``max_wait_s`` after the first one is left out (NaN until it is)."""
        t0 = None
        waiting = False
        for stream in self._streams:
            if stream is None:
                continue
            if stream.next_k < 2 or stream.gap_from is not None:
                waiting = True
                continue
            t = stream.clock.time_ns(stream.first_k)
            t0 = t if t0 is None else max(t0, t)
        if t0 is None:
            return False
        if waiting:
            if self._grid_wait_ns is None:
                self._grid_wait_ns = now
            if now - self._grid_wait_ns < self.max_wait_ns:
                return False
        self.t0_ns = math.ceil(t0)
        return True

    def frames(self) -> Iterator[Frame]:
        """Drain all FIFOs, then yield every grid frame that is complete, in order.

        The yielded :class:`Frame` is one preallocated object (``index``: grid point,
        ``t_ns``: its host time), overwritten by the next: use it before advancing.
        """
        now = self.clock.monotonic_ns()  # what the drain can have seen
        self.drain()
        if self.t0_ns is None and not self._start_grid(now):
            return
        while True:
            assert self.t0_ns is not None
            g = self.t0_ns + self.next_index * self.period_ns
            late = now - g > self.max_wait_ns
            if g > now or not (late or self._all_ready(g)):
                return
            self._fill(g)
            self.frame.t_ns = int(g)
            self.frame.index = self.next_index
            self.next_index += 1
            self.samples += 1
            yield self.frame

    def _all_ready(self, g: float) -> bool:
        for stream in self._streams:
            if stream is None:
                continue
            if stream.gap_from is not None:
                return False
            c = stream.clock
            if stream.next_k == 0 or c.time_ns(stream.next_k - 1) < g:
                return False
        return True

    def _fill(self, g: float) -> None:
        frame = self.frame
        for i, slot in enumerate(self._slots):
            stream = self._streams[i]
            row = self._rows[i]
            ok = False
            if stream is not None and stream.next_k:
                c = stream.clock
                x = (g - c.time_ns(0)) / c.period_ns  # fractional sample index at g
                k0 = math.floor(x)
                f = x - k0
                if stream.first_k <= k0 < stream.next_k:
                    j0, j1 = k0 & (RING - 1), (k0 + 1) & (RING - 1)
                    v0, v1 = stream.valid[j0], k0 + 1 < stream.next_k and stream.valid[j1]
                    if v0 and v1:  # linear interpolation between the chip samples
                        np.multiply(stream.data[j0], 1.0 - f, out=row)
                        row += f * stream.data[j1]
                        frame.temp_c[i] = stream.temp[j0]
                        ok = True
                    elif (v0 and f <= 0.5) or (v1 and f > 0.5):  # the neighbour was lost
                        j = j0 if v0 else j1
                        row[:] = stream.data[j]
                        frame.temp_c[i] = stream.temp[j]
                        ok = True
                    stream.first_k = max(stream.first_k, k0 - 1)
            if ok:
                frame.quality[i] = 0
            else:
                row.fill(np.nan)
                frame.temp_c[i] = np.nan
                frame.quality[i] = Quality.MISSING
                slot.health.missing_samples += 1
            frame.ok[i] = ok

    def clock_report(self) -> dict[str, dict[str, float]]:
        """Per sensor: estimated drift (ppm) and phase uncertainty (µs)."""
        out = {}
        for slot, stream in zip(self._slots, self._streams, strict=True):
            if stream is not None:
                out[slot.health.name] = {
                    "drift_ppm": round(stream.clock.drift_ppm, 2),
                    "phase_width_us": round(stream.clock.phase_width_ns / 1e3, 1),
                }
        return out
