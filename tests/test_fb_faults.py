"""Loose cables: NACK/EIO, vanishing sensors, stuck outputs, brown-outs, bus lock-up."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from firmware_bridge.acquisition import Acquisition, AcquisitionSettings, Quality, SensorState
from firmware_bridge.bus import LockedBus
from firmware_bridge.clock import SimulatedClock
from firmware_bridge.emulation import EmulatedHardware, build_emulated_bus
from firmware_bridge.errors import BusError
from firmware_bridge.registers import mpu6050 as R
from firmware_bridge.sampler import FixedRateSampler
from firmware_bridge.sensor_map import SEGMENTS

RATE = 100.0


def _gait(n: int = 1000) -> np.ndarray:
    """Moving signals at 100 Hz (never constant, so the stuck detector stays quiet)."""
    t = np.arange(n) / RATE
    imu = np.zeros((n, 7, 6))
    for s in range(7):
        ph = 2 * np.pi * (t / 1.1 + s / 7)
        imu[:, s, 0] = 4 * np.sin(ph)
        imu[:, s, 1] = 9.8 + 3 * np.cos(ph)
        imu[:, s, 2] = np.sin(2 * ph)
        imu[:, s, 3:] = np.stack([np.sin(ph), np.cos(ph), 3 * np.sin(ph + 1)], -1)
    return imu


def _setup(chip: str = "mpu6050", recovery: bool = False, **settings: object):
    clock = SimulatedClock.with_random_latency(60, 20, seed=3)
    hw = build_emulated_bus(
        _gait(), SEGMENTS, RATE, chip=chip, advance="clock", clock=clock, advance_clock=True
    )
    acq = Acquisition(
        LockedBus(hw.smbus),
        hw.sensor_map,
        clock=clock,
        settings=AcquisitionSettings(odr_hz=RATE, **settings),  # type: ignore[arg-type]
        bus_recovery=hw.mux.hardware_reset if recovery else None,
    )
    assert acq.start() == {}
    return clock, hw, acq


def _expected(hw: EmulatedHardware, name: str) -> np.ndarray:
    dev = hw.device(name)
    return hw.source.imu[dev.current_row, hw.source.index(name)]


def _within_one_lsb(acq: Acquisition, hw: EmulatedHardware, s: int, name: str) -> bool:
    cfg = acq.drivers[s].config
    lsb = np.array([cfg.acc_lsb_m_s2] * 3 + [cfg.gyr_lsb_rad_s] * 3)
    return bool((np.abs(acq.frame.data[s] - _expected(hw, name)) <= lsb).all())


@pytest.mark.parametrize("chip", ["mpu6050", "lsm6dsox"])
def test_vanishing_sensor_is_missing_retried_with_backoff_and_picked_up(chip: str) -> None:
    clock, hw, acq = _setup(chip)
    femur = hw.device("femur_r")
    s = 1
    log: list[tuple[int, int, int, bool, int]] = []  # (tick, quality femur, errors, others ok)
    attempts: list[int] = []  # times the driver tried the absent chip (NACKs seen)

    def tick(t) -> None:
        if t.index == 200:
            femur.vanish()
        if t.index == 700:
            femur.reappear()  # power back: registers at power-on values
        nacks_before = hw.smbus.traffic.nacks
        frame = acq.read()
        if hw.smbus.traffic.nacks > nacks_before:
            attempts.append(t.scheduled_ns)
        others = np.delete(frame.ok, s).all()
        log.append((t.index, int(frame.quality[s]), acq.health()[s].errors, others, t.start_ns))
        if frame.ok[s] and t.index > 200:
            assert _within_one_lsb(acq, hw, s, "femur_r")

    sampler = FixedRateSampler(RATE, clock)
    stats = sampler.run(tick, n_ticks=1200)

    # the sampler kept its rate: no overrun, nothing skipped, all 1200 ticks
    assert (stats.ticks, stats.overruns, stats.skipped) == (1200, 0, 0)
    # the other six sensors never missed a sample
    assert all(entry[3] for entry in log)
    q = {i: quality for i, quality, *_ in log}
    assert q[199] == 0
    assert all(q[i] & Quality.MISSING for i in range(201, 700))
    assert np.isnan(acq.frame.data).sum() == 0  # back at the end
    # a suspect chip is checked (WHO_AM_I) on the next 2 ticks, then it is missing and
    # retried with exponential backoff: 50, 100, 200, 400, 800 ms, then capped at 1 s
    # (the immediate retry happens within the failing tick; an attempt waits for the
    # first tick at or after its due time, so each gap is the delay + at most one period)
    gaps_ms = np.diff(attempts) / 1e6
    delays = [10, 10, 50, 100, 200, 400, 800] + [1000] * (len(gaps_ms) - 7)
    assert len(gaps_ms) >= 10
    assert all(d <= g <= d + 10 for g, d in zip(gaps_ms, delays, strict=True)), gaps_ms
    # picked up again after it returned: within the 1 s backoff + re-initialisation
    back = next(i for i, quality, *_ in log if i >= 700 and not quality & Quality.MISSING)
    assert back - 700 <= 130
    assert q[back] & Quality.REINITIALIZED
    h = acq.health()[s]
    assert (h.state, h.recoveries) == (SensorState.OK, 1)
    assert h.consecutive_failures == 0  # healthy for 100 samples: backoff starts afresh
    assert h.missing_samples == back - 200 - 0


def test_single_nack_is_retried_at_once() -> None:
    _, hw, acq = _setup()
    hw.device("tibia_l").inject_nack(1)
    frame = acq.read()
    assert frame.ok.all()
    assert frame.quality[5] == Quality.RETRIED
    assert acq.health()[5].errors == 1 and acq.health()[5].retried_ok == 1


@pytest.mark.parametrize("err", [errno.EIO, errno.ENXIO, errno.EREMOTEIO])
def test_errors_are_typed_with_address_and_register(err: int) -> None:
    _, hw, acq = _setup()
    hw.device("foot_l").inject_nack(2, err=err)
    frame = acq.read()
    assert not frame.ok[6] and np.isnan(frame.data[6]).all()
    assert frame.quality[6] == Quality.MISSING
    msg = acq.health()[6].last_error
    assert "mux channel 6" in msg and "0x68" in msg and "0x3B" in msg
    drv = acq.drivers[6]
    hw.device("foot_l").inject_nack(1, err=err)
    with pytest.raises(BusError) as info:
        drv.read()
    assert info.value.errno == err and info.value.register == R.ACCEL_XOUT_H
    assert info.value.is_nack == (err != errno.EIO)


def test_stuck_output_is_flagged_and_reinitialised() -> None:
    _, hw, acq = _setup(stuck_after=20)
    hw.device("tibia_r").stick()
    qualities = [int(acq.read().quality[2]) for _ in range(40)]
    assert all(q == 0 for q in qualities[:20])  # repeats are not yet suspicious
    assert qualities[20] == Quality.STUCK | Quality.MISSING
    assert acq.health()[2].stuck_events == 1


def test_brownout_is_caught_by_the_stuck_detector_and_repaired() -> None:
    """A supply dip resets the MPU-6050 into SLEEP at ±2 g without a bus error: the
    outputs freeze, the detector notices, re-initialisation restores the ranges."""
    clock, hw, acq = _setup(stuck_after=25)
    dev = hw.device("pelvis")
    flags = []
    for k in range(150):
        if k == 10:
            dev.brownout()
        flags.append(int(acq.read().quality[0]))
        clock.advance(0.01)
    first_stuck = flags.index(Quality.STUCK | Quality.MISSING)
    assert 10 < first_stuck <= 10 + 26
    assert flags[-1] == 0 and dev.regs[R.ACCEL_CONFIG] == 3 << 3  # ±16 g again
    assert _within_one_lsb(acq, hw, 0, "pelvis")
    assert acq.health()[0].recoveries == 1


def test_lockup_behind_the_mux_is_cleared_by_a_reset_pulse() -> None:
    clock, hw, acq = _setup(recovery=True)
    hw.smbus.lock_up(channel=3)  # foot_r's segment holds SDA low
    for _ in range(100):
        frame = acq.read()
        assert np.delete(frame.ok, 3).all()  # the six others keep going
        assert not frame.ok[3]
        clock.advance(0.01)
    assert acq.lockups >= 3 and hw.smbus.traffic.timeouts >= 3
    hw.smbus.release_lockup()
    for _ in range(150):
        frame = acq.read()
        clock.advance(0.01)
    assert frame.ok.all()


def test_lockup_without_reset_line_stops_everything_until_released() -> None:
    clock, hw, acq = _setup(recovery=False)
    hw.smbus.lock_up(channel=3)
    for _ in range(3):
        frame = acq.read()
        clock.advance(0.01)
    assert not frame.ok.any()
    hw.smbus.release_lockup()
    for _ in range(150):
        frame = acq.read()
        clock.advance(0.01)
    assert frame.ok.all()


def test_wrong_chip_at_start_is_reported_and_others_run() -> None:
    clock = SimulatedClock()
    hw = build_emulated_bus(_gait(), SEGMENTS, RATE, advance="clock", clock=clock)
    hw.device("femur_l").set_who_am_i(0x71)
    acq = Acquisition(LockedBus(hw.smbus), hw.sensor_map, clock=clock)
    problems = acq.start()
    assert list(problems) == ["femur_l"]
    assert "WHO_AM_I" in problems["femur_l"] and "check your wiring" in problems["femur_l"]
    frame = acq.read()
    assert frame.ok.sum() == 6 and not frame.ok[4]


def test_missing_multiplexer_is_a_wiring_error() -> None:
    from firmware_bridge.errors import WiringError

    clock = SimulatedClock()
    hw = build_emulated_bus(_gait(), SEGMENTS, RATE, advance="clock", clock=clock)
    hw.mux.vanish()
    acq = Acquisition(LockedBus(hw.smbus), hw.sensor_map, clock=clock)
    with pytest.raises(WiringError, match="no TCA9548A multiplexer answers at 0x70"):
        acq.start()
