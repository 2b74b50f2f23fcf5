"""One 7-IMU sample: read every mapped sensor, cope with the ones that are not there.

Policy (see ``docs/acquisition.md``):

- A sensor that fails a read is retried once at once (a glitch on a long cable); if
  that fails too, this sample is missing (row NaN, quality ``MISSING``) and the sensor is
  *suspect*: before its next read, WHO_AM_I and the configuration are read back. Only a
  chip that really lost its state (a wrong WHO_AM_I or configuration) is re-initialised;
  one that reads back right just goes on. After ``missing_after`` samples in a row
  without an answer the sensor is missing.
- A missing sensor is re-initialised (probe → reset → configure: it may have lost power
  and its configuration) after an exponential backoff (50 ms, 100 ms, ... capped at 1 s).
  Re-initialisation runs as small steps, one per sample, so its waits (100 ms after an
  MPU-6050 reset) never block the sampler or the other sensors.
- A sensor whose output does not change for ``stuck_after`` samples (a chip that reset
  itself into sleep, a frozen part) is flagged ``STUCK`` and re-initialised.
- A bus lock-up (``ETIMEDOUT``: a device holds SDA low) calls ``bus_recovery`` (pulse
  the TCA9548A RESET pin, which disconnects the offending channel) when one is given.
  The other channels then work on; the locked channel's sensor is retried every
  ``lockup_retry_s`` (no backoff: each try costs one reset pulse). A lock-up does not
  reset the chip, so when WHO_AM_I answers again it resumes with its configuration,
  without a reset: back within ``lockup_retry_s`` of the device letting go of the bus.

Arrays are preallocated and overwritten on every :meth:`Acquisition.read`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from firmware_bridge.bus import LockedBus
from firmware_bridge.clock import Clock, SystemClock
from firmware_bridge.drivers import DRIVERS, BaseImuDriver
from firmware_bridge.errors import BusError, HardwareError, WiringError
from firmware_bridge.sensor_map import SensorConfig, SensorMap
from firmware_bridge.tca9548a import TCA9548A

log = logging.getLogger(__name__)


class Quality(enum.IntFlag):
    """Per-sensor, per-sample quality bits (0 = good)."""

    OK = 0
    MISSING = 1  # no value this sample: the row is NaN
    STUCK = 2  # output frozen; the row is NaN
    SATURATED = 4  # a channel at the range limit (value clipped, kept)
    RETRIED = 8  # value obtained on the immediate retry
    REINITIALIZED = 16  # first sample after the sensor came back (re-initialised)


class SensorState(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"
    INITIALIZING = "initializing"


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Delay before re-initialisation attempt n (n = 1, 2, ...): initial·factorⁿ⁻¹ ≤ max."""

    initial_s: float = 0.05
    factor: float = 2.0
    max_s: float = 1.0

    def delay_s(self, failures: int) -> float:
        return min(self.max_s, self.initial_s * self.factor ** max(failures - 1, 0))


@dataclass(frozen=True, slots=True)
class AcquisitionSettings:
    accel_range_g: int = 16
    gyro_range_dps: int = 2000
    odr_hz: float = 100.0
    dlpf_hz: float | None = None
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    stuck_after: int | None = 50  # identical samples before STUCK; None disables
    immediate_retry: bool = True
    healthy_after: int = 100  # good samples after which the backoff starts again at initial
    missing_after: int = 3  # samples in a row without an answer before the sensor is missing
    lockup_retry_s: float = 0.05  # retry period of a locked channel when bus_recovery is set

    def chip_config(self) -> dict[str, float | None]:
        return {
            "accel_range_g": self.accel_range_g,
            "gyro_range_dps": self.gyro_range_dps,
            "odr_hz": self.odr_hz,
            "dlpf_hz": self.dlpf_hz,
        }


@dataclass(slots=True)
class SensorHealth:
    """Counters of one sensor, for the ``health`` MQTT message and logs."""

    name: str
    segment: str
    chip: str
    where: str
    state: SensorState = SensorState.MISSING
    reads: int = 0
    errors: int = 0
    retried_ok: int = 0
    missing_samples: int = 0
    stuck_events: int = 0
    recoveries: int = 0
    lockups: int = 0
    consecutive_failures: int = 0
    state_checks: int = 0
    samples_lost: int = 0  # FIFO mode: chip samples lost to an overflow (exact count)
    last_error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "segment": self.segment,
            "chip": self.chip,
            "where": self.where,
            "state": str(self.state),
            "reads": self.reads,
            "errors": self.errors,
            "retried_ok": self.retried_ok,
            "missing_samples": self.missing_samples,
            "stuck_events": self.stuck_events,
            "recoveries": self.recoveries,
            "lockups": self.lockups,
            "state_checks": self.state_checks,
            "samples_lost": self.samples_lost,
            "last_error": self.last_error,
        }


