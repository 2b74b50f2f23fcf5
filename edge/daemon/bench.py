"""Benchmark: the daemon's sustained loop at 100 and 200 Hz with 7 emulated IMUs.

Real-time sampler (system clock), real drivers on the register-level emulated bus, the
shipped bundle, a real mosquitto, recorder on. Reported per rate: latency from the
tick's start to the estimate handed to the publisher (sensor reads, inference,
publishing hand-off), sampler overruns, CPU time of the whole process (all threads:
MQTT, recorder, health) as % of one core, and resident memory.

The emulated chips are Python here and a kernel ioctl on a Pi: the time spent inside
the emulated bus (every smbus call the drivers make, timed on the sampling thread) is
reported as ``emulation_us_per_sample`` and subtracted, giving ``cpu_percent_of_core_
excl_emulation`` and ``latency_*_excl_emulation_ms`` (per sample: that sample's latency
minus that sample's emulation time). The drivers' own Python stays in (it runs on the
Pi too). ``conditions`` records the machine's load around the run (the bench machine
is shared: a busy neighbour shows as overruns and a longer tail).

The 200 Hz run re-labels the 100 Hz model's manifest as 200 Hz: it measures cost, not
accuracy (a 200 Hz model would be trained at 200 Hz).

Each rate runs polled (``100hz``, ``200hz``: one read per sampler tick) and in FIFO mode
(``fifo_100hz``, ``fifo_200hz``: the emulated chips sample on the real clock, drained
every 4 ms; latency from the instant a sample was taken on the chips' time base, so the
wait for the next chip sample and the drain interval are in it, minus the emulation
time of the drain that brought it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from edge.bundle import build_bundle, read_bundle
from edge.config import DaemonConfig
from edge.daemon import Daemon
from edge.daemon.simulate import default_bundle_path, replay_recording, simulated_parts
from edge.mqtt.local_broker import start_mosquitto
from edge.recording import bundled_recording_path, read_recording
from firmware_bridge.bus import LockedBus
from firmware_bridge.sampler import LatencyHistogram, Tick

SECONDS = 10.0
#: issue 15: ≤ 15 % of one core at 200 Hz and p99 ≤ 10 ms, the emulated chips excluded
TARGETS = {"latency_p99_excl_emulation_ms": 10.0, "cpu_percent_of_core_200hz_excl_emulation": 15.0}

#: the smbus2 methods the drivers call through LockedBus
SMBUS_METHODS = (
    "write_byte",
    "read_byte",
    "write_byte_data",
    "read_byte_data",
    "read_i2c_block_data",
    "write_i2c_block_data",
    "i2c_rdwr",
)


class EmulationTimer:
    """Times every call into the emulated smbus behind ``bus`` (perf_counter, ns)."""

    def __init__(self, bus: LockedBus) -> None:
        self.total_ns = 0
        self.calls = 0
        inner = bus.smbus
        for name in SMBUS_METHODS:
            method = getattr(inner, name, None)
            if method is not None:
                setattr(inner, name, self._timed(method))

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.perf_counter_ns

        def call(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return method(*args, **kwargs)
            finally:
                self.total_ns += clock() - t0
                self.calls += 1

        return call


def _conditions() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "loadavg_1min": round(load1, 2),
        "loadavg_5min": round(load5, 2),
    }


def _bundle_at(rate: float, folder: Path) -> Path:
    src = read_bundle(default_bundle_path())
    manifest = src.manifest.model_copy(update={"sample_rate_hz": rate})
    path = folder / f"bench_{int(rate)}.sspinn"
    path.write_bytes(build_bundle(manifest, src.model_bytes))
    return path


def _run_rate(rate: float, broker, folder: Path, mode: str = "polled") -> dict:
    rec = replay_recording(read_recording(bundled_recording_path("P01_walking")), rate, SECONDS + 5)
    cfg = DaemonConfig.model_validate(
        {
            "device": {"id": f"bench{int(rate)}"},
            "participant": rec.meta.participant.model_dump(),
            "sampling": {"rate_hz": rate, "mode": mode},
            "mqtt": {"host": broker.host, "port": broker.port, "publish_rate_hz": 20.0},
            "model": {"bundle": str(_bundle_at(rate, folder))},
            "recorder": {"dir": str(folder / "rec"), "enabled_at_start": True},
        }
    )
    daemon = Daemon(cfg, simulated_parts(rec, fast=False, mode=mode))
    proc = psutil.Process()
    daemon.start()
    emulation = EmulationTimer(daemon.parts.bus)
    net = LatencyHistogram()  # per sample: latency minus that sample's emulation time
    on_tick, clock = daemon.loop.on_tick, daemon.parts.clock

    def timed_tick(tick: Tick) -> None:
        emu0 = emulation.total_ns
        on_tick(tick)
        net.add(clock.monotonic_ns() - tick.start_ns - (emulation.total_ns - emu0))

    daemon.loop.on_tick = timed_tick  # type: ignore[method-assign]
    if mode == "fifo":  # per sample: from the instant it was taken (chip time base)
        on_drain, process = daemon.loop.on_drain, daemon.loop.process
        drain_emu0 = [0]

        def timed_drain(tick: Tick) -> None:
            drain_emu0[0] = emulation.total_ns
            on_drain(tick)

        def timed_process(frame, index: int, taken_ns: int) -> None:  # type: ignore[no-untyped-def]
            process(frame, index, taken_ns)
            net.add(clock.monotonic_ns() - taken_ns - (emulation.total_ns - drain_emu0[0]))

        daemon.loop.on_drain = timed_drain  # type: ignore[method-assign]
        daemon.loop.process = timed_process  # type: ignore[method-assign]
    conditions = _conditions()
    cpu0 = proc.cpu_times()
    t0 = time.perf_counter()
    stats = daemon.run(duration_s=SECONDS)
    wall = time.perf_counter() - t0
    cpu1 = proc.cpu_times()
    rss_mb = proc.memory_info().rss / 1e6
    lat = daemon.loop.latency
    samples = daemon.loop.samples
    cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    emu_s = emulation.total_ns / 1e9
    result = {
        "rate_hz": rate,
        "mode": mode,
        "seconds": round(wall, 2),
        "samples": samples,
        "achieved_rate_hz": round(samples / wall, 2),
        "overruns": stats["overruns"],
        "latency_p50_ms": round(lat.percentile_us(50) / 1e3, 3),
        "latency_p99_ms": round(lat.percentile_us(99) / 1e3, 3),
        "latency_p50_excl_emulation_ms": round(net.percentile_us(50) / 1e3, 3),
        "latency_p99_excl_emulation_ms": round(net.percentile_us(99) / 1e3, 3),
        "cpu_percent_of_core": round(100 * cpu_s / wall, 1),
        "emulation_us_per_sample": round(1e6 * emu_s / max(samples, 1), 1),
        "emulation_bus_calls_per_sample": round(emulation.calls / max(samples, 1), 1),
        "cpu_percent_of_core_excl_emulation": round(100 * (cpu_s - emu_s) / wall, 1),
        # per sample taken, and scaled to the full rate (a loaded machine skips ticks)
        "cpu_us_per_sample_excl_emulation": round(1e6 * (cpu_s - emu_s) / max(samples, 1), 1),
        "cpu_percent_of_core_excl_emulation_at_rate": round(
            100 * rate * (cpu_s - emu_s) / max(samples, 1), 1
        ),
        "rss_mb": round(rss_mb, 1),
        "published_frames": daemon.publisher.frames,
        "recorded_samples": daemon.recorder.stats().samples_appended,
        "conditions_before": conditions,
        "conditions_after": _conditions(),
    }
    daemon.close()
    return result


def measure() -> dict:
    """The measurement itself (run in a fresh process by :func:`run`)."""
    broker = start_mosquitto()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            r100 = _run_rate(100.0, broker, Path(tmp))
            r200 = _run_rate(200.0, broker, Path(tmp))
            f100 = _run_rate(100.0, broker, Path(tmp), mode="fifo")
            f200 = _run_rate(200.0, broker, Path(tmp), mode="fifo")
    finally:
        broker.stop()
    worst_p99 = max(r100["latency_p99_excl_emulation_ms"], r200["latency_p99_excl_emulation_ms"])
    fifo_p99 = max(f100["latency_p99_excl_emulation_ms"], f200["latency_p99_excl_emulation_ms"])
    return {
        "100hz": r100,
        "200hz": r200,
        "fifo_100hz": f100,
        "fifo_200hz": f200,
        "fifo_meets_target": fifo_p99 <= TARGETS["latency_p99_excl_emulation_ms"]
        and f200["cpu_percent_of_core_excl_emulation_at_rate"]
        <= TARGETS["cpu_percent_of_core_200hz_excl_emulation"],
        "targets": TARGETS,
        "meets_target": worst_p99 <= TARGETS["latency_p99_excl_emulation_ms"]
        and r200["cpu_percent_of_core_excl_emulation_at_rate"]
        <= TARGETS["cpu_percent_of_core_200hz_excl_emulation"],
    }


def run() -> dict:
    """Measure in a fresh interpreter, so memory is the daemon's own (the benchmark
    harness may have imported TensorFlow, which the daemon never does)."""
    out = subprocess.run(
        [sys.executable, "-m", "edge.daemon.bench"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    assert "tensorflow" not in sys.modules
    result = measure()
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    print(json.dumps(result))
