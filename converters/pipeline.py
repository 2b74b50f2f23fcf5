"""Checkpoint → verified bundle, with a parity / latency / size report."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from converters.export import export_streaming_saved_model
from converters.manifest_builder import build_manifest
from converters.tflite_convert import convert_saved_model
from edge.bundle import Bundle, Manifest, build_bundle, read_bundle
from edge.bundle.signing import SigningKey
from edge.inference import Estimator, LiteRTStepper
from edge.inference.angle_fusion import DEFAULT_TAU_S
from edge.inference.estimator import PUBLISHED_GROUPS
from edge.mounting import InsufficientGaitError, Mounting
from edge.recording import Recording
from train.checkpoint import CheckpointMeta, load_checkpoint
from train.inputs import (
    at_model_rate,
    in_segment_axes,
    normalise,
    recording_features,
    sensor_positions,
)
from train.predict import predict_published

log = logging.getLogger(__name__)

#: Streaming steps kept for int8 calibration.
REPRESENTATIVE_STEPS = 600


@dataclass
class Verification:
    """One verification recording at the model rate, as the device will stream it, and
    the features the checkpoint was trained on (segment axes for a segment-axis one)."""

    rec: Recording  # as measured (sensor axes): what the device's estimator gets
    features: np.ndarray  # (N, F) float32 normalised: what the Keras model gets
    mounting_rad: np.ndarray | None  # (S,) what the estimator undoes (segment-axis only)
    mounting: dict | None = None  # per sensor angle_deg / method for the report


@dataclass
class ConversionResult:
    bundle_bytes: bytes
    bundle: Bundle
    report: dict = field(default_factory=dict)


def _unsigned_bundle(manifest: Manifest, model: bytes) -> Bundle:
    return read_bundle(build_bundle(manifest, model))


def _features(rec: Recording, meta: CheckpointMeta) -> np.ndarray:
    mean, std = meta.norm_arrays()
    return normalise(recording_features(rec, meta.sensors), mean, std)


def verification_input(rec: Recording, meta: CheckpointMeta) -> Verification:
    """The Keras reference's input as in training: for a segment-axis checkpoint the
    recording's mounting undone (``train.inputs.in_segment_axes``: the one rule of
    ``edge.mounting.rule``); the bundle gets the recording as measured and that mounting,
    and undoes it on the device's code path (``Estimator(mounting_rad=...)``)."""
    if meta.input_axes != "segment":
        return Verification(rec, _features(rec, meta), None)
    try:
        undone, mounting = in_segment_axes(rec)
    except InsufficientGaitError as exc:
        # Parity needs the same input on both sides, not the right mounting: check this
        # recording with none undone (a walk-run transition has too few even strides).
        log.warning("%s: no mounting estimate (%s); parity checked with none undone",
                    rec.meta.trial or rec.path, exc)  # fmt: skip
        mounting = Mounting.zero(list(meta.sensors))
        undone = rec
    report = {
        name: {"angle_deg": round(float(np.degrees(m.angle_rad)), 2), "method": m.method}
        for name, m in mounting.sensors.items()
        if name in meta.sensors
    }
    return Verification(rec, _features(undone, meta), mounting.angles(meta.sensors), report)


