"""I2C bus budget of one 7-IMU sample, counted on the emulated bus with the real drivers.

``run()`` (called by ``scripts/bench.py`` / ``make bench``) reports, per chip type:

- direct polling (one mux switch + one 14-byte burst per sensor per sample):
  transfers, messages and bytes per 7-IMU sample, the bus time per sample at 400 kHz
  from the bit-level model in :mod:`firmware_bridge.i2c_timing`, and the highest rate
  the bus can sustain (100 % bus occupancy, no host gaps between transfers);
- FIFO mode (chips sample on their own clock, the host drains 8 or 32 samples per
  sensor at a time): the same figures per sample, amortised over the batch;
- direct polling split over two I2C buses (4 + 3 sensors, e.g. i2c-1 and i2c-3 on a
  Pi 4/5), derived from the per-sensor cost;
- the Python time per 7-IMU sample of drivers + emulator on this machine (not the Pi);
- the FIFO acquisition end to end (:class:`FifoAcquisition`, drains every 4 ms on a
  jittery simulated host, bus time charged to the clock, chips at ±200 ppm): frames
  delivered vs expected, samples lost, bus occupancy, and the host Python time per
  7-IMU frame with the emulated chips' own time measured and subtracted (thread CPU
  time, so that other processes on the machine do not count).
"""

from __future__ import annotations

import time

import numpy as np

from firmware_bridge.acquisition import Acquisition, AcquisitionSettings
from firmware_bridge.bus import LockedBus
from firmware_bridge.clock import SimulatedClock
from firmware_bridge.emulation import build_emulated_bus
from firmware_bridge.fifo_acquisition import FifoAcquisition
from firmware_bridge.i2c_timing import FAST_MODE_HZ
from firmware_bridge.sampler import FixedRateSampler
from firmware_bridge.sensor_map import SEGMENTS, default_sensor_map

N_SENSORS = len(SEGMENTS)
TARGET_RATE_HZ = 100.0
HIGH_RATE_HZ = 400.0
FIFO_BATCHES = (8, 32)


def _walking_like(n: int = 400) -> np.ndarray:
    """Synthetic gait-like signals (the byte count does not depend on the values)."""
    t = np.arange(n) / 100.0
    imu = np.zeros((n, N_SENSORS, 6))
    for s in range(N_SENSORS):
        phase = 2 * np.pi * (t / 1.2 + s / N_SENSORS)
        imu[:, s, 0] = 3.0 * np.sin(phase)
        imu[:, s, 1] = 9.81 + 2.0 * np.cos(phase)
        imu[:, s, 5] = 3.0 * np.sin(phase + 0.3)
    return imu


def _direct(chip: str, n_samples: int = 200) -> dict[str, float]:
    smap = default_sensor_map(chip=chip)
    clock = SimulatedClock()
    hw = build_emulated_bus(_walking_like(), SEGMENTS, 100.0, smap, clock=clock)
    bus = LockedBus(hw.smbus)
    acq = Acquisition(bus, smap, clock=clock, settings=AcquisitionSettings(odr_hz=100.0))
    problems = acq.start()
    if problems:
        raise RuntimeError(f"emulated sensors did not start: {problems}")
    before = hw.smbus.traffic.snapshot()
    host_before = bus.stats.transactions
    t0 = time.perf_counter()
    for _ in range(n_samples):
        acq.read()
        clock.advance(0.01)
    cpu = (time.perf_counter() - t0) / n_samples
    d = hw.smbus.traffic.minus(before)
    bus_s = d.seconds_at(FAST_MODE_HZ) / n_samples
    return {
        "transfers_per_sample": d.transfers / n_samples,
        "messages_per_sample": d.messages / n_samples,
        "data_bytes_per_sample": d.data_bytes / n_samples,
        "wire_bytes_per_sample": d.wire_bytes / n_samples,
        "bits_per_sample": d.bits / n_samples,
        "bus_time_per_sample_us": bus_s * 1e6,
        "bus_occupancy_at_100hz_pct": bus_s * 100.0 * 100.0,
        "max_rate_hz": 1.0 / bus_s,
        "python_us_per_sample_emulated": cpu * 1e6,
        "host_ioctls_per_sample": (bus.stats.transactions - host_before) / n_samples,
    }


def _fifo(chip: str, batch: int, n_batches: int = 10) -> dict[str, float]:
    smap = default_sensor_map(chip=chip)
    clock = SimulatedClock()
    hw = build_emulated_bus(_walking_like(), SEGMENTS, 100.0, smap, advance="clock", clock=clock)
    bus = LockedBus(hw.smbus)
    acq = Acquisition(bus, smap, clock=clock, settings=AcquisitionSettings(odr_hz=HIGH_RATE_HZ))
    problems = acq.start()
    if problems:
        raise RuntimeError(f"emulated sensors did not start: {problems}")
    drivers = acq.drivers
    for d in drivers:
        d.enable_fifo()
    odr = drivers[0].config.odr_hz  # type: ignore[union-attr]
    out = np.empty((4 * batch, 6))
    temps = np.empty(4 * batch)
    # first drain (startup samples), then measure steady batches
    for d in drivers:
        d.read_fifo(out, temps)
    before = hw.smbus.traffic.snapshot()
    samples = 0
    for _ in range(n_batches):
        clock.advance(batch / odr)
        counts = [d.read_fifo(out, temps) for d in drivers]
        samples += min(counts)
    per = float(samples)
    d = hw.smbus.traffic.minus(before)
    bus_s = d.seconds_at(FAST_MODE_HZ) / per
    return {
        "odr_hz": odr,
        "batch_samples": batch,
        "transfers_per_sample": d.transfers / per,
        "wire_bytes_per_sample": d.wire_bytes / per,
        "bits_per_sample": d.bits / per,
        "bus_time_per_sample_us": bus_s * 1e6,
        "max_rate_hz": 1.0 / bus_s,
    }


