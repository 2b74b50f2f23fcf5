"""Self-supervised training loop: windows → network → physics losses → Adam."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from edge.features import feature_names
from edge.recording import SENSOR_NAMES
from train.checkpoint import CheckpointMeta, save_checkpoint
from train.config import TrainConfig
from train.data.windows import batched_mix, make_dataset, window_bank
from train.distribute import distribute_dataset, is_chief, make_strategy
from train.inputs import recording_features
from train.losses import loss_terms, total_loss
from train.model.network import build_sequence_model
from train.normalisation import compute_normalisation, normalisation_from_moments
from train.sources import real_sources, synthetic_sources

log = logging.getLogger(__name__)


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


class Trainer:
    """Trains one network from one config into ``out_dir``.

    ``out_dir`` receives ``checkpoint/`` (exportable: ``sspinn-eval``, ``sspinn-convert``),
    ``resume/`` (optimizer state for ``--resume``), ``tensorboard/``, ``config.json`` and
    ``history.json`` (loss terms every ``log_every`` steps).
    """

    def __init__(self, cfg: TrainConfig, out_dir: str | Path) -> None:
        self.cfg = cfg
        self.out = Path(out_dir)
        self.sensors = list(SENSOR_NAMES)
        self.names = feature_names(self.sensors)
        self.history: list[dict] = []

    def _data(self) -> tf.data.Dataset:
        """The batched training data set (global batch) and ``self.mean``/``self.std``."""
        if self.cfg.stream.enabled:
            return self._streamed_data()
        cfg = self.cfg
        real = real_sources(cfg.data, cfg.seed)
        synth = synthetic_sources(cfg.data, cfg.seed)
        feats = [recording_features(r, self.sensors) for r in real + synth]
        self.mean, self.std = compute_normalisation(feats, self.names, len(self.sensors))
        banks = [window_bank(real, self.sensors, cfg.data.window, cfg.data.stride)]
        proportions = [1.0]
        if synth:
            banks.append(window_bank(synth, self.sensors, cfg.data.window, cfg.data.stride))
            f = cfg.data.synthetic_fraction
            proportions = [1.0 - f, f]
        self.data_summary = {
            "real_windows": banks[0].size,
            "synthetic_windows": banks[1].size if len(banks) > 1 else 0,
            "real_recordings": cfg.data.real_recordings,
            "synthetic_minutes": cfg.data.synthetic_minutes,
        }
        log.info("training windows: %s", self.data_summary)
        return make_dataset(
            banks,
            proportions,
            batch_size=cfg.data.batch_size,
            norm_mean=self.mean,
            norm_std=self.std,
            acc_noise=cfg.data.acc_noise,
            gyr_noise=cfg.data.gyr_noise,
            seed=cfg.seed,
        )

    def _streamed_data(self) -> tf.data.Dataset:
        """As :meth:`_data`, the windows streamed from the shard cache (``[stream]``)."""
        from train.data.shards import build_cache, shard_windows

        cfg, st = self.cfg, self.cfg.stream
        shards = build_cache(cfg, self.sensors)
        self.mean, self.std = normalisation_from_moments(
            shards.moments(), self.names, len(self.sensors)
        )
        groups = [g for g in (shards.real, shards.synthetic) if sum(e.n_windows for e in g)]
        datasets = []
        for i, entries in enumerate(groups):
            datasets.append(
                shard_windows(
                    shards.paths(entries),
                    sum(e.n_windows for e in entries),
                    window=cfg.data.window,
                    stride=cfg.data.stride,
                    n_sensors=len(self.sensors),
                    shuffle_buffer=st.shuffle_buffer,
                    interleave=st.interleave,
                    seed=cfg.seed + i,
                )
            )
        f = cfg.data.synthetic_fraction
        proportions = [1.0 - f, f] if len(groups) == 2 else [1.0]
        self.data_summary = {
            "real_windows": sum(e.n_windows for e in shards.real),
            "synthetic_windows": sum(e.n_windows for e in shards.synthetic),
            "real_recordings": cfg.data.real_recordings,
            "synthetic_minutes": cfg.data.synthetic_minutes,
            "shard_cache": {
                "dir": str(shards.cache_dir),
                "entries_built": shards.built,
                "entries_reused": shards.reused,
                "bytes": shards.size_bytes(),
            },
        }
        log.info("training windows (streamed from shards): %s", self.data_summary)
        return batched_mix(
            datasets,
            proportions,
            batch_size=cfg.data.batch_size,
            norm_mean=self.mean,
            norm_std=self.std,
            acc_noise=cfg.data.acc_noise,
            gyr_noise=cfg.data.gyr_noise,
            seed=cfg.seed,
        )

    def meta(self, step: int, metrics: dict | None = None) -> CheckpointMeta:
        return CheckpointMeta(
            model_id=f"sspinn-{self.cfg.network.kind}-{self.cfg.name}",
            network=self.cfg.network,
            sample_rate_hz=self.cfg.data.rate_hz,
            sensors=self.sensors,
            input_features=self.names,
            norm_mean=self.mean.tolist(),
            norm_std=self.std.tolist(),
            created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            step=step,
            input_axes="segment" if self.cfg.data.undo_mounting else "sensor",
            provenance={
                "config": self.cfg.model_dump(mode="json"),
                "data": self.data_summary,
                "git_revision": git_revision(),
                "labels_used": False,
            },
            metrics=metrics or {},
        )

    def train(self, *, resume: bool = False, progress: bool = True) -> Path:
        """Run the configured number of steps; returns the checkpoint folder.

        Under ``distribute.strategy`` ``mirrored`` or ``multi_worker`` the step runs on
        every replica with its slice of the global batch; the gradients are summed
        across replicas before clipping, so one step equals the single-process step on
        the same global batch. Only the chief writes checkpoints, history and
        TensorBoard; other workers save their resume state to a temporary folder (all
        workers take part in a save) and resume from the chief's ``OUT/resume``.
        """
        cfg = self.cfg
        keras.utils.set_random_seed(cfg.seed)
        # Same config + seed + machine → same weights (the shipped model is re-made so).
        tf.config.experimental.enable_op_determinism()
        strategy = make_strategy(cfg.distribute)
        chief = is_chief(strategy)
        replicas = strategy.num_replicas_in_sync
        if cfg.data.batch_size % replicas:
            raise ValueError(
                f"data.batch_size {cfg.data.batch_size} (the global batch) must be a multiple "
                f"of the {replicas} replicas of distribute.strategy = {cfg.distribute.strategy!r}"
            )
        plain = cfg.distribute.strategy == "default"
        if chief:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(cfg.model_dump_json(indent=2) + "\n")
        dataset = distribute_dataset(strategy, self._data(), cfg.distribute.shard_policy)
        log.info("strategy %s: %d replica(s), chief=%s", cfg.distribute.strategy, replicas, chief)
        with strategy.scope():
            model = build_sequence_model(cfg.network, len(self.names))
            schedule = keras.optimizers.schedules.CosineDecay(
                cfg.optim.learning_rate,
                cfg.optim.steps,
                alpha=cfg.optim.final_learning_rate / cfg.optim.learning_rate,
            )
            optimizer = keras.optimizers.Adam(schedule)
            optimizer.build(model.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False)  # host-side counter
        ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var)
        manager = tf.train.CheckpointManager(ckpt, self.out / "resume", max_to_keep=2)
        if resume and manager.latest_checkpoint:
            ckpt.restore(manager.latest_checkpoint).expect_partial()
            log.info("resumed from %s at step %d", manager.latest_checkpoint, int(step_var))
            hist = self.out / "history.json"
            if hist.is_file() and chief:
                self.history = json.loads(hist.read_text())
        dt = 1.0 / cfg.data.rate_hz
        weights = cfg.losses.model_dump()
        gyro_no_slip = cfg.losses.gyro_no_slip > 0
        burn_in = cfg.burn_in
        clip = cfg.optim.clip_norm
        warmup = max(1, cfg.optim.physics_warmup_steps)

        def replica_step(batch: dict, ramp: tf.Tensor) -> tuple:
            with tf.GradientTape() as tape:
                outputs = model(batch["features"], training=True)
                terms = loss_terms(outputs, batch, dt, burn_in, cfg.contact, gyro_no_slip)
                loss = total_loss(terms, weights, ramp)
                # Each term is a mean over the replica's batch: the global batch's mean
                # is the mean over replicas (equal slices), its gradient the sum of these.
                scaled = loss / replicas if replicas > 1 else loss
            grads = tape.gradient(scaled, model.trainable_variables)
            if replicas > 1:
                ctx = tf.distribute.get_replica_context()
                grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
                loss, terms = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, (loss, terms))
            grads, norm = tf.clip_by_global_norm(grads, clip)
            if replicas > 1:  # the Keras optimizer sums the replicas' gradients again
                grads = [g / replicas for g in grads]
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss, terms, norm

        @tf.function(reduce_retracing=True)
        def train_step(batch: dict, ramp: tf.Tensor) -> tuple:
            if plain:
                return replica_step(batch, ramp)
            results = strategy.run(replica_step, args=(batch, ramp))
            return strategy.experimental_local_results(results)[0]

        writer = (
            tf.summary.create_file_writer(str(self.out / "tensorboard"))
            if chief
            else tf.summary.create_noop_writer()
        )
        start = int(step_var)
        it = iter(dataset)
        bar = tqdm(
            total=cfg.optim.steps, initial=start, disable=not (progress and chief), desc="train"
        )
        t0 = time.perf_counter()
        for step in range(start, cfg.optim.steps):
            ramp = tf.constant(min(1.0, step / warmup), tf.float32)
            loss, terms, norm = train_step(next(it), ramp)
            step_var.assign(step + 1)
            bar.update(1)
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.optim.steps:
                row = {"step": step + 1, "loss": float(loss), "grad_norm": float(norm)}
                row.update({k: float(v) for k, v in terms.items()})
                row["seconds"] = round(time.perf_counter() - t0, 1)
                self.history.append(row)
                bar.set_postfix(loss=f"{float(loss):.3g}")
                with writer.as_default(step=step + 1):
                    for k, v in row.items():
                        if k != "step":
                            tf.summary.scalar(k, v)
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.optim.steps:
                self._save(manager, ckpt, chief, step + 1, model)
        bar.close()
        self.model = model
        if start >= cfg.optim.steps:
            log.info("already trained for %d steps", cfg.optim.steps)
        return self.out / "checkpoint"

    def _save(
        self,
        manager: tf.train.CheckpointManager,
        ckpt: tf.train.Checkpoint,
        chief: bool,
        step: int,
        model: keras.Model,
    ) -> None:
        """Resume state (every worker takes part; only the chief's is kept), then the
        exportable checkpoint and the history (chief only)."""
        if chief:
            manager.save(checkpoint_number=step)
            save_checkpoint(self.out / "checkpoint", model, self.meta(step))
            (self.out / "history.json").write_text(json.dumps(self.history, indent=1))
            return
        tmp = Path(tempfile.mkdtemp(prefix="sspinn-worker-"))
        try:
            tf.train.CheckpointManager(ckpt, tmp, max_to_keep=1).save(checkpoint_number=step)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def loss_history_decreases(history: list[dict], term: str, fraction: float = 0.2) -> bool:
    """True when the mean of ``term`` over the last ``fraction`` of the logged rows is
    below its mean over the first ``fraction``."""
    values = np.array([row[term] for row in history])
    k = max(1, int(len(values) * fraction))
    return bool(values[-k:].mean() < values[:k].mean())
