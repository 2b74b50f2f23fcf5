"""Personal adaptation: fine-tune a trained model on a wearer's own unlabelled recordings.

``sspinn-adapt`` (``train/adapt_cli.py``) runs, in this order:

1. :func:`read_base` — the checkpoint's ``checkpoint.json`` (sensors, rate, input axes and
   the training config it was made with, ``provenance.config``), without TensorFlow.
2. :func:`load_recordings` — the wearer's recordings: CSVs with sidecars, bundled ones
   (``bundled:NAME`` or ``NAME``) or recorder session folders (closed segments, joined
   where they are contiguous), read with :func:`edge.recording.read_recording`; truth
   columns are dropped; every sensor the model needs must be there. Still no TensorFlow.
3. :func:`prepare` — the model's input path of the base training: the model rate (a mean
   cycle is tiled with stride-to-stride variation, anything else resampled), mounting
   undone when the checkpoint expects segment axes; then per sample the stretches where
   the pelvis turns about the vertical (:func:`turning_mask`: the body model is planar),
   standing (:func:`standing_mask`) and sensor gaps, and per window what is left out
   (:func:`select_windows`).
4. :func:`adapt` — Adam on the self-supervised loss of the base config (same weights,
   same contact settings), the dynamics terms fully on from the first step (the model is
   already trained: no physics ramp), a short learning-rate warmup and a cosine decay
   over the wall-clock budget; half of every batch (``replay_fraction``) comes from the
   base model's own training data so that it does not forget. Writes a checkpoint folder
   (``sspinn-eval``, ``sspinn-convert``), ``history.json`` and ``adaptation.json``.

Only the last two steps import TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.recording import (
    PLANAR_CHANNEL_INDEX,
    Recording,
    RecordingError,
    bundled_recording_names,
    bundled_recording_path,
    read_recording,
)

if TYPE_CHECKING:
    from train.config import TrainConfig

log = logging.getLogger(__name__)

#: File names in the output folder besides the checkpoint's own.
REPORT_FILE = "adaptation.json"
HISTORY_FILE = "history.json"
#: Sensors whose yaw rate may stand in for the pelvis's, in order of preference.
TURN_SENSORS = ("pelvis", "femur_r", "femur_l", "tibia_r", "tibia_l")
#: Sensors whose sagittal angular velocity tells walking from standing.
LEG_SENSORS = ("femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l")
#: Recordings slower than this fraction of the model rate are refused (too little gait
#: content survives to be worth resampling).
MIN_RATE_FRACTION = 0.3


class AdaptError(ValueError):
    """Adaptation cannot go on; the message is one line for the user (exit status 2)."""


class AdaptSettings(BaseModel):
    """How ``sspinn-adapt`` fine-tunes (the network, loss weights, window length, batch
    size, noise and input path are the base model's own)."""

    model_config = ConfigDict(extra="forbid")

    minutes: float = Field(
        8.0,
        gt=0,
        description="Wall-clock budget of the whole command (loading, training, saving), "
        "min; 8 keeps it under 10 min on a 2-core CPU",
    )
    max_steps: int | None = Field(None, ge=1, description="Stop after this many steps")
    learning_rate: float = Field(
        2e-4, gt=0, description="Peak learning rate (the default model trained 2e-3 → 1e-4)"
    )
    final_learning_rate: float = Field(2e-5, gt=0, description="At the end of the budget")
    warmup_steps: int = Field(
        20, ge=0, description="Linear learning-rate warmup (Adam restarts with empty moments)"
    )
    replay_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of every batch from the base model's own training data (its "
        "config's real recordings and synthetic data), so that it does not forget",
    )
    replay_synthetic_minutes: float = Field(
        2.0, ge=0, description="At most this much of the base config's synthetic data, min"
    )
    turn_rate_deg_s: float = Field(
        15.0, gt=0, description="Smoothed yaw rate of the pelvis above which it is turning"
    )
    turn_smoothing_s: float = Field(
        3.0, gt=0, description="Hann window over the yaw rate (averages the stride's rotation)"
    )
    turn_margin_s: float = Field(0.5, ge=0, description="Widening of each turning stretch, s")
    standing_gyr_rad_s: float = Field(
        0.3, gt=0, description="Leg gyroscopes' 1-s spread (sagittal) below which one stands"
    )
    max_standing_share: float = Field(
        0.25, ge=0, le=1, description="Most of the wearer's windows that may be standing"
    )
    max_gap_s: float = Field(0.5, gt=0, description="Longest sensor gap a window may hold, s")
    max_missing_share: float = Field(
        0.2, ge=0, le=1, description="Largest share of missing samples of one sensor in a window"
    )
    eval_windows: int = Field(
        64, ge=1, description="Fixed windows for the loss before/after (each side)"
    )
    seed: int = 0
    log_every: int = Field(25, ge=1)


# --------------------------------------------------------------------------- base model


@dataclass
class BaseInfo:
    """What ``checkpoint.json`` says, read without TensorFlow."""

    path: Path
    model_id: str
    step: int
    sensors: list[str]
    sample_rate_hz: float
    input_axes: str
    config: dict | None
    raw: dict = field(repr=False)


