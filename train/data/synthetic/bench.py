"""Benchmark (``make bench``): synthesise 10 minutes of 7-IMU data at 100 Hz.

The same recordings as ``sspinn-synth --minutes 10 --seed 0`` (gait targets, consistent
trajectories, inverse dynamics, virtual IMU and IMU errors), in memory; writing the CSV
files is the recording format's benchmark. Target: at most 120 s on the project machine.
"""

from __future__ import annotations

import time

from train.data.synthetic.gait_library import gait_library
from train.data.synthetic.generator import synthesize, training_specs

MINUTES = 10.0
RATE_HZ = 100.0
TARGET_S = 120.0


def run() -> dict:
    t0 = time.perf_counter()
    gait_library()  # load + calibrate the mean cycles once
    library_s = time.perf_counter() - t0
    specs = training_specs(MINUTES, seed=0, rate_hz=RATE_HZ)
    t0 = time.perf_counter()
    samples = 0
    for spec in specs:
        samples += synthesize(spec).n_samples
    generate_s = time.perf_counter() - t0
    return {
        "minutes": MINUTES,
        "rate_hz": RATE_HZ,
        "recordings": len(specs),
        "samples": samples,
        "library_s": round(library_s, 2),
        "generate_10min_s": round(generate_s, 2),
        "target_generate_10min_s": TARGET_S,
        "meets_target": generate_s <= TARGET_S,
    }
