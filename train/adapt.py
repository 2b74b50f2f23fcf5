"""Personal adaptation: fine-tune a trained model on a wearer's own unlabelled recordings.

``sspinn-adapt`` (``train/adapt_cli.py``) runs, in this order:

1. :func:`read_base` — the checkpoint's ``checkpoint.json`` (sensors, rate, input axes and
   the training config it was made with, ``provenance.config``), without TensorFlow.
2. :func:`~train.adapt_data.load_recordings` — the wearer's recordings: CSVs with
   sidecars, bundled ones (``bundled:NAME`` or ``NAME``) or recorder session folders
   (closed segments, joined where they are contiguous), read with
   :func:`edge.recording.read_recording`; truth columns are dropped; every sensor the
   model needs must be there. Still no TensorFlow.
3. :func:`prepare` — the model's input path of the base training: the model rate (a mean
   cycle is tiled with stride-to-stride variation, anything else resampled), mounting
   undone when the checkpoint expects segment axes; then per sample the stretches where
   the pelvis turns about the vertical (the body model is planar), standing and sensor
   gaps, and per window what is left out (:mod:`train.adapt_data`).
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

from train.adapt_data import (
    AdaptError,
    AdaptSettings,
    Selection,
    UserRecording,
    load_recordings,
    log_selection,
    select_windows,
    standing_mask,
    turning_mask,
    window_starts,
)

if TYPE_CHECKING:
    from train.config import TrainConfig

log = logging.getLogger(__name__)

#: File names in the output folder besides the checkpoint's own.
REPORT_FILE = "adaptation.json"
HISTORY_FILE = "history.json"

__all__ = [
    "HISTORY_FILE",
    "REPORT_FILE",
    "AdaptError",
    "AdaptSettings",
    "BaseInfo",
    "adapt",
    "base_training_config",
    "load_recordings",
    "prepare",
    "read_base",
]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    gyro_no_slip = cfg.losses.gyro_no_slip > 0
    bs = cfg.data.batch_size

    @tf.function(reduce_retracing=True)
    def eval_step(batch: dict) -> tuple:
        outputs = model(batch["features"], training=False)
        terms = loss_terms(outputs, batch, dt, burn_in, contact, gyro_no_slip)
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
            terms = loss_terms(outputs, batch, dt, burn_in, contact, gyro_no_slip)
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
