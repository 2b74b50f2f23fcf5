"""Accuracy of a checkpoint or bundle against a recording's ground truth.

Protocol: a mean-cycle file is tiled to ``n_cycles`` (>= 10) cycles at the model's rate;
the model runs causally from the start and the first ``drop_cycles`` (3) cycles are
dropped. A continuous recording is resampled to the model's rate and evaluated after its
first ``drop_seconds`` (3 s). Moments are normalised with the sidecar's height and mass.

Units in the report: angles in degrees, moments in %BW·BH (100·M / (m·g·h)), GRF in %BW,
speed in m/s.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.inference.angle_fusion import DEFAULT_TAU_S
from edge.mounting import mounting_for
from edge.output_spec import ANGLE_CHANNELS, GRF_CHANNELS, JOINT_NAMES, to_published
from edge.recording import Recording, read_recording
from train.inputs import (
    at_model_rate,
    in_segment_axes,
    normalise,
    recording_features,
    sensor_positions,
)

GRAVITY = 9.81
JOINT_CHANNELS = list(JOINT_NAMES)


@dataclass
class LoadedModel:
    """A checkpoint or bundle with one streaming-equivalent ``run``."""

    kind: str  # "checkpoint" | "bundle"
    path: Path
    sample_rate_hz: float
    sensors: list[str]
    _impl: object = field(repr=False, default=None)
    #: "segment" when the model expects its input with the sensor mounting undone.
    input_axes: str = "sensor"

    def run(
        self,
        rec: Recording,
        angle_fusion_tau_s: float | None = DEFAULT_TAU_S,
        stride_speed: bool = True,
    ) -> dict[str, np.ndarray]:
        """Published groups (N, k) for a recording at the model rate, causal from t=0,
        angles from the sensors' orientations (``edge.inference.angle_fusion``; None or
        0: the network's own angles), speed from the foot IMUs' strides once known
        (``edge.inference.stride_speed``; False: the network's own speed)."""
        if self.kind == "checkpoint":
            from train.predict import predict_published

            model, meta = self._impl
            sensor_axes = rec  # the rows as the device gets them
            # the published angles subtract the mounting whatever the model's input axes
            beta = None
            if self.input_axes == "segment":
                rec, mounting = in_segment_axes(rec)
                beta = mounting.angles(self.sensors)
            elif angle_fusion_tau_s:
                beta = mounting_for(rec).angles(self.sensors)
            mean, std = meta.norm_arrays()
            feats = normalise(recording_features(rec, self.sensors), mean, std)
            idx = [rec.sensors.index(s) for s in self.sensors]
            return predict_published(
                model,
                feats,
                sensor_axes.imu[:, idx],
                list(self.sensors),
                self.sample_rate_hz,
                angle_fusion_tau_s=angle_fusion_tau_s,
                mounting_rad=beta,
                stride_speed=stride_speed,
                height_m=rec.meta.participant.height_m,
                sensor_positions_m=sensor_positions(rec, self.sensors),
            )
        from edge.inference import Estimator

        bundle = self._impl
        est = Estimator(
            bundle,
            rec.meta.participant.height_m,
            rec.meta.participant.mass_kg,
            sensor_positions(rec, self.sensors),
            # a segment-axis bundle undoes the same mounting, on the device's code path;
            # the published angles subtract it for either kind
            mounting_rad=mounting_for(rec).angles(self.sensors)
            if self.input_axes == "segment" or angle_fusion_tau_s
            else None,
            angle_fusion_tau_s=angle_fusion_tau_s,
            stride_speed=stride_speed,
        )
        idx = [rec.sensors.index(s) for s in self.sensors]
        return est.run(np.ascontiguousarray(rec.imu[:, idx]))


def load_model(path: str | Path) -> LoadedModel:
    """A checkpoint folder (with ``checkpoint.json``) or a ``*.sspinn`` bundle."""
    path = Path(path)
    if path.is_dir():
        from train.checkpoint import load_checkpoint

        model, meta = load_checkpoint(path)
        return LoadedModel(
            "checkpoint", path, meta.sample_rate_hz, meta.sensors, (model, meta), meta.input_axes
        )
    if path.is_file():
        from edge.bundle import read_bundle

        bundle = read_bundle(path)
        m = bundle.manifest
        return LoadedModel("bundle", path, m.sample_rate_hz, m.sensors, bundle, m.input_axes)
    raise FileNotFoundError(f"{path}: neither a checkpoint folder nor a bundle file")


def mounting_report(rec: Recording, *, applied: bool = False) -> dict:
    """The recording's sensor mounting (sidecar calibration, else estimated from the gait
    alone; see docs/calibration.md), for the report's ``mounting`` key: per sensor the
    sagittal angle β (deg), how it was found and its uncertainty. ``applied`` says whether
    the model undid it before its input (a checkpoint trained with
    ``data.undo_mounting``; the shipped model was trained on uncorrected signals)."""
    from edge.mounting import InsufficientGaitError

    try:
        m = mounting_for(rec)
    except InsufficientGaitError as exc:
        return {"applied": False, "error": str(exc)}
    sensors = {
        name: {
            "angle_deg": round(math.degrees(s.angle_rad), 2),
            "method": s.method,
            "uncertainty_deg": None
            if s.uncertainty_rad is None
            else round(math.degrees(s.uncertainty_rad), 2),
            "confidence": round(s.confidence, 3),
            **({"position_m": [round(v, 4) for v in s.position_m]} if s.position_m else {}),
        }
        for name, s in m.sensors.items()
    }
    truth = getattr(rec.meta, "truth_mounting_rad", None) or {}
    for name, values in sensors.items():
        if name in truth:  # a synthetic recording knows its true mounting
            values["truth_deg"] = round(math.degrees(float(truth[name])), 2)
            values["error_deg"] = round(values["angle_deg"] - values["truth_deg"], 2)
    return {"applied": applied, "sensors": sensors, "warnings": m.warnings}


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


@dataclass
class Evaluation:
    metrics: dict
    time_s: np.ndarray
    estimate: dict[str, np.ndarray]  # channel -> (n,) in report units
    truth: dict[str, np.ndarray]
    cycle_duration_s: float | None
    #: (K,) right heel strikes inside the evaluated window (s), from the sidecar's events
    stride_starts_s: np.ndarray = field(default_factory=lambda: np.zeros(0))


def evaluate(
    model: LoadedModel,
    data: str | Path | Recording,
    *,
    n_cycles: int = 10,
    drop_cycles: int = 3,
    drop_seconds: float = 3.0,
    warmup_s: float = 20.0,
    angle_fusion_tau_s: float | None = DEFAULT_TAU_S,
    stride_speed: bool = True,
) -> Evaluation:
    """Run ``model`` on ``data`` and compare with its truth columns (see module doc);
    ``angle_fusion_tau_s`` as on the device (None or 0: the network's own angles),
    ``stride_speed`` likewise (False: the network's own speed).

    A mean-cycle recording is tiled and its first ``max(drop_cycles, warmup_s)`` dropped
    (the angle fusion's bias state settles in about 5τ), then ``n_cycles`` evaluated; a
    continuous one is evaluated after its first ``drop_seconds``."""
    rec = data if isinstance(data, Recording) else read_recording(data)
    mean_cycle = rec.is_mean_cycle
    if mean_cycle:
        cycle_s = float(rec.meta.cycle_duration_s)
        drop_cycles = max(drop_cycles, math.ceil(warmup_s / cycle_s - 1e-9))
    rec = at_model_rate(rec, model.sample_rate_hz, min_cycles=drop_cycles + n_cycles)
    out = model.run(rec, angle_fusion_tau_s, stride_speed)
    start_t = drop_cycles * cycle_s if mean_cycle else rec.time_s[0] + drop_seconds
    keep = rec.time_s >= start_t - 1e-9
    if keep.sum() < 10:
        raise ValueError(f"recording too short to evaluate after dropping {start_t:.2f} s")
    height, mass = rec.meta.participant.height_m, rec.meta.participant.mass_kg
    est: dict[str, np.ndarray] = {}
    for j, ch in enumerate(ANGLE_CHANNELS):
        est[ch] = out["angles_deg"][keep, j]
    for j, ch in enumerate(JOINT_CHANNELS):
        est[f"{ch}_moment"] = 100.0 * out["moments_bwbh"][keep, j]
    for j, ch in enumerate(GRF_CHANNELS):
        est[ch] = 100.0 * out["grf_bw"][keep, j]
    est["speed_m_s"] = out["speed_m_s"][keep, 0]
    truth: dict[str, np.ndarray] = {}
    for name, values in rec.truth.items():
        v = values[keep]
        if name in ANGLE_CHANNELS:
            truth[name] = to_published("angles_deg", v)
        elif name.endswith("_moment"):
            truth[name] = 100.0 * v / (mass * GRAVITY * height)
        elif name in GRF_CHANNELS:
            truth[name] = 100.0 * v
        elif name == "speed_m_s":
            truth[name] = v
    metrics: dict = {
        "model": str(model.path),
        "model_kind": model.kind,
        "data": str(rec.meta.trial or getattr(data, "name", data)),
        "samples_evaluated": int(keep.sum()),
        "sample_rate_hz": model.sample_rate_hz,
        "angle_fusion_tau_s": float(angle_fusion_tau_s or 0.0),
    }
    groups = {
        "angle_rmse_deg": [c for c in ANGLE_CHANNELS if c in truth],
        "moment_rmse_bwbh": [f"{c}_moment" for c in JOINT_CHANNELS if f"{c}_moment" in truth],
        "grf_rmse_bw_pct": [c for c in GRF_CHANNELS if c in truth],
    }
    corr: dict[str, float] = {}
    for key, channels in groups.items():
        if not channels:
            continue
        per = {c: _rmse(est[c], truth[c]) for c in channels}
        per["mean"] = float(np.mean(list(per.values())))
        metrics[key] = per
        corr.update({c: _pearson(est[c], truth[c]) for c in channels})
    if corr:
        metrics["pearson_r"] = corr
    if groups["angle_rmse_deg"]:
        # RMSE² = offset² + shape²: a constant offset is posture or mounting, the rest shape
        err = {c: est[c] - truth[c] for c in groups["angle_rmse_deg"]}
        metrics["angle_offset_deg"] = {c: float(np.mean(e)) for c, e in err.items()}
        metrics["angle_shape_sd_deg"] = {c: float(np.std(e)) for c, e in err.items()}
    speed_est = float(np.mean(est["speed_m_s"]))
    metrics["speed_estimate_m_s"] = speed_est
    true_speed = float(np.mean(truth["speed_m_s"])) if "speed_m_s" in truth else rec.meta.speed_m_s
    if true_speed is not None:
        metrics["speed_true_m_s"] = float(true_speed)
        metrics["speed_abs_err_m_s"] = abs(speed_est - float(true_speed))
    fy = est["grf_y_r"] + est["grf_y_l"]
    metrics["flight_fraction"] = float(np.mean(fy < 5.0))  # total vertical GRF < 5 %BW
    metrics["peak_vertical_grf_bw_pct"] = float(np.max(fy))
    metrics["stance"] = {side: stance_summary(est[f"grf_y_{side}"]) for side in ("r", "l")}
    metrics["mounting"] = mounting_report(rec, applied=model.input_axes == "segment")
    t_kept = rec.time_s[keep]
    strikes = np.array(
        [rec.time_s[i] for label, i in rec.meta.events if label == "R_HS" and i < len(rec.time_s)]
    )
    strikes = strikes[(strikes >= t_kept[0]) & (strikes <= t_kept[-1])]
    return Evaluation(metrics, t_kept, est, truth, rec.meta.cycle_duration_s, strikes)


def stance_summary(
    fy_bw_pct: np.ndarray, threshold_bw_pct: float = 5.0
) -> dict[str, float | int | None]:
    """One foot's stance: the share of frames it carries load and its typical peak.

    Args:
        fy_bw_pct: (N,) the foot's vertical GRF, %BW.
        threshold_bw_pct: load that counts as contact, %BW.

    Returns:
        ``fraction`` of frames in contact (0..1), ``phases``: complete contact phases
        (not cut by the start or end), ``peak_vertical_grf_bw_pct``: median over those
        phases of each phase's peak (None when there is none).
    """
    on = np.asarray(fy_bw_pct) > threshold_bw_pct
    edges = np.flatnonzero(np.diff(on.astype(np.int8)))
    peaks = []
    starts = edges[~on[edges]] + 1  # off → on
    for start in starts:
        ends = edges[(edges >= start) & on[edges]]
        if ends.size:
            peaks.append(float(np.max(fy_bw_pct[start : ends[0] + 1])))
    return {
        "fraction": float(np.mean(on)),
        "phases": len(peaks),
        "peak_vertical_grf_bw_pct": float(np.median(peaks)) if peaks else None,
    }


def _fold(
    t: np.ndarray, x: np.ndarray, period: float, bins: int = 100
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    phase = ((t - t[0]) % period) / period
    idx = np.minimum((phase * bins).astype(int), bins - 1)
    mean = np.array([x[idx == b].mean() if np.any(idx == b) else np.nan for b in range(bins)])
    sd = np.array([x[idx == b].std() if np.any(idx == b) else np.nan for b in range(bins)])
    return np.linspace(0, 100, bins, endpoint=False), mean, sd


def _strides(
    t: np.ndarray, x: np.ndarray, starts: np.ndarray, bins: int = 100
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and sd over strides (heel strike to heel strike), each time-normalised."""
    phase = np.linspace(0.0, 1.0, bins, endpoint=False)
    rows = [np.interp(a + phase * (b - a), t, x) for a, b in itertools.pairwise(starts)]
    stack = np.array(rows)
    return 100.0 * phase, stack.mean(axis=0), stack.std(axis=0)


def plot_evaluation(ev: Evaluation, path: str | Path) -> Path:
    """PNG: estimate (mean ± sd over cycles) vs truth per channel over the gait cycle: a
    mean-cycle recording folded at its cycle duration, a continuous one cut at its right
    heel strikes (sidecar events); without either, the last 6 s against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    channels = [c for c in ev.estimate if c in ev.truth] or [
        c
        for c in (
            "knee_angle_r",
            "hip_flexion_r",
            "ankle_angle_r",
            "grf_y_r",
            "grf_y_l",
            "speed_m_s",
        )
    ]
    if ev.cycle_duration_s:
        period = float(ev.cycle_duration_s)

        def fold(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return _fold(ev.time_s, x, period)

        xlabel = "% gait cycle"
    elif len(ev.stride_starts_s) >= 3:

        def fold(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return _strides(ev.time_s, x, ev.stride_starts_s)

        xlabel = f"% gait cycle ({len(ev.stride_starts_s) - 1} strides)"
    else:
        last = ev.time_s >= ev.time_s[-1] - 6.0

        def fold(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return ev.time_s[last], x[last], np.zeros(int(last.sum()))

        xlabel = "time (s)"
    ncol = 3
    nrow = math.ceil(len(channels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 2.8 * nrow), squeeze=False)
    units = {"_moment": "%BW·BH", "grf_": "%BW", "speed": "m/s"}
    for ax, ch in zip(axes.flat, channels, strict=False):
        x, m, s = fold(ev.estimate[ch])
        ax.plot(x, m, color="C0", label="estimate")
        ax.fill_between(x, m - s, m + s, color="C0", alpha=0.25)
        if ch in ev.truth:
            _, tm, _ = fold(ev.truth[ch])
            ax.plot(x, tm, color="k", lw=1.5, label="truth")
        unit = next((u for k, u in units.items() if k in ch), "deg")
        ax.set_title(ch, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(channels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    m = ev.metrics
    title = f"{m['data']} — {Path(m['model']).name}"
    if "angle_rmse_deg" in m:
        title += (
            f"\nangles {m['angle_rmse_deg']['mean']:.1f}°, "
            f"moments {m.get('moment_rmse_bwbh', {}).get('mean', float('nan')):.1f} %BW·BH, "
            f"GRF {m.get('grf_rmse_bw_pct', {}).get('mean', float('nan')):.1f} %BW, "
            f"speed err {m.get('speed_abs_err_m_s', float('nan')):.2f} m/s"
        )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