@dataclass(slots=True)
class _Slot:
    config: SensorConfig
    driver: BaseImuDriver
    health: SensorHealth
    chip_buf: np.ndarray
    prev: np.ndarray  # previous chip_buf + temperature, for stuck detection
    init: Iterator[float] | None = None
    resume_ns: int = 0
    next_attempt_ns: int = 0
    same_count: int = 0
    good_streak: int = 0
    fresh: bool = False
    was_ok: bool = False
    stuck: bool = False
    suspect: bool = False  # a read failed twice: check WHO_AM_I + configuration first
    bad_reads: int = 0  # samples in a row without an answer
    locked: bool = False  # missing after a lock-up that bus_recovery freed


@dataclass(slots=True)
class Frame:
    """One sample of all sensors (views of preallocated arrays: copy to keep them).

    data: (S, 6) float64 — acc xyz m/s², gyr xyz rad/s, segment axes; NaN when missing.
    temp_c: (S,) °C (NaN when missing). quality: (S,) uint8 :class:`Quality` bits.
    ok: (S,) bool. t_ns: clock time at the start of the read (FIFO mode: the host time
    of the grid point). index: FIFO mode: the grid point (sample number since start).
    """

    data: np.ndarray
    temp_c: np.ndarray
    quality: np.ndarray
    ok: np.ndarray
    t_ns: int = 0
    index: int = 0


def _is_lockup(exc: Exception | None) -> bool:
    """A bus lock-up, raised as such or as the cause of a driver error."""
    for e in (exc, exc.__cause__ if exc is not None else None):
        if isinstance(e, BusError) and e.is_lockup:
            return True
    return False