def read_base(path: str | Path) -> BaseInfo:
    """The base checkpoint's metadata (no TensorFlow); :class:`AdaptError` when ``path``
    is not a checkpoint folder."""
    path = Path(path)
    if path.is_file() and path.suffix == ".sspinn":
        raise AdaptError(
            f"{path}: a converted bundle cannot be adapted; pass the checkpoint folder it was "
            "converted from"
        )
    meta_path = path / "checkpoint.json"
    if not path.is_dir():
        raise AdaptError(f"{path}: no such model (a checkpoint folder with checkpoint.json)")
    if not meta_path.is_file():
        raise AdaptError(
            f"{path}: not a checkpoint (no checkpoint.json); pass the folder sspinn-train "
            "wrote (OUT/checkpoint) or sspinn-adapt wrote"
        )
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
        return BaseInfo(
            path=path,
            model_id=str(raw.get("model_id", "sspinn")),
            step=int(raw.get("step", 0)),
            sensors=list(raw["sensors"]),
            sample_rate_hz=float(raw["sample_rate_hz"]),
            input_axes=str(raw.get("input_axes", "sensor")),
            config=(raw.get("provenance") or {}).get("config"),
            raw=raw,
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AdaptError(f"{meta_path}: unreadable checkpoint metadata ({exc})") from exc


def base_training_config(base: BaseInfo, override: str | Path | None = None) -> TrainConfig:
    """The config the base model was trained with (``provenance.config``), or ``override``
    (a TOML/JSON training config) for a checkpoint that lacks one. Imports TensorFlow."""
    from pydantic import ValidationError

    from train.config import ConfigError, TrainConfig, load_train_config

    if override is not None:
        try:
            return load_train_config(override)
        except ConfigError as exc:
            raise AdaptError(str(exc)) from exc
    if base.config is None:
        raise AdaptError(
            f"{base.path}: the checkpoint does not record its training config "
            "(provenance.config); pass the one it was trained with: --config FILE"
        )
    try:
        return TrainConfig.model_validate(base.config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AdaptError(
            f"{base.path}: its training config no longer validates ({where}: {first['msg']}); "
            "pass a current one: --config FILE"
        ) from exc


# --------------------------------------------------------------------------- recordings


@dataclass
class UserRecording:
    """One of the wearer's recordings (a CSV, or a recorder session's contiguous segments)."""

    label: str
    rec: Recording
    files: list[Path]
    #: Filled in by :func:`prepare`.
    source_rate_hz: float | None = None
    notes: list[str] = field(default_factory=list)
    turning: np.ndarray | None = field(default=None, repr=False)
    standing: np.ndarray | None = field(default=None, repr=False)
    turn_sensor: str | None = None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_spec(spec: str) -> list[list[Path]]:
    """The CSV files of one ``--data`` argument, grouped into recordings.

    ``bundled:NAME`` or a bare ``NAME`` of a bundled recording; a CSV (or its ``.json``
    sidecar); or a folder: a recorder session (its closed segments ``*.csv``) or a folder
    of sessions / recordings (every ``*.csv`` below it, one group per folder). Open
    segments (``*.csv.part``) are skipped: the recorder closes them on its next start.
    """
    if spec.startswith("bundled:"):
        name = spec.removeprefix("bundled:")
        try:
            return [[bundled_recording_path(name)]]
        except FileNotFoundError as exc:
            raise AdaptError(str(exc)) from exc
    path = Path(spec)
    if path.is_dir():
        csvs = sorted(path.rglob("*.csv"))
        parts = sorted(path.rglob("*.csv.part"))
        if parts:
            log.warning(
                "%s: %d open segment(s) (*.csv.part) skipped; the recorder closes them when "
                "it next starts",
                spec,
                len(parts),
            )
        if not csvs:
            raise AdaptError(f"{spec}: no recording (*.csv with its .json sidecar) in this folder")
        groups: dict[Path, list[Path]] = {}
        for csv in csvs:
            groups.setdefault(csv.parent, []).append(csv)
        return list(groups.values())
    if path.is_file():
        return [[path]]
    if spec in bundled_recording_names():
        return [[bundled_recording_path(spec)]]
    raise AdaptError(
        f"{spec}: no such recording (a CSV with its JSON sidecar, a recorder session folder, "
        f"or bundled:NAME of {', '.join(bundled_recording_names())})"
    )


def _segment_key(rec: Recording) -> tuple:
    device = rec.meta.device or {}
    seg = device.get("segment")
    return (0 if isinstance(seg, int) else 1, seg if isinstance(seg, int) else 0, rec.time_s[0])


def join_segments(recs: list[Recording]) -> list[Recording]:
    """Consecutive recorder segments joined into one recording wherever they continue each
    other (same sensors and sample period, next segment starting one sample period after
    the previous one ends); a break in time starts a new recording."""
    recs = sorted(recs, key=_segment_key)
    out: list[list[Recording]] = []
    for rec in recs:
        prev = out[-1][-1] if out else None
        if (
            prev is not None
            and not prev.is_mean_cycle
            and not rec.is_mean_cycle
            and prev.sensors == rec.sensors
            and math.isclose(prev.meta.sample_period_s, rec.meta.sample_period_s, rel_tol=1e-6)
            and 0 < rec.time_s[0] - prev.time_s[-1] <= 1.5 * rec.meta.sample_period_s
        ):
            out[-1].append(rec)
        else:
            out.append([rec])
    joined = []
    for group in out:
        if len(group) == 1:
            joined.append(group[0])
            continue
        first = group[0]
        meta = first.meta.model_copy(
            update={"events": [], "note": f"{len(group)} recorder segments joined"}
        )
        joined.append(
            Recording(
                np.concatenate([r.time_s for r in group]),
                first.sensors,
                np.concatenate([r.imu for r in group]),
                meta,
                {},
                first.path,
            )
        )
    return joined


def load_recordings(
    specs: list[str], sensors: list[str], sample_rate_hz: float
) -> list[UserRecording]:
    """Read every ``--data`` argument (no TensorFlow); truth columns are dropped.

    Raises:
        AdaptError: a missing or unreadable recording, or one that lacks a sensor the
            model needs, or one far slower than the model rate.
    """
    out: list[UserRecording] = []
    for spec in specs:
        groups = resolve_spec(spec)
        for files in groups:
            recs = []
            for f in files:
                try:
                    rec = read_recording(f)
                except RecordingError as exc:
                    raise AdaptError(str(exc)) from exc
                except OSError as exc:
                    raise AdaptError(f"{f}: unreadable ({exc.strerror or exc})") from exc
                if rec.truth:
                    log.info(
                        "%s: %d truth columns ignored (adaptation is label-free)", f, len(rec.truth)
                    )
                    rec = rec.without_truth()
                missing = [s for s in sensors if s not in rec.sensors]
                if missing:
                    raise AdaptError(
                        f"{f}: lacks sensors {missing} that the model needs "
                        f"(it has {list(rec.sensors)}, the model reads {sensors})"
                    )
                min_rate = MIN_RATE_FRACTION * sample_rate_hz
                if rec.sample_rate_hz < min_rate:
                    raise AdaptError(
                        f"{f}: sampled at {rec.sample_rate_hz:.1f} Hz, too slow for the model's "
                        f"{sample_rate_hz:.0f} Hz (at least {min_rate:.0f} Hz; faster and "
                        "slower rates are resampled)"
                    )
                recs.append(rec)
            joined = join_segments(recs) if len(recs) > 1 else recs
            for k, rec in enumerate(joined):
                if len(files) > 1:
                    label = str(files[0].parent) + (f"#{k}" if len(joined) > 1 else "")
                    used = [f for f, r in zip(files, recs, strict=True) if _within(r, rec)]
                else:
                    label = spec if len(groups) == 1 else str(files[0])
                    used = list(files)
                out.append(UserRecording(label, rec, used))
    return out


def _within(part: Recording, joined: Recording) -> bool:
    return bool(joined.time_s[0] <= part.time_s[0] <= joined.time_s[-1])


# --------------------------------------------------------------------------- stretches


def _has_signal(x: np.ndarray) -> bool:
    """A channel that carries information: some finite values, not all equal."""
    finite = x[np.isfinite(x)]
    return finite.size > 1 and float(np.ptp(finite)) > 0.0


def _nan_filter(x: np.ndarray, kernel: np.ndarray, min_weight: float = 0.5) -> np.ndarray:
    """NaN-aware normalised convolution along axis 0 ('same' length); NaN where less than
    ``min_weight`` of the kernel's weight saw data."""
    x = np.asarray(x, np.float64)
    flat = x.reshape(len(x), -1)
    valid = np.isfinite(flat)
    out = np.empty_like(flat)
    lo = (len(kernel) - 1) // 2
    sl = slice(lo, lo + len(x))  # 'same', also for a signal shorter than the kernel
    for j in range(flat.shape[1]):
        num = np.convolve(np.where(valid[:, j], flat[:, j], 0.0), kernel)[sl]
        den = np.convolve(valid[:, j].astype(np.float64), kernel)[sl]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j] = np.where(den >= min_weight * kernel.sum(), num / den, np.nan)
    return out.reshape(x.shape)


def _boxcar(n: int) -> np.ndarray:
    return np.ones(max(1, n))


def yaw_rate(rec: Recording, sensor: str, smoothing_s: float = 3.0) -> np.ndarray | None:
    """(N,) rad/s, the angular velocity about the vertical measured by one sensor: the
    gyroscope projected on the gravity direction (the accelerometer averaged over
    ``smoothing_s``),
    which holds whatever the sensor's tilt and mounting. A missing acc_z or gyr_x counts
    as 0 (the sagittal tilt is then still right); None when the sensor has no usable
    out-of-plane gyroscope (gyr_y) or is absent."""
    if sensor not in rec.sensors:
        return None
    imu = rec.imu[:, rec.sensors.index(sensor)]
    acc, gyr = imu[:, :3].copy(), imu[:, 3:].copy()
    if not _has_signal(gyr[:, 1]):
        return None
    for block, j in ((acc, 2), (gyr, 0)):
        if not _has_signal(block[:, j]):
            block[:, j] = np.where(np.isfinite(block[:, 1]), 0.0, np.nan)
    n_lp = max(3, round(smoothing_s * rec.sample_rate_hz))
    g = _nan_filter(acc, np.hanning(n_lp + 2)[1:-1])
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = g / norm
    return np.sum(gyr * up, axis=1)


def standing_mask(rec: Recording, settings: AdaptSettings | None = None) -> np.ndarray:
    """(N,) True where the wearer stands: every leg sensor's sagittal angular velocity
    varies less than ``standing_gyr_rad_s`` (std over 1 s)."""
    s = settings or AdaptSettings()
    legs = [x for x in LEG_SENSORS if x in rec.sensors]
    if not legs:
        return np.zeros(rec.n_samples, bool)
    gz = np.stack([rec.channel(x, "gyr_z") for x in legs], axis=1)
    k = _boxcar(max(3, round(rec.sample_rate_hz)))
    mean = _nan_filter(gz, k)
    sq = _nan_filter(gz**2, k)
    std = np.sqrt(np.maximum(sq - mean**2, 0.0))
    with np.errstate(invalid="ignore"):
        return np.all(std < s.standing_gyr_rad_s, axis=1)


def turning_mask(
    rec: Recording,
    settings: AdaptSettings | None = None,
    standing: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """(N,) True where the body turns about the vertical (the planar body model cannot
    follow), and how it was found.

    The pelvis's yaw rate (:func:`yaw_rate`; a thigh or shank sensor when the pelvis has
    no out-of-plane gyroscope) is averaged over a ``turn_smoothing_s`` Hann window — the
    pelvis's rotation within each stride averages out, a turn or a tight curve does not —
    and a turning stretch is where its magnitude exceeds ``turn_rate_deg_s``, widened by
    ``turn_margin_s`` on either side. A gyroscope bias about the vertical is removed first
    when the recording has at least 1 s of standing. A recording with only planar
    channels (acc_x, acc_y, gyr_z) cannot show turning: the mask is then all False and
    ``info["sensor"]`` None.
    """
    s = settings or AdaptSettings()
    n = rec.n_samples
    info: dict[str, Any] = {"sensor": None, "threshold_deg_s": s.turn_rate_deg_s}
    rate = None
    for sensor in TURN_SENSORS:
        rate = yaw_rate(rec, sensor, s.turn_smoothing_s)
        if rate is not None:
            info["sensor"] = sensor
            break
    if rate is None:
        info["note"] = "no out-of-plane gyroscope (gyr_y): turning cannot be detected"
        return np.zeros(n, bool), info
    if standing is not None and standing.sum() >= rec.sample_rate_hz:
        bias = float(np.nanmedian(rate[standing])) if np.isfinite(rate[standing]).any() else 0.0
        if np.isfinite(bias):
            rate = rate - bias
            info["gyro_bias_deg_s"] = round(math.degrees(bias), 2)
    width = max(3, round(s.turn_smoothing_s * rec.sample_rate_hz))
    smooth = _nan_filter(rate, np.hanning(width + 2)[1:-1])
    with np.errstate(invalid="ignore"):
        mask = np.abs(smooth) > math.radians(s.turn_rate_deg_s)
    margin = round(s.turn_margin_s * rec.sample_rate_hz)
    if margin > 0 and mask.any():
        from scipy.ndimage import binary_dilation

        mask = binary_dilation(mask, structure=np.ones(2 * margin + 1, bool))
    finite = smooth[np.isfinite(smooth)]
    info["max_yaw_rate_deg_s"] = (
        round(math.degrees(float(np.max(np.abs(finite)))), 1) if finite.size else None
    )
    # Heading change summed over the turning stretches (deg; each stretch's net turn), and
    # how many stretches, for the log.
    turned = 0.0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        turned += abs(float(np.nansum(rate[a:b]))) / rec.sample_rate_hz
    info["turned_deg"] = round(math.degrees(turned), 0)
    info["stretches"] = len(edges) // 2
    return mask, info


def _run_lengths(missing: np.ndarray) -> np.ndarray:
    """(N,) length of the run of True ending at each sample (0 where False)."""
    out = np.zeros(len(missing), np.int64)
    run = 0
    for i, m in enumerate(missing):
        run = run + 1 if m else 0
        out[i] = run
    return out


@dataclass
class Selection:
    """Which windows of each recording train (start indices), and why others do not."""

    starts: list[np.ndarray]
    report: dict


def window_starts(n_samples: int, window: int, stride: int) -> np.ndarray:
    """Window start indices, exactly as :func:`train.data.windows.window_bank` cuts."""
    if n_samples < window:
        return np.zeros(0, np.int64)
    return np.arange(0, n_samples - window + 1, stride)


def select_windows(
    recordings: list[UserRecording],
    sensors: list[str],
    window: int,
    stride: int,
    settings: AdaptSettings | None = None,
) -> Selection:
    """Leave out windows that overlap a turning stretch or hold a long sensor gap, and
    thin out standing windows to at most ``max_standing_share`` of what remains.

    Raises:
        AdaptError: nothing is left.
    """
    s = settings or AdaptSettings()
    per: list[dict] = []
    keep_lists: list[np.ndarray] = []
    standing_flags: list[np.ndarray] = []
    for ur in recordings:
        rec = ur.rec
        rate = rec.sample_rate_hz
        starts = window_starts(rec.n_samples, window, stride)
        row: dict[str, Any] = {
            "recording": ur.label,
            "seconds": round(rec.n_samples / rate, 1),
            "windows": len(starts),
            "turning_seconds": round(float(ur.turning.sum()) / rate, 1)
            if ur.turning is not None
            else 0.0,
            "turn_sensor": ur.turn_sensor,
            "standing_seconds": round(float(ur.standing.sum()) / rate, 1)
            if ur.standing is not None
            else 0.0,
        }
        if not len(starts):
            row.update(left_out_short=True, left_out_turning=0, left_out_gaps=0)
            per.append(row)
            keep_lists.append(starts)
            standing_flags.append(np.zeros(0, bool))
            continue
        idx = [rec.sensors.index(x) for x in sensors]
        missing = ~np.isfinite(rec.imu[:, idx][:, :, list(PLANAR_CHANNEL_INDEX)]).all(axis=2)
        gap_bad = np.zeros(len(starts), bool)
        if missing.any():
            runs = np.stack([_run_lengths(missing[:, j]) for j in range(missing.shape[1])], 1)
            cum = np.concatenate([np.zeros((1, missing.shape[1])), np.cumsum(missing, 0)])
            ramp = np.arange(1, window + 1)[:, None]
            max_run = round(s.max_gap_s * rate)
            for w, st in enumerate(starts):
                share = (cum[st + window] - cum[st]) / window
                if not share.any():
                    continue
                longest = np.minimum(runs[st : st + window], ramp).max()
                gap_bad[w] = longest > max_run or share.max() > s.max_missing_share
        turn = ur.turning if ur.turning is not None else np.zeros(rec.n_samples, bool)
        cum_t = np.concatenate([[0], np.cumsum(turn)])
        turn_bad = (cum_t[starts + window] - cum_t[starts]) > 0
        stand = ur.standing if ur.standing is not None else np.zeros(rec.n_samples, bool)
        cum_s = np.concatenate([[0], np.cumsum(stand)])
        is_standing = (cum_s[starts + window] - cum_s[starts]) >= 0.5 * window
        keep = ~gap_bad & ~turn_bad
        row.update(
            left_out_short=False,
            left_out_gaps=int(gap_bad.sum()),
            left_out_turning=int((turn_bad & ~gap_bad).sum()),
        )
        per.append(row)
        keep_lists.append(starts[keep])
        standing_flags.append(is_standing[keep])
    n_stand = int(sum(f.sum() for f in standing_flags))
    n_moving = int(sum((~f).sum() for f in standing_flags))
    allowed = n_stand
    if n_moving and s.max_standing_share < 1.0:
        c = s.max_standing_share
        allowed = min(n_stand, math.floor(c / (1.0 - c) * n_moving))
    elif not n_moving and n_stand:
        log.warning(
            "the recordings show only standing: the model learns little about gait from them"
        )
    # Keep an evenly spread subset of the standing windows across all recordings.
    chosen = (
        set(np.linspace(0, n_stand - 1, allowed).round().astype(int).tolist()) if allowed else set()
    )
    final: list[np.ndarray] = []
    k = 0
    for starts, flags, row in zip(keep_lists, standing_flags, per, strict=True):
        keep = np.ones(len(starts), bool)
        for j in np.flatnonzero(flags):
            keep[j] = k in chosen
            k += 1
        row["standing_windows"] = int(flags.sum())
        row["standing_left_out"] = int((~keep).sum())
        row["windows_used"] = int(keep.sum())
        final.append(starts[keep])
    total = sum(r["windows"] for r in per)
    used = sum(len(f) for f in final)
    report = {
        "recordings": per,
        "windows": total,
        "windows_used": used,
        "left_out_turning": sum(r["left_out_turning"] for r in per),
        "left_out_gaps": sum(r["left_out_gaps"] for r in per),
        "left_out_short_recordings": [r["recording"] for r in per if r["left_out_short"]],
        "standing_windows": n_stand,
        "standing_left_out": n_stand - allowed,
        "standing_share_before": round(n_stand / max(1, n_stand + n_moving), 3),
        "standing_share_used": round(allowed / max(1, used), 3),
        "window": window,
        "stride": stride,
    }
    if used == 0:
        why = []
        if report["left_out_short_recordings"]:
            why.append(
                f"{len(report['left_out_short_recordings'])} recording(s) shorter than one window"
            )
        if report["left_out_turning"]:
            why.append(f"{report['left_out_turning']} windows while turning")
        if report["left_out_gaps"]:
            why.append(f"{report['left_out_gaps']} windows with sensor gaps")
        raise AdaptError(
            "nothing usable left to adapt on: "
            + (", ".join(why) or "no windows")
            + f" (a window is {window} samples; record straight walking or running)"
        )
    return Selection(final, report)


def log_selection(report: dict, rate_hz: float, window: int) -> None:
    """The log lines that say what was left out and why."""
    total, used = report["windows"], report["windows_used"]
    for row in report["recordings"]:
        if row["left_out_short"]:
            log.warning(
                "%s left out: %.1f s is shorter than one window (%.2f s)",
                row["recording"],
                row["seconds"],
                window / rate_hz,
            )
    turn = report["left_out_turning"]
    sensors = sorted({r["turn_sensor"] or "none" for r in report["recordings"]})
    log.info(
        "left out %d of %d windows (%.0f %%) while turning: %.1f s of turning stretches "
        "(yaw rate from %s; the body model is planar)",
        turn,
        total,
        100.0 * turn / max(1, total),
        sum(r["turning_seconds"] for r in report["recordings"]),
        ", ".join(sensors),
    )
    if "none" in sensors:
        log.warning(
            "some recordings have only planar channels (no gyr_y): turning stretches could "
            "not be detected in them; use straight walking or running"
        )
    if report["left_out_gaps"]:
        log.info(
            "left out %d of %d windows with sensor gaps (a gap > max_gap_s, or too much missing)",
            report["left_out_gaps"],
            total,
        )
    log.info(
        "standing: %d windows (%.0f %% of the usable ones), %d left out; standing is %.0f %% "
        "of the %d windows used",
        report["standing_windows"],
        100.0 * report["standing_share_before"],
        report["standing_left_out"],
        100.0 * report["standing_share_used"],
        used,
    )


# --------------------------------------------------------------------------- preparation


def prepare(
    recordings: list[UserRecording],
    base: BaseInfo,
    cfg: TrainConfig,
    settings: AdaptSettings | None = None,
) -> Selection:
    """Bring each recording onto the base training's input path and select its windows
    (modifies ``recordings`` in place: ``rec`` at the model rate, masks filled in)."""
    from edge.mounting import InsufficientGaitError
    from train.data.augment import varied_tiling
    from train.inputs import at_model_rate, in_segment_axes

    s = settings or AdaptSettings()
    rng = np.random.default_rng(s.seed)
    rate = base.sample_rate_hz
    for ur in recordings:
        rec = ur.rec
        ur.source_rate_hz = rec.sample_rate_hz
        if rec.is_mean_cycle:
            rec = varied_tiling(
                rec,
                cfg.data.real_cycles,
                rate,
                rng,
                time_warp=cfg.data.time_warp,
                amplitude_jitter=cfg.data.amplitude_jitter,
            )
            ur.notes.append(f"mean cycle tiled to {cfg.data.real_cycles} varied cycles")
        elif not math.isclose(rec.sample_rate_hz, rate, rel_tol=1e-6):
            rec = at_model_rate(rec, rate)
            ur.notes.append(f"resampled from {ur.source_rate_hz:.1f} Hz to {rate:.0f} Hz")
            log.info("%s: %s", ur.label, ur.notes[-1])
        ur.standing = standing_mask(rec, s)
        ur.turning, info = turning_mask(rec, s, ur.standing)
        ur.turn_sensor = info["sensor"]
        if info.get("turned_deg"):
            log.info(
                "%s: turning for %.1f s (about %.0f° of heading change, peak %.0f°/s)",
                ur.label,
                ur.turning.sum() / rate,
                info["turned_deg"],
                info["max_yaw_rate_deg_s"] or 0.0,
            )
        if base.input_axes == "segment":
            try:
                rec, mounting = in_segment_axes(rec)
            except InsufficientGaitError as exc:
                raise AdaptError(
                    f"{ur.label}: the model expects segment axes but the sensor mounting "
                    f"cannot be estimated: {exc}"
                ) from exc
            ur.notes.append(
                "mounting undone (deg): "
                + ", ".join(
                    f"{n} {math.degrees(a):+.1f}"
                    for n, a in zip(rec.sensors, mounting.angles(rec.sensors), strict=True)
                )
            )
            log.info("%s: %s", ur.label, ur.notes[-1])
        ur.rec = rec
    sel = select_windows(recordings, base.sensors, cfg.data.window, cfg.data.stride, s)
    log_selection(sel.report, rate, cfg.data.window)
    return sel


# --------------------------------------------------------------------------- training


def _lr_at(settings: AdaptSettings, step: int, progress: float) -> float:
    """Linear warmup over ``warmup_steps``, then cosine from ``learning_rate`` to
    ``final_learning_rate`` over the budget (``progress`` 0..1)."""
    s = settings
    p = min(max(progress, 0.0), 1.0)
    lr = s.final_learning_rate + 0.5 * (s.learning_rate - s.final_learning_rate) * (
        1.0 + math.cos(math.pi * p)
    )
    if s.warmup_steps:
        lr *= min(1.0, (step + 1) / s.warmup_steps)
    return lr


def _subset(arrays: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    size = len(next(iter(arrays.values())))
    idx = np.unique(np.linspace(0, size - 1, min(n, size)).round().astype(int))
    return {k: v[idx] for k, v in arrays.items()}


def _with_features(arrays: dict[str, np.ndarray], mean: np.ndarray, std: np.ndarray) -> dict:
    """Noise-free network input for fixed evaluation windows (the training path's
    :func:`edge.features.model_features`)."""
    from edge.features import model_features

    m, sd = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    feats = np.stack(
        [
            model_features(imu, static, m, sd).astype(np.float32)
            for imu, static in zip(arrays["imu"], arrays["static"], strict=True)
        ]
    )
    return {**arrays, "features": feats}


def adapt(
    base: BaseInfo,
    recordings: list[UserRecording],
    out_dir: str | Path,
    settings: AdaptSettings | None = None,
    *,
    config_override: str | Path | None = None,
    started: float | None = None,
    progress: bool = True,
) -> dict:
    """Fine-tune ``base`` on ``recordings`` (see the module doc); returns the report that
    is also written to ``OUT/adaptation.json``.

    Args:
        started: ``time.perf_counter()`` when the command started: the budget
            (``settings.minutes``) counts from there, loading included.
    """
    s = settings or AdaptSettings()
    t_start = started if started is not None else time.perf_counter()
    deadline = t_start + 60.0 * s.minutes
    out = Path(out_dir)
    cfg = base_training_config(base, config_override)
    sel = prepare(recordings, base, cfg, s)

    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from train.checkpoint import AdaptedFrom, load_checkpoint, save_checkpoint
    from train.data.windows import WindowBank, make_dataset, window_bank
    from train.losses import loss_terms, total_loss
    from train.sources import real_sources, synthetic_sources
    from train.trainer import git_revision

    keras.utils.set_random_seed(s.seed)
    tf.config.experimental.enable_op_determinism()
    model, meta = load_checkpoint(base.path)
    sensors = list(meta.sensors)
    window, stride = cfg.data.window, cfg.data.stride

    parts = []
    for ur, starts in zip(recordings, sel.starts, strict=True):
        if not len(starts):
            continue
        bank = window_bank([ur.rec], sensors, window, stride)
        all_starts = window_starts(ur.rec.n_samples, window, stride)
        assert bank.size == len(all_starts)
        take = np.searchsorted(all_starts, starts)
        parts.append({k: v[take] for k, v in bank.arrays.items()})
    user = WindowBank({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})

    replay: list[WindowBank] = []
    replay_info: dict[str, Any] = {"fraction": s.replay_fraction}
    if s.replay_fraction > 0:
        real = real_sources(cfg.data, cfg.seed) if cfg.data.real_recordings else []
        synth_minutes = min(cfg.data.synthetic_minutes, s.replay_synthetic_minutes)
        synth = synthetic_sources(
            cfg.data.model_copy(update={"synthetic_minutes": synth_minutes}), cfg.seed
        )
        if real:
            replay.append(window_bank(real, sensors, window, stride))
        if synth:
            replay.append(window_bank(synth, sensors, window, stride))
        replay_info.update(
            real_recordings=list(cfg.data.real_recordings),
            real_windows=replay[0].size if real else 0,
            synthetic_minutes=synth_minutes,
            synthetic_windows=replay[-1].size if synth else 0,
        )
        if not replay:
            log.warning("the base config names no training data: nothing to mix in")
            replay_info["fraction"] = 0.0
    f = replay_info["fraction"]
    banks = [user, *replay]
    if replay:
        sizes = np.array([b.size for b in replay], np.float64)
        if len(replay) == 2:  # the base config's own real/synthetic split
            sf = cfg.data.synthetic_fraction
            shares = np.array([1.0 - sf, sf])
        else:
            shares = sizes / sizes.sum()
        proportions = [1.0 - f, *(f * shares).tolist()]
    else:
        proportions = [1.0]
    log.info(
        "adapting on %d windows of the wearer (%.0f %% of each batch) and %s windows of the "
        "base training data (%.0f %%)",
        user.size,
        100 * proportions[0],
        "+".join(str(b.size) for b in replay) or "0",
        100 * (1 - proportions[0]),
    )
    mean, std = meta.norm_arrays()
    dataset = make_dataset(
        banks,
        proportions,
        batch_size=cfg.data.batch_size,
        norm_mean=mean,
        norm_std=std,
        acc_noise=cfg.data.acc_noise,
        gyr_noise=cfg.data.gyr_noise,
        seed=s.seed,
    )
    eval_sets = {"user": _with_features(_subset(user.arrays, s.eval_windows), mean, std)}
    if replay:
        base_eval = {
            k: np.concatenate([_subset(b.arrays, s.eval_windows)[k] for b in replay])
            for k in user.arrays
        }
        eval_sets["base_data"] = _with_features(_subset(base_eval, s.eval_windows), mean, std)

    dt = 1.0 / base.sample_rate_hz
    weights = cfg.losses.model_dump()
    burn_in = cfg.burn_in
    contact = cfg.contact
    bs = cfg.data.batch_size

    @tf.function(reduce_retracing=True)
    def eval_step(batch: dict) -> tuple:
        outputs = model(batch["features"], training=False)
        terms = loss_terms(outputs, batch, dt, burn_in, contact)
        return total_loss(terms, weights, 1.0), terms

    def evaluate_loss(arrays: dict[str, np.ndarray]) -> dict[str, float]:
        n = len(arrays["features"])
        acc: dict[str, float] = {}
        for i in range(0, n, bs):
            batch = {k: tf.constant(v[i : i + bs]) for k, v in arrays.items()}
            loss, terms = eval_step(batch)
            k = len(batch["features"])
            for name, value in {"loss": loss, **terms}.items():
                acc[name] = acc.get(name, 0.0) + float(value) * k / n
        return {k: round(v, 6) for k, v in acc.items()}

    t_eval = time.perf_counter()
    before = {name: evaluate_loss(arr) for name, arr in eval_sets.items()}
    eval_seconds = time.perf_counter() - t_eval
    log.info("loss before: %s", {k: v["loss"] for k, v in before.items()})

    lr_var = tf.Variable(s.learning_rate, dtype=tf.float32, trainable=False)

    class _VariableRate(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step: Any) -> Any:
            return lr_var

        def get_config(self) -> dict:
            return {}

    optimizer = keras.optimizers.Adam(_VariableRate())
    optimizer.build(model.trainable_variables)
    clip = cfg.optim.clip_norm

    @tf.function(reduce_retracing=True)
    def train_step(batch: dict) -> tuple:
        with tf.GradientTape() as tape:
            outputs = model(batch["features"], training=True)
            terms = loss_terms(outputs, batch, dt, burn_in, contact)
            loss = total_loss(terms, weights, 1.0)  # the model is trained: no physics ramp
        grads = tape.gradient(loss, model.trainable_variables)
        grads, norm = tf.clip_by_global_norm(grads, clip)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, terms, norm

    # Time kept back for the loss after, saving and the report.
    reserve = 1.5 * eval_seconds + 10.0
    train_deadline = deadline - reserve
    t0 = time.perf_counter()
    budget = max(0.0, train_deadline - t0)
    if budget <= 0 and s.max_steps is None:
        raise AdaptError(
            f"the budget of {s.minutes:g} min is used up by loading "
            f"({(t0 - t_start) / 60:.1f} min) before training could start; raise --minutes"
        )
    history: list[dict] = []
    by_steps = s.max_steps is not None
    bar = tqdm(
        total=s.max_steps if by_steps else round(budget),
        disable=not progress,
        desc="adapt",
        unit="step" if by_steps else "s",
        # The time-budget bar counts seconds; the steps are in the postfix.
        bar_format=None
        if by_steps
        else "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s [{elapsed}<{remaining}{postfix}]",
    )
    it = iter(dataset)
    step = 0
    stopped = "time budget"
    step_time = 0.0
    last_loss = "-"
    try:
        while True:
            now = time.perf_counter()
            if by_steps and step >= s.max_steps:
                stopped = "steps"
                break
            if now + step_time > train_deadline:
                stopped = "time budget"
                break
            time_progress = (now - t0) / budget if budget > 0 else 1.0
            prog = step / s.max_steps if by_steps else time_progress
            lr = _lr_at(s, step, prog)
            lr_var.assign(lr)
            t_step = time.perf_counter()
            loss, terms, norm = train_step(next(it))
            took = time.perf_counter() - t_step
            # A running estimate of one step's time, from the second step on (the first
            # one traces the graph).
            if step == 1:
                step_time = took
            elif step > 1:
                step_time = 0.9 * step_time + 0.1 * took
            step += 1
            if by_steps:
                bar.update(1)
            else:
                bar.set_postfix(step=step, loss=last_loss, refresh=False)
                bar.update(min(round(time.perf_counter() - t0), bar.total) - bar.n)
            if step % s.log_every == 0:
                row = {"step": step, "loss": float(loss), "grad_norm": float(norm), "lr": lr}
                row.update({k: float(v) for k, v in terms.items()})
                row["seconds"] = round(time.perf_counter() - t0, 1)
                history.append(row)
                last_loss = f"{float(loss):.3g}"
                if by_steps:
                    bar.set_postfix(loss=last_loss)
                if not math.isfinite(float(loss)):
                    raise AdaptError(f"the loss became {float(loss)} at step {step}")
    except KeyboardInterrupt:
        stopped = "interrupted"
        log.warning("interrupted at step %d: saving what there is", step)
    bar.close()
    train_seconds = time.perf_counter() - t0
    after = {name: evaluate_loss(arr) for name, arr in eval_sets.items()}
    log.info("loss after %d steps: %s", step, {k: v["loss"] for k, v in after.items()})

    now_utc = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    recs_info = [
        {
            "recording": ur.label,
            "files": [str(f) for f in ur.files],
            "sha256": [_sha256(f) for f in ur.files],
            "participant": ur.rec.meta.participant.id,
            "seconds": round(ur.rec.n_samples / base.sample_rate_hz, 1),
            "source_rate_hz": ur.source_rate_hz,
            "notes": ur.notes,
        }
        for ur in recordings
    ]
    adapted = AdaptedFrom(
        model=str(base.path),
        model_id=base.model_id,
        step=base.step,
        recordings=recs_info,
        steps=step,
        minutes=round(train_seconds / 60.0, 2),
        created_utc=now_utc,
    )
    model_id = base.model_id if base.model_id.endswith("-adapted") else f"{base.model_id}-adapted"
    new_meta = meta.model_copy(
        update={
            "model_id": model_id,
            "created_utc": now_utc,
            "step": base.step + step,
            "metrics": {},
            "adapted_from": adapted,
            "provenance": {
                "config": cfg.model_dump(mode="json"),
                "data": {
                    "user_windows": user.size,
                    "replay": replay_info,
                },
                "git_revision": git_revision(),
                "labels_used": False,
                "adaptation": s.model_dump(mode="json"),
                "adapted_from": {
                    "model_id": base.model_id,
                    "step": base.step,
                    "recordings": [r["recording"] for r in recs_info],
                },
            },
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, model, new_meta)
    (out / HISTORY_FILE).write_text(json.dumps(history, indent=1) + "\n")
    report = {
        "model": str(base.path),
        "out": str(out),
        "stopped_by": stopped,
        "steps": step,
        "minutes_training": round(train_seconds / 60.0, 2),
        "minutes_total": round((time.perf_counter() - t_start) / 60.0, 2),
        "settings": s.model_dump(mode="json"),
        "recordings": recs_info,
        "data": sel.report,
        "replay": replay_info,
        "loss_before": before,
        "loss_after": after,
        "labels_used": False,
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return report
