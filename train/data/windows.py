"""The tf.data input pipeline: fixed-length windows of unlabelled IMU data.

Each element holds only what the network and the self-supervised losses may see:
``imu`` (T, S, 3) raw acc_x, acc_y (m/s²) and gyr_z (rad/s); ``static`` (2 + 2S,)
height, mass and sensor positions; ``height_m``, ``mass_kg``; ``positions`` (S, 2) m.
Ground-truth columns never enter: sources are stripped with ``without_truth()`` before
windowing, and :func:`window_bank` refuses recordings that still carry truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tensorflow.experimental.numpy as tnp

from edge.features import model_features, static_features
from edge.recording import PLANAR_CHANNEL_INDEX, Recording
from train.inputs import sensor_positions

WINDOW_KEYS = ("imu", "static", "height_m", "mass_kg", "positions")


@dataclass
class WindowBank:
    """Windows as arrays (leading dimension W), see the module docstring for keys."""

    arrays: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return int(self.arrays["imu"].shape[0])


def window_bank(
    recordings: Sequence[Recording], sensors: Sequence[str], window: int, stride: int
) -> WindowBank:
    """Cut every recording into windows of ``window`` steps every ``stride`` steps."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in WINDOW_KEYS}
    for rec in recordings:
        if rec.truth:
            raise ValueError(
                f"{rec.meta.trial or rec.path}: training recordings must not carry truth "
                "columns (use rec.without_truth())"
            )
        if rec.n_samples < window:
            continue
        idx = [rec.sensors.index(s) for s in sensors]
        planar = rec.imu[:, idx][:, :, list(PLANAR_CHANNEL_INDEX)].astype(np.float32)
        pos = sensor_positions(rec, list(sensors))
        h, m = rec.meta.participant.height_m, rec.meta.participant.mass_kg
        static = static_features(h, m, pos).astype(np.float32)
        starts = np.arange(0, rec.n_samples - window + 1, stride)
        parts["imu"].append(np.stack([planar[s : s + window] for s in starts]))
        k = len(starts)
        parts["static"].append(np.repeat(static[None], k, 0))
        parts["height_m"].append(np.full(k, h, np.float32))
        parts["mass_kg"].append(np.full(k, m, np.float32))
        parts["positions"].append(np.repeat(pos[None, :, :2].astype(np.float32), k, 0))
    if not parts["imu"]:
        raise ValueError(f"no recording is at least {window} samples long")
    return WindowBank({k: np.concatenate(v) for k, v in parts.items()})


def bank_windows(bank: WindowBank, seed: int) -> tf.data.Dataset:
    """Endless windows of one in-memory bank, reshuffled every pass (full shuffle)."""
    ds = tf.data.Dataset.from_tensor_slices(bank.arrays)
    return ds.shuffle(bank.size, seed=seed, reshuffle_each_iteration=True).repeat()


def make_dataset(
    banks: Sequence[WindowBank],
    proportions: Sequence[float],
    *,
    batch_size: int,
    norm_mean: np.ndarray,
    norm_std: np.ndarray,
    acc_noise: float,
    gyr_noise: float,
    seed: int,
) -> tf.data.Dataset:
    """Endless shuffled batches mixing the in-memory banks in the given proportions
    (see :func:`batched_mix`)."""
    return batched_mix(
        [bank_windows(bank, seed + i) for i, bank in enumerate(banks)],
        proportions,
        batch_size=batch_size,
        norm_mean=norm_mean,
        norm_std=norm_std,
        acc_noise=acc_noise,
        gyr_noise=gyr_noise,
        seed=seed,
    )


def batched_mix(
    datasets: Sequence[tf.data.Dataset],
    proportions: Sequence[float],
    *,
    batch_size: int,
    norm_mean: np.ndarray,
    norm_std: np.ndarray,
    acc_noise: float,
    gyr_noise: float,
    seed: int,
) -> tf.data.Dataset:
    """Batches mixing endless window datasets (in-memory banks or shard streams) in the
    given proportions.

    Each batch adds fresh white noise to the measured IMU (the network input and the
    IMU loss target see the same noisy measurement) and appends ``features``: (B, T, F)
    normalised network input from :func:`edge.features.model_features` (the device's
    definition; a missing sample, NaN, becomes 0 there while the IMU loss skips it).
    """
    mean = np.asarray(norm_mean, np.float32)
    std = np.asarray(norm_std, np.float32)
    noise_scale = tf.constant([acc_noise, acc_noise, gyr_noise], tf.float32)

    def with_features(el: dict) -> dict:
        imu = el["imu"] + tf.random.normal(tf.shape(el["imu"])) * noise_scale
        feats = model_features(imu, el["static"], mean, std, xp=tnp)
        return {**el, "imu": imu, "features": feats}

    weights = np.asarray(proportions, np.float64)
    if len(datasets) == 1:
        ds = datasets[0]
    else:
        ds = tf.data.Dataset.sample_from_datasets(
            list(datasets), weights=(weights / weights.sum()).tolist(), seed=seed
        )
    ds = ds.map(with_features, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
