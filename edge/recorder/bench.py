"""Benchmark: the recorder's cost on the sampling thread and its writer's formatting.

``append`` (what the sampling loop pays per sample: a copy into a preallocated block
under a lock) is timed per call, without and with an ``ok`` mask, on a started recorder
writing to a temporary folder; ``format_rows`` (the writer thread's CSV formatting) per
7-IMU sample.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from edge.recorder import Recorder
from edge.recording import bundled_recording_path, read_recording, tile_cycles
from edge.recording.csv_io import format_rows

N_APPENDS = 10_000  # 2 × 100 s of samples at 100 Hz: within the recorder's backlog


def _stats_us(times_ns: np.ndarray) -> tuple[float, float]:
    return round(float(np.median(times_ns)) / 1e3, 2), round(
        float(np.percentile(times_ns, 99)) / 1e3, 2
    )


def run() -> dict:
    cycle = read_recording(bundled_recording_path("P01_walking"))
    data = tile_cycles(cycle, n_cycles=int(2 * N_APPENDS / 100 / 1.2) + 2, rate_hz=100.0)
    imu = np.ascontiguousarray(data.imu[: 2 * N_APPENDS])
    ok = np.ones(imu.shape[1], dtype=bool)
    ok[2] = False
    clock = time.perf_counter_ns
    plain = np.empty(N_APPENDS)
    masked = np.empty(N_APPENDS)
    with tempfile.TemporaryDirectory() as tmp:
        rec = Recorder(
            Path(tmp), device_id="bench", sidecar=data.meta, sample_rate_hz=100.0,
            sensors=data.sensors,
        )  # fmt: skip
        rec.start(note="bench")
        try:
            for i in range(N_APPENDS):
                t0 = clock()
                rec.append(i / 100.0, imu[i])
                plain[i] = clock() - t0
            for i in range(N_APPENDS, 2 * N_APPENDS):
                t0 = clock()
                rec.append(i / 100.0, imu[i], ok)
                masked[i - N_APPENDS] = clock() - t0
        finally:
            rec.close()
    rows = np.column_stack([data.time_s, data.imu.reshape(data.n_samples, -1)])[:6000]
    t0 = time.perf_counter()
    text = format_rows(rows)
    format_s = time.perf_counter() - t0
    append_median, append_p99 = _stats_us(plain)
    masked_median, masked_p99 = _stats_us(masked)
    return {
        "append_median_us": append_median,
        "append_p99_us": append_p99,
        "append_ok_mask_median_us": masked_median,
        "append_ok_mask_p99_us": masked_p99,
        "format_rows_us_per_sample": round(1e6 * format_s / len(rows), 2),
        "csv_bytes_per_sample": round(len(text) / len(rows), 1),
        "sensors": imu.shape[1],
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
