"""The fixed-rate sampler on a simulated monotonic clock (an hour in about a second)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.acquisition import Acquisition
from firmware_bridge.bus import LockedBus
from firmware_bridge.clock import SimulatedClock
from firmware_bridge.emulation import build_emulated_bus
from firmware_bridge.sampler import FixedRateSampler, LatencyHistogram
from firmware_bridge.sensor_map import SEGMENTS

HOUR_S = 3600


@pytest.mark.parametrize("rate_hz", [100.0, 400.0])
def test_an_hour_without_drift(rate_hz: float) -> None:
    """OS wake-up latency ~ |N(80 µs, 40 µs)| and 0.3 ms of work per tick must not move
    the schedule: exactly rate·3600 ticks, the last one on its own deadline."""
    clock = SimulatedClock.with_random_latency(80, 40, seed=7)

    def work(_tick) -> None:
        clock.advance_ns(300_000)

    sampler = FixedRateSampler(rate_hz, clock)
    stats = sampler.run(work, duration_s=HOUR_S)
    assert stats.ticks == int(rate_hz * HOUR_S)
    assert (stats.overruns, stats.skipped) == (0, 0)
    assert stats.last_index == stats.ticks - 1
    # the last tick starts within the wake-up latency of t0 + k·T: no accumulated drift
    assert 0 <= stats.last_start_offset_us <= stats.jitter_max_us
    assert stats.achieved_rate_hz == pytest.approx(rate_hz, rel=1e-7)
    # jitter statistics describe the injected latency distribution
    assert 70 <= stats.jitter_p50_us <= 90
    assert 150 <= stats.jitter_p99_us <= 200
    assert stats.work_p50_us == 300


def test_naive_sleep_loop_would_drift() -> None:
    """Control experiment: sleeping one period after the work loses ticks in an hour."""
    clock = SimulatedClock.with_random_latency(80, 40, seed=7)
    ticks = 0
    while clock.monotonic_ns() < HOUR_S * 1_000_000_000:
        clock.advance_ns(300_000)
        clock.sleep(0.01)
        ticks += 1
    assert ticks < 0.97 * 360_000  # what the absolute-deadline scheduler avoids


def test_non_integer_period_is_exact() -> None:
    clock = SimulatedClock()
    sampler = FixedRateSampler(104.0, clock)
    stats = sampler.run(lambda t: None, duration_s=HOUR_S)
    assert stats.ticks == 104 * HOUR_S
    k = stats.last_index
    assert sampler.deadline_ns(k) == (k * 1_000_000_000) // 104


def test_overruns_are_counted_and_missed_deadlines_skipped() -> None:
    clock = SimulatedClock()
    starts: list[int] = []

    def work(tick) -> None:
        starts.append(tick.index)
        # 25 ms of work every 500th tick at 100 Hz: that tick overruns, 2 deadlines pass
        clock.advance_ns(25_000_000 if tick.index % 500 == 499 else 1_000_000)

    stats = FixedRateSampler(100.0, clock).run(work, duration_s=60)
    assert stats.overruns == 12
    assert stats.skipped == 22  # the last overrun (tick 5999) ends the run
    assert stats.ticks == 6000 - 22
    assert 500 not in starts and 501 not in starts and 502 in starts  # gap visible in index
    assert stats.jitter_max_us == 0  # every executed tick started on its deadline
    assert stats.work_max_us == 25_000


def test_stop_from_the_callback() -> None:
    clock = SimulatedClock()
    sampler = FixedRateSampler(200.0, clock)

    def work(tick) -> None:
        if tick.index == 41:
            sampler.stop()

    assert sampler.run(work).ticks == 42


@pytest.mark.parametrize("rate", [0.0, -5.0, 2000.0])
def test_rate_is_validated(rate: float) -> None:
    with pytest.raises(ValueError, match="rate_hz"):
        FixedRateSampler(rate)


def test_histogram_percentiles_match_numpy() -> None:
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, 50.0, 20_000) * 1e3  # ns
    h = LatencyHistogram()
    for v in values:
        h.add(int(v))
    for q in (50, 90, 99):
        assert abs(h.percentile_us(q) - np.percentile(values / 1e3, q)) <= 1.0
    assert h.max_ns == int(values.max())


@pytest.mark.parametrize(("rate", "overrun"), [(100.0, False), (400.0, True)])
def test_seven_sensors_on_one_400khz_bus(rate: float, overrun: bool) -> None:
    """With bus time charged to the clock (3.08 ms per 7-IMU sample by the bit model),
    direct polling keeps 100 Hz but cannot keep 400 Hz: see docs/acquisition.md."""
    clock = SimulatedClock()
    imu = np.zeros((10, 7, 6))
    imu[:, :, 1] = 9.81
    imu[:, :, 3] = np.linspace(0, 1, 10)[:, None]
    hw = build_emulated_bus(imu, SEGMENTS, 100.0, clock=clock, advance_clock=True)
    acq = Acquisition(LockedBus(hw.smbus), hw.sensor_map, clock=clock)
    assert acq.start() == {}
    stats = FixedRateSampler(rate, clock).run(lambda t: acq.read(), n_ticks=200)
    assert stats.work_p50_us == 3080  # 1232 bits at 400 kHz
    assert (stats.overruns > 0) == overrun