def _fifo_acquisition(
    chip: str, rate_hz: float, seconds: float = 3.0, drain_ms: float = 4.0
) -> dict[str, float]:
    """FifoAcquisition end to end on the emulated bus (bus time charged to the clock)."""
    smap = default_sensor_map(chip=chip)
    clock = SimulatedClock.with_random_latency(700, 400, seed=1)
    ppm = dict(zip(SEGMENTS, np.linspace(-200.0, 200.0, N_SENSORS), strict=True))
    hw = build_emulated_bus(
        _walking_like(),
        SEGMENTS,
        100.0,
        smap,
        advance="clock",
        clock=clock,
        advance_clock=True,
        clock_ppm=ppm,
    )
    acq = FifoAcquisition(
        LockedBus(hw.smbus), smap, clock=clock, settings=AcquisitionSettings(odr_hz=rate_hz)
    )
    problems = acq.start()
    if problems:
        raise RuntimeError(f"emulated sensors did not start: {problems}")
    emulated = [0.0]
    transfer = hw.smbus.transfer

    def timed(messages):  # type: ignore[no-untyped-def]
        t = time.thread_time()
        try:
            return transfer(messages)
        finally:
            emulated[0] += time.thread_time() - t

    hw.smbus.transfer = timed  # type: ignore[method-assign]
    frames = [0, 0]  # frames, frames with a NaN
    total = [0.0]

    def drain(_tick) -> None:  # type: ignore[no-untyped-def]
        t = time.thread_time()
        for f in acq.frames():
            frames[0] += 1
            frames[1] += not f.ok.all()
        total[0] += time.thread_time() - t

    before = hw.smbus.traffic.snapshot()
    t_start = clock.monotonic_ns()
    FixedRateSampler(1000.0 / drain_ms, clock).run(drain, duration_s=seconds)
    elapsed = (clock.monotonic_ns() - t_start) / 1e9
    d = hw.smbus.traffic.minus(before)
    n = max(frames[0], 1)
    return {
        "odr_hz": acq.drivers[0].config.odr_hz,  # type: ignore[union-attr]
        "drain_interval_ms": drain_ms,
        "frames_per_s": frames[0] / elapsed,
        "frames_with_nan": frames[1],
        "samples_lost": sum(h.samples_lost for h in acq.health()),
        "bus_occupancy_pct": 100.0 * d.seconds_at(FAST_MODE_HZ) / elapsed,
        "host_us_per_frame_excl_emulator": (total[0] - emulated[0]) / n * 1e6,
        "emulator_us_per_frame": emulated[0] / n * 1e6,
    }


def run(end_to_end: bool = True) -> dict[str, object]:
    """Bench figures; keys carry their units (``end_to_end``: the FIFO acquisition runs)."""
    result: dict[str, object] = {
        "bus_hz": FAST_MODE_HZ,
        "sensors": N_SENSORS,
        "model": "9 clock periods per byte (incl. ACK) incl. address bytes, START/Sr/STOP one "
        "period each; no host gaps between transfers",
    }
    meets = True
    for chip in ("mpu6050", "lsm6dsox"):
        direct = _direct(chip)
        result[f"{chip}_direct"] = {k: round(v, 3) for k, v in direct.items()}
        per_sensor_us = direct["bus_time_per_sample_us"] / N_SENSORS
        result[f"{chip}_direct_two_buses_max_rate_hz"] = round(
            1e6 / (per_sensor_us * -(-N_SENSORS // 2)), 1
        )
        for batch in FIFO_BATCHES:
            fifo = _fifo(chip, batch)
            result[f"{chip}_fifo_batch{batch}"] = {k: round(v, 3) for k, v in fifo.items()}
        meets = meets and direct["max_rate_hz"] >= TARGET_RATE_HZ
    result["target_rate_hz"] = TARGET_RATE_HZ
    result["meets_target"] = meets
    result["high_rate_hz"] = HIGH_RATE_HZ
    result["direct_sustains_high_rate"] = all(
        result[f"{c}_direct"]["max_rate_hz"] >= HIGH_RATE_HZ  # type: ignore[index]
        for c in ("mpu6050", "lsm6dsox")
    )
    for chip in ("mpu6050", "lsm6dsox") if end_to_end else ():
        for rate in (100.0, 200.0, HIGH_RATE_HZ):
            fa = _fifo_acquisition(chip, rate)
            result[f"{chip}_fifo_acquisition_{int(rate)}hz"] = {
                k: round(v, 2) for k, v in fa.items()
            }
    result["fifo_batch32_sustains_high_rate"] = all(
        result[f"{c}_fifo_batch32"]["max_rate_hz"] >= HIGH_RATE_HZ  # type: ignore[index]
        for c in ("mpu6050", "lsm6dsox")
    )
    return result


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
