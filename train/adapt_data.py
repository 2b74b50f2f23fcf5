"""The wearer's recordings for ``sspinn-adapt`` and which of their windows train
(NumPy only: no TensorFlow is imported here).

- :func:`load_recordings`: CSVs with sidecars, bundled ones (``bundled:NAME`` or ``NAME``)
  or recorder session folders (closed segments, joined where they are contiguous), read
  with :func:`edge.recording.read_recording`; truth columns dropped; every sensor the
  model needs must be there.
- :func:`turning_mask`, :func:`standing_mask`: per sample, where the pelvis turns about
  the vertical (the body model is planar) and where the wearer stands.
- :func:`select_windows`: windows that touch a turning stretch or hold a long sensor gap
  are left out, standing windows thinned out; :func:`log_selection` says so.

The adaptation itself: :mod:`train.adapt`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.recording import (
    PLANAR_CHANNEL_INDEX,
    Recording,
    RecordingError,
    read_recording,
    resolve_recording,
)

log = logging.getLogger(__name__)

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


def resolve_spec(spec: str) -> list[list[Path]]:
    """The CSV files of one ``--data`` argument, grouped into recordings.

    ``bundled:NAME`` or a bare ``NAME`` of a bundled recording; a CSV (or its ``.json``
    sidecar); or a folder: a recorder session (its closed segments ``*.csv``) or a folder
    of sessions / recordings (every ``*.csv`` below it, one group per folder). Open
    segments (``*.csv.part``) are skipped: the recorder closes them on its next start.
    """
    path = Path(spec)
    if not spec.startswith("bundled:") and path.is_dir():
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
    try:  # the one resolver every command uses (CSV, NAME, bundled:NAME)
        return [[resolve_recording(spec)]]
    except FileNotFoundError as exc:
        raise AdaptError(f"no such recording: {exc} (or a recorder session folder)") from exc


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
