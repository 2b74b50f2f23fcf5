"""Benchmark (``make bench``): forward + gradient of the full physics loss.

Batch 32 x 256 time steps, float32, compiled with ``tf.function`` (fixed input
signature), one body (height, mass) and one set of sensor positions per sequence as in
training: Kane residual (normalised), virtual IMU of all 7 sensors against measured
signals, and the five contact consistency terms; gradients with respect to q, q-dot,
q-ddot, moments, contact forces and sensor positions. Reports the median of several
timed runs after warm-up.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import tensorflow as tf

from train.physics.constants import SENSORS
from train.physics.parameters import BodyParameters
from train.physics.reference import load_reference
from train.physics.terms import physics_loss_terms, unit_weight_total

BATCH = 32
STEPS = 256
TARGET_MS = 50.0


def _inputs(batch: int, steps: int, dtype: tf.DType) -> list[tf.Tensor]:
    """Reference-stride states tiled to (batch, steps) with per-sequence phase offsets."""
    ref = load_reference()
    rng = np.random.default_rng(0)
    idx = (np.arange(steps)[None, :] + rng.integers(0, ref.rows, size=(batch, 1))) % ref.rows
    np_dtype = dtype.as_numpy_dtype
    arrays = [
        ref.q[idx],
        ref.qd[idx],
        ref.qdd[idx],
        ref.moments[idx],
        ref.contact_force_n[idx],
        np.broadcast_to(ref.sensor_positions, (batch, *ref.sensor_positions.shape)),
        ref.imu[idx] + 0.1 * rng.standard_normal(ref.imu[idx].shape),
    ]
    return [tf.constant(a.astype(np_dtype)) for a in arrays]


def make_step(
    batch: int = BATCH, steps: int = STEPS, dtype: tf.DType = tf.float32, jit: bool = False
) -> tuple[Any, list[tf.Tensor]]:
    """A compiled ``step(*inputs) -> (loss, gradients)`` and its inputs."""
    inputs = _inputs(batch, steps, dtype)
    # one body per sequence, as in training (heights 1.55..1.95 m, masses 50..95 kg)
    inputs.append(tf.constant(np.linspace(1.55, 1.95, batch), dtype))
    inputs.append(tf.constant(np.linspace(50.0, 95.0, batch), dtype))
    spec = [tf.TensorSpec(t.shape, dtype) for t in inputs]

    @tf.function(input_signature=spec, jit_compile=jit, reduce_retracing=True)
    def step(q, qd, qdd, moments, forces, positions, measured, height, mass):  # type: ignore[no-untyped-def]
        params = BodyParameters.from_height_mass(height, mass, dtype=dtype)
        with tf.GradientTape() as tape:
            tape.watch([q, qd, qdd, moments, forces, positions])
            total = unit_weight_total(
                physics_loss_terms(
                    q,
                    qd,
                    qdd,
                    moments,
                    forces,
                    params,
                    sensor_segments=SENSORS,
                    sensor_positions=positions,
                    measured_imu=measured,
                )
            )
        grads = tape.gradient(total, [q, qd, qdd, moments, forces, positions])
        return total, grads

    return step, inputs


def _time_ms(step: Any, inputs: list[tf.Tensor], repeats: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        _, grads = step(*inputs)
        grads[0].numpy()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, grads = step(*inputs)
        for g in grads:
            g.numpy()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def run(repeats: int = 30) -> dict[str, Any]:
    """Measure; returns milliseconds per batch (median and spread) and the target check."""
    step, inputs = make_step()
    times = _time_ms(step, inputs, repeats)
    result: dict[str, Any] = {
        "what": "forward + gradient of the full physics loss (EOM residual, 7-sensor virtual "
        "IMU, contact terms; per-sequence body parameters), tf.function, float32",
        "batch": BATCH,
        "steps": STEPS,
        "dtype": "float32",
        "forward_grad_ms": round(statistics.median(times), 3),
        "forward_grad_min_ms": round(min(times), 3),
        "forward_grad_max_ms": round(max(times), 3),
        "repeats": repeats,
        "target_forward_grad_ms": TARGET_MS,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }
    result["meets_target"] = result["forward_grad_ms"] <= TARGET_MS
    try:  # XLA is optional; report it when the runtime supports it
        step_xla, _ = make_step(jit=True)
        xla_times = _time_ms(step_xla, inputs, repeats)
        result["forward_grad_xla_ms"] = round(statistics.median(xla_times), 3)
    except Exception as exc:  # pragma: no cover - depends on the TF build
        result["forward_grad_xla_ms"] = None
        result["xla_error"] = f"{type(exc).__name__}: {exc}"[:200]
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
