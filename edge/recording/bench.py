"""Benchmark: reading, writing and resampling an hour of 7-IMU data at 100 Hz."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from edge.recording import (
    bundled_recording_path,
    read_recording,
    resample,
    tile_cycles,
    write_recording,
)


def run() -> dict:
    cycle = read_recording(bundled_recording_path("P01_walking"))
    t0 = time.perf_counter()
    hour = tile_cycles(cycle, n_cycles=int(3600 / 1.2135), rate_hz=100.0)
    tile_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = write_recording(hour, Path(tmp) / "hour.csv")
        write_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        back = read_recording(path)
        read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    resample(back, 60.0)
    resample_s = time.perf_counter() - t0
    return {
        "samples": hour.n_samples,
        "columns": len(hour.columns),
        "csv_size_mb": round(size_mb, 1),
        "tile_at_100hz_s": round(tile_s, 3),
        "write_s": round(write_s, 3),
        "read_s": round(read_s, 3),
        "resample_100_to_60hz_s": round(resample_s, 3),
    }
