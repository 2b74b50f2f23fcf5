"""Benchmark: per-step latency of the shipped bundle (``Estimator.step``).

LiteRT, 1 thread, feature assembly, output scaling, angle fusion and stride speed
included, on real walking data at the model rate; the interpreter's invoke alone is
timed in the same loop (interleaved, so both see the same machine load) and the
difference is our own overhead. Target (issue 15): step median <= 25 µs on this machine.
"""

from __future__ import annotations

from converters.pipeline import latency, verification_input
from edge.bundle import read_bundle
from edge.daemon.simulate import default_bundle_path
from edge.recording import bundled_recording_path
from train.checkpoint import read_checkpoint_meta
from train.inputs import at_model_rate

TARGET_MEDIAN_US = 25.0


def run() -> dict:
    from converters.cli import default_checkpoint

    bundle = read_bundle(default_bundle_path())
    meta = read_checkpoint_meta(default_checkpoint())
    rec = at_model_rate(bundled_recording_path("P01_walking"), bundle.manifest.sample_rate_hz)
    v = verification_input(rec, meta)
    lat = latency(bundle, v, meta, n=20000)
    plain = latency(bundle, v, meta, n=20000, angle_fusion_tau_s=None)
    no_strides = latency(bundle, v, meta, n=20000, stride_speed=False)
    return {
        "bundle": str(default_bundle_path()),
        "quantization": bundle.manifest.quantization,
        "bundle_bytes": default_bundle_path().stat().st_size,
        "step_latency_median_us": lat["median_us"],
        "step_latency_p99_us": lat["p99_us"],
        "invoke_median_us": lat["invoke_median_us"],
        "invoke_p99_us": lat["invoke_p99_us"],
        "overhead_median_us": lat["overhead_median_us"],
        # the same without the gyroscope fusion of the angles: the difference is its cost
        "step_latency_without_angle_fusion_median_us": plain["median_us"],
        # ... and without the stride speed (edge.inference.stride_speed)
        "step_latency_without_stride_speed_median_us": no_strides["median_us"],
        "target_median_us": TARGET_MEDIAN_US,
        "meets_target": lat["median_us"] <= TARGET_MEDIAN_US,
    }