def collect_representative(
    float_bundle: Bundle, feature_sets: Sequence[np.ndarray], n_steps: int = REPRESENTATIVE_STEPS
) -> list[dict[str, np.ndarray]]:
    """Inputs and LSTM states met while streaming real recordings through the float model."""
    stepper = LiteRTStepper(float_bundle)
    samples: list[dict[str, np.ndarray]] = []
    per_set = max(1, n_steps // max(1, len(feature_sets)))
    for feats in feature_sets:
        stepper.reset()
        keep = set(np.linspace(0, len(feats) - 1, per_set).astype(int).tolist())
        for i, row in enumerate(feats):
            state_h, state_c = (s.copy() for s in stepper._states)
            stepper.step(row[None, :])
            if i in keep:
                samples.append({"imu": row[None, :].copy(), "lstm_h": state_h, "lstm_c": state_c})
    return samples


def parity(bundle: Bundle, model: keras.Model, v: Verification, meta: CheckpointMeta) -> dict:
    """Max abs difference per output group: bundle streamed step by step vs Keras.

    Both in published form (:func:`train.predict.predict_published` takes the angles
    from the sensors' orientations and makes the GRF admissible as the device's estimator
    does; the speed is the network's on both sides, not the stride speed), so the figures
    measure the conversion only. Also relative to each group's range in the Keras
    output (max over channels of max|diff| / (max - min)).
    """
    rec = v.rec
    est = Estimator(
        bundle,
        rec.meta.participant.height_m,
        rec.meta.participant.mass_kg,
        sensor_positions(rec, meta.sensors),
        mounting_rad=v.mounting_rad,
        stride_speed=False,  # the network's speed on both sides: the conversion's parity
    )
    idx = [rec.sensors.index(s) for s in meta.sensors]
    streamed = est.run(rec.imu[:, idx])
    reference = predict_published(
        model,
        v.features,
        rec.imu[:, idx],
        list(meta.sensors),
        meta.sample_rate_hz,
        mounting_rad=v.mounting_rad,
        stride_speed=False,
        height_m=rec.meta.participant.height_m,
        sensor_positions_m=sensor_positions(rec, meta.sensors),
    )
    result = {}
    for group in PUBLISHED_GROUPS:
        diff = np.abs(streamed[group] - reference[group])
        span = np.ptp(reference[group], axis=0)
        rel = diff.max(axis=0) / np.maximum(span, 1e-6)
        result[group] = {"max_abs": float(diff.max()), "max_rel_to_range": float(rel.max())}
    return result


def latency(
    bundle: Bundle,
    v: Verification,
    meta: CheckpointMeta,
    n: int = 3000,
    angle_fusion_tau_s: float | None = DEFAULT_TAU_S,
    stride_speed: bool = True,
) -> dict:
    """Per-step latency in µs, 1 thread, feature assembly (with the mounting undone for a
    segment-axis bundle), output scaling, the angle fusion (None: without) and the stride
    speed (False: without) included;
    and the interpreter's invoke alone, timed the same way, so ``overhead_us`` (median
    step − median invoke) is ours."""
    rec = v.rec
    est = Estimator(
        bundle,
        rec.meta.participant.height_m,
        rec.meta.participant.mass_kg,
        sensor_positions(rec, meta.sensors),
        mounting_rad=v.mounting_rad,
        num_threads=1,
        angle_fusion_tau_s=angle_fusion_tau_s,
        stride_speed=stride_speed,
    )
    idx = [rec.sensors.index(s) for s in meta.sensors]
    imu = np.ascontiguousarray(rec.imu[:, idx])
    times = np.empty(n)
    invokes = np.empty(n)
    for i in range(200):
        est.step(imu[i % len(imu)])
    clock = time.perf_counter_ns
    invoke = est.stepper.invoke_interpreter
    for i in range(n):
        row = imu[i % len(imu)]
        t0 = clock()
        est.step(row)
        t1 = clock()
        invoke()
        invokes[i] = clock() - t1
        times[i] = t1 - t0
    step_median = float(np.median(times)) / 1e3
    invoke_median = float(np.median(invokes)) / 1e3
    return {
        "median_us": round(step_median, 2),
        "p99_us": round(float(np.percentile(times, 99)) / 1e3, 2),
        "invoke_median_us": round(invoke_median, 2),
        "invoke_p99_us": round(float(np.percentile(invokes, 99)) / 1e3, 2),
        "overhead_median_us": round(step_median - invoke_median, 2),
        "steps": n,
        "threads": 1,
    }


def convert_checkpoint(
    checkpoint: str | Path,
    mode: str,
    recordings: Sequence[Recording | str | Path],
    *,
    signing_key: SigningKey | None = None,
    provenance: dict | None = None,
) -> ConversionResult:
    """Convert a checkpoint to a bundle and report parity, latency, size and ops.

    Args:
        recordings: real and synthetic recordings (paths or Recordings) for int8
            calibration and the parity check; mean cycles are tiled at the model rate.
    """
    model, meta = load_checkpoint(checkpoint)
    recs = [at_model_rate(r, meta.sample_rate_hz) for r in recordings]
    checks = [verification_input(r, meta) for r in recs]
    feature_sets = [v.features for v in checks]
    with tempfile.TemporaryDirectory(prefix="sspinn-convert-") as tmp:
        saved, _ = export_streaming_saved_model(model, meta.network, Path(tmp) / "saved")
        float_model = convert_saved_model(saved, "float32")
        float_bundle = _unsigned_bundle(build_manifest(meta, "float32", float_model), float_model)
        if mode == "float32":
            model_bytes = float_model
        else:
            rep = collect_representative(float_bundle, feature_sets) if mode == "int8" else None

            def representative() -> Iterator[dict[str, np.ndarray]]:
                yield from rep or []

            model_bytes = convert_saved_model(saved, mode, representative if rep else None)
    manifest = build_manifest(meta, mode, model_bytes, provenance=provenance)
    data = build_bundle(manifest, model_bytes, signing_key)
    bundle = read_bundle(data)
    stepper = LiteRTStepper(bundle)
    report: dict = {
        "checkpoint": str(checkpoint),
        "model_id": meta.model_id,
        "version": meta.model_version,
        "quantization": mode,
        "input_axes": meta.input_axes,
        "parameters": int(model.count_params()),
        "tflite_bytes": len(model_bytes),
        "bundle_bytes": len(data),
        "ops": stepper.ops(),
        "flex_or_custom_ops": [o for o in stepper.ops() if o.startswith(("Flex", "CUSTOM"))],
        "signed": signing_key is not None,
        "parity": {},
    }
    for v in checks:
        name = v.rec.meta.trial or "recording"
        report["parity"][name] = parity(bundle, model, v, meta)
        if v.mounting is not None:
            report.setdefault("mounting", {})[name] = v.mounting
    report["latency"] = latency(bundle, checks[0], meta)
    report["accuracy"] = accuracy(bundle, checkpoint, recordings)
    return ConversionResult(data, bundle, report)


ACCURACY_KEYS = ("angle_rmse_deg", "moment_rmse_bwbh", "grf_rmse_bw_pct")


def accuracy(bundle: Bundle, checkpoint: str | Path, recordings: Sequence) -> dict:
    """``sspinn-eval`` metrics of the bundle next to the checkpoint's, per labelled
    recording, and the bundle's loss (bundle − checkpoint) of each mean RMSE."""
    from train.evaluation import LoadedModel, evaluate, load_model

    ckpt = load_model(checkpoint)
    m = bundle.manifest
    as_model = LoadedModel(
        "bundle", Path("<converted bundle>"), m.sample_rate_hz, m.sensors, bundle, m.input_axes
    )
    out: dict = {}
    for rec in recordings:
        loaded = rec if isinstance(rec, Recording) else None
        if loaded is None:
            from edge.recording import read_recording

            loaded = read_recording(rec)
        if not loaded.truth:
            continue
        try:
            a = evaluate(ckpt, loaded).metrics
            b = evaluate(as_model, loaded).metrics
        except InsufficientGaitError as exc:  # a segment-axis model needs the mounting
            log.warning("%s: not evaluated: no mounting estimate (%s)", loaded.meta.trial, exc)
            out[loaded.meta.trial or "recording"] = {"skipped": f"no mounting estimate: {exc}"}
            continue
        entry: dict = {"checkpoint": {}, "bundle": {}, "loss": {}}
        for key in (*ACCURACY_KEYS, "speed_abs_err_m_s"):
            if key not in a:
                continue
            va = a[key]["mean"] if isinstance(a[key], dict) else a[key]
            vb = b[key]["mean"] if isinstance(b[key], dict) else b[key]
            entry["checkpoint"][key] = va
            entry["bundle"][key] = vb
            entry["loss"][key] = vb - va
        out[loaded.meta.trial or "recording"] = entry
    return out