class Acquisition:
    """Reads all sensors of a :class:`SensorMap` into one :class:`Frame` per call.

    Args:
        bus: the locked bus.
        sensor_map: sensors in output order.
        clock: time source for backoff and re-initialisation waits.
        settings: ranges, rates and the fault policy.
        bus_recovery: called on a bus lock-up (e.g. pulse the TCA9548A RESET line).
    """

    def __init__(
        self,
        bus: LockedBus,
        sensor_map: SensorMap,
        *,
        clock: Clock | None = None,
        settings: AcquisitionSettings | None = None,
        bus_recovery: Callable[[], None] | None = None,
    ) -> None:
        self.bus = bus
        self.sensor_map = sensor_map
        self.clock = clock or SystemClock()
        self.settings = settings or AcquisitionSettings()
        self.bus_recovery = bus_recovery
        self.mux = (
            TCA9548A(bus, sensor_map.mux_address) if sensor_map.mux_address is not None else None
        )
        self._slots: list[_Slot] = []
        for s in sensor_map.sensors:
            driver = DRIVERS[s.chip](
                bus,
                s.address,
                mux=self.mux if s.channel is not None else None,
                channel=s.channel,
                sleep=self.clock.sleep,
                label=s.label,
            )
            health = SensorHealth(s.label, s.segment, s.chip, s.where())
            self._slots.append(_Slot(s, driver, health, np.zeros(6), np.full(7, np.nan)))
        n = len(self._slots)
        self.frame = Frame(
            data=np.full((n, 6), np.nan),
            temp_c=np.full(n, np.nan),
            quality=np.zeros(n, dtype=np.uint8),
            ok=np.zeros(n, dtype=bool),
        )
        self._rows = [self.frame.data[i] for i in range(n)]  # preallocated row views
        self.samples = 0
        self.lockups = 0

    @property
    def names(self) -> tuple[str, ...]:
        return self.sensor_map.names

    @property
    def drivers(self) -> list[BaseImuDriver]:
        return [s.driver for s in self._slots]

    def health(self) -> list[SensorHealth]:
        return [s.health for s in self._slots]

    # ---- start ----------------------------------------------------------------------
    def start(self, timeout_s: float = 5.0, require_all: bool = False) -> dict[str, str]:
        """Check the multiplexer and initialise every sensor (waits interleaved).

        Returns ``{sensor: problem}`` for sensors that did not come up (they stay
        missing and are retried by :meth:`read`). Raises :class:`WiringError` when the
        multiplexer is absent, or when ``require_all`` and a sensor failed.
        """
        if self.mux is not None:
            self.mux.probe()
        now = self.clock.monotonic_ns()
        for slot in self._slots:
            slot.health.state = SensorState.MISSING
            slot.next_attempt_ns = now
        deadline = now + int(timeout_s * 1e9)
        attempted: set[int] = set()
        while True:
            now = self.clock.monotonic_ns()
            for i, slot in enumerate(self._slots):
                if slot.health.state is SensorState.MISSING and i in attempted:
                    continue  # one attempt each during start
                if slot.health.state is not SensorState.OK:
                    attempted.add(i)
                    self._service(slot, now)
            pending = [s for s in self._slots if s.health.state is SensorState.INITIALIZING]
            if not pending or now >= deadline:
                break
            self.clock.sleep_until_ns(min(s.resume_ns for s in pending))
        problems = {
            s.health.name: s.health.last_error or str(s.health.state)
            for s in self._slots
            if s.health.state is not SensorState.OK
        }
        for name, why in problems.items():
            log.warning("sensor %s not available: %s", name, why)
        if problems and require_all:
            raise WiringError(
                "sensors not available: " + "; ".join(f"{k}: {v}" for k, v in problems.items())
            )
        return problems

    # ---- the hot path ---------------------------------------------------------------
    def read(self) -> Frame:
        """Read one sample of every sensor; never raises for a sensor fault."""
        frame = self.frame
        now = self.clock.monotonic_ns()
        frame.t_ns = now
        stuck_after = self.settings.stuck_after
        for i, slot in enumerate(self._slots):
            q = 0
            good = False
            health = slot.health
            if health.state is SensorState.OK and (not slot.suspect or self._check(slot, now)):
                temp = 0.0
                try:
                    temp = slot.driver.read_into(slot.chip_buf)
                    good = True
                except BusError as exc:
                    self._on_bus_error(slot, exc)
                    if self.settings.immediate_retry and not exc.is_lockup:
                        try:
                            temp = slot.driver.read_into(slot.chip_buf)
                            good = True
                            q |= Quality.RETRIED
                            health.retried_ok += 1
                        except BusError as exc2:
                            self._on_bus_error(slot, exc2)
                            self._no_answer(slot, exc2, now)
                    else:
                        self._fail(slot, exc, now)
                if good:
                    health.reads += 1
                    if stuck_after is not None and self._check_stuck(slot, temp, stuck_after):
                        good = False
                        q |= Quality.STUCK
                        self._fail(slot, None, now, stuck=True)
                if good:
                    slot.bad_reads = 0
                    slot.good_streak += 1
                    if slot.good_streak == self.settings.healthy_after:
                        health.consecutive_failures = 0
                    slot.config.mounting.to_segment(slot.chip_buf, self._rows[i])
                    frame.temp_c[i] = temp
                    if slot.driver.saturated:
                        q |= Quality.SATURATED
                    if slot.fresh:
                        q |= Quality.REINITIALIZED
                        slot.fresh = False
            elif health.state is not SensorState.OK:
                self._service(slot, now)
            if not good:
                self._rows[i].fill(np.nan)
                frame.temp_c[i] = np.nan
                q |= Quality.MISSING
                health.missing_samples += 1
            frame.quality[i] = q
            frame.ok[i] = good
        self.samples += 1
        return frame

    def _check_stuck(self, slot: _Slot, temp: float, stuck_after: int) -> bool:
        prev = slot.prev
        buf = slot.chip_buf
        if temp == prev[6] and np.array_equal(buf, prev[:6]):
            slot.same_count += 1
        else:
            slot.same_count = 0
            prev[:6] = buf
            prev[6] = temp
        if slot.same_count >= stuck_after:
            slot.same_count = 0
            slot.stuck = True
            return True
        return False

    # ---- faults ---------------------------------------------------------------------
    def _no_answer(self, slot: _Slot, exc: BusError, now: int) -> None:
        """A read failed twice: this sample is lost; suspect the chip, or give up on it
        after ``missing_after`` samples in a row."""
        slot.bad_reads += 1
        slot.good_streak = 0
        slot.health.last_error = str(exc)
        if slot.bad_reads >= self.settings.missing_after:
            slot.bad_reads = 0
            slot.suspect = False
            self._fail(slot, exc, now)
        else:
            slot.suspect = True

    def _check(self, slot: _Slot, now: int) -> bool:
        """Read WHO_AM_I and the configuration back; True when the chip kept its state.

        A chip that lost it (brown-out, another chip) is re-initialised at once; one that
        does not answer counts as another sample without an answer."""
        slot.health.state_checks += 1
        try:
            problem = slot.driver.verify_state()
        except BusError as exc:
            self._on_bus_error(slot, exc)
            if exc.is_lockup:
                self._fail(slot, exc, now)
            else:
                self._no_answer(slot, exc, now)
            return False
        slot.suspect = False
        if problem is None:
            return True
        slot.bad_reads = 0
        self._fail(slot, HardwareError(f"{slot.health.name} lost its state: {problem}"), now)
        slot.next_attempt_ns = now  # nothing to wait for: re-initialise now
        return False

    def _on_bus_error(self, slot: _Slot, exc: BusError) -> None:
        slot.health.errors += 1
        slot.health.last_error = str(exc)
        if self.mux is not None and exc.address == self.mux.address:
            self.mux.invalidate()
        if exc.is_lockup:
            self.lockups += 1
            slot.health.lockups += 1
            log.error("bus lock-up while reading %s: %s", slot.health.name, exc)
            if self.mux is not None:
                self.mux.invalidate()
            if self.bus_recovery is not None:
                try:
                    self.bus_recovery()
                except Exception:  # a recovery hook must not kill acquisition
                    log.exception("bus recovery failed")

    def _fail(self, slot: _Slot, exc: Exception | None, now: int, stuck: bool = False) -> None:
        h = slot.health
        if h.state is SensorState.OK:
            slot.was_ok = True
            if stuck:
                h.stuck_events += 1
                h.last_error = f"output frozen for {self.settings.stuck_after} samples"
                log.warning("%s (%s): %s", h.name, h.where, h.last_error)
            else:
                log.warning("%s (%s) missing: %s", h.name, h.where, exc)
        elif exc is not None:
            log.debug("%s still missing: %s", h.name, exc)
        if exc is not None:
            h.last_error = str(exc)
        h.consecutive_failures += 1
        h.state = SensorState.MISSING
        slot.init = None
        slot.suspect = False
        slot.bad_reads = 0
        slot.good_streak = 0
        slot.same_count = 0
        delay = self.settings.backoff.delay_s(h.consecutive_failures)
        slot.locked = self.bus_recovery is not None and _is_lockup(exc)
        if slot.locked:
            delay = min(delay, self.settings.lockup_retry_s)
        slot.next_attempt_ns = now + int(delay * 1e9)

    def _on_ready(self, slot: _Slot, now: int) -> None:
        """A sensor finished (re-)initialisation (hook for the FIFO acquisition)."""

    def _resume_after_lockup(self, slot: _Slot, now: int) -> bool:
        """Retry a sensor whose channel locked the bus: WHO_AM_I answering again means
        the chip is back with its configuration (a lock-up does not reset it). True when
        handled (resumed, or still locked); False: re-initialise it."""
        slot.locked = False
        if slot.driver.config is None:
            return False
        try:
            slot.driver.probe()
        except WiringError as exc:
            if isinstance(exc.__cause__, BusError):  # still held low (or not answering)
                self._on_bus_error(slot, exc.__cause__)
                self._fail(slot, exc, now)
                return True
            return False  # another WHO_AM_I: re-initialise
        h = slot.health
        h.state = SensorState.OK
        slot.fresh = True
        slot.stuck = False
        slot.same_count = 0
        slot.prev.fill(np.nan)
        h.recoveries += 1
        log.info("%s (%s) is back after the bus lock-up", h.name, h.where)
        return True

    def _service(self, slot: _Slot, now: int) -> None:
        """Advance a missing sensor's re-initialisation by at most one step."""
        h = slot.health
        if h.state is SensorState.MISSING:
            if now < slot.next_attempt_ns:
                return
            if slot.locked and self._resume_after_lockup(slot, now):
                return
            slot.init = slot.driver.initialize(**self.settings.chip_config())
            h.state = SensorState.INITIALIZING
            slot.resume_ns = now
        if h.state is not SensorState.INITIALIZING or now < slot.resume_ns:
            return
        assert slot.init is not None
        try:
            delay = next(slot.init)
            slot.resume_ns = now + int(delay * 1e9)
        except StopIteration:
            h.state = SensorState.OK
            slot.init = None
            slot.fresh = slot.was_ok  # flag re-initialisations, not the first start
            slot.stuck = False
            slot.same_count = 0
            slot.prev.fill(np.nan)
            self._on_ready(slot, now)
            if slot.was_ok:
                h.recoveries += 1
                log.info("%s (%s) is back", h.name, h.where)
        except BusError as exc:
            self._on_bus_error(slot, exc)
            self._fail(slot, exc, now)
        except HardwareError as exc:  # WiringError / ConfigurationError
            if isinstance(exc.__cause__, BusError):
                self._on_bus_error(slot, exc.__cause__)
            self._fail(slot, exc, now)
