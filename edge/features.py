"""The model's per-step input feature vector: names, and assembly from IMU samples.

Shared by training (the tf.data pipeline runs :func:`model_features` through
``tf.experimental.numpy``), evaluation and the device (one (1, F) row per step with
:class:`FeatureAssembler`), so all use the same order, normalisation and handling of
missing samples. Features, in order:

1. per sensor ``S``: ``S_acc_x``, ``S_acc_y`` (m/s², segment axes, gravity included),
   ``S_gyr_z`` (rad/s) — the planar model's channels;
2. ``height_m``, ``mass_kg`` (body inputs);
3. per sensor ``S``: ``S_pos_x``, ``S_pos_y`` (m, sensor position in the segment frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edge.mounting.apply import AxisRotator
from edge.recording.schema import PLANAR_CHANNEL_INDEX

PLANAR_CHANNELS: tuple[str, ...] = ("acc_x", "acc_y", "gyr_z")
BODY_FEATURES: tuple[str, ...] = ("height_m", "mass_kg")


def feature_names(sensors: Sequence[str]) -> list[str]:
    """Input feature names for these sensors, in model order."""
    names = [f"{s}_{c}" for s in sensors for c in PLANAR_CHANNELS]
    names += list(BODY_FEATURES)
    names += [f"{s}_pos_{a}" for s in sensors for a in ("x", "y")]
    return names


def n_imu_features(n_sensors: int) -> int:
    return n_sensors * len(PLANAR_CHANNELS)


def static_features(height_m: float, mass_kg: float, positions_m: np.ndarray) -> np.ndarray:
    """(2 + 2S,) the per-recording constant features.

    Args:
        positions_m: (S, 2) or (S, 3) sensor positions in segment frames (m); x, y used.
    """
    pos = np.asarray(positions_m, dtype=np.float64)[:, :2]
    return np.concatenate([[height_m, mass_kg], pos.reshape(-1)])


def raw_features(planar: Any, static: Any, xp: Any = np) -> Any:
    """(T, F) unnormalised model features of one sequence: THE definition.

    Args:
        planar: (T, S, 3) acc_x, acc_y (m/s², segment axes, gravity included) and gyr_z
            (rad/s) per sensor; NaN where a sample is missing.
        static: (2 + 2S,) height (m), mass (kg) and sensor positions (m), from
            :func:`static_features`.
        xp: array namespace: ``numpy`` (edge, evaluation) or ``tf.experimental.numpy``
            (the training pipeline), so both run this same code.
    """
    n_imu = int(planar.shape[-2]) * len(PLANAR_CHANNELS)
    flat = xp.reshape(planar, (-1, n_imu))
    static_rows = xp.zeros_like(flat[:, :1]) + xp.asarray(static, dtype=flat.dtype)[None, :]
    return xp.concatenate([flat, static_rows], axis=1)


def normalise_features(features: Any, mean: Any, std: Any, xp: Any = np) -> Any:
    """(..., F) normalised features; a missing (NaN) or non-finite value becomes 0, the
    feature's training mean, so the network sees "typical" input, never NaN.

    Args:
        features: (..., F) from :func:`raw_features`.
        mean, std: (F,) the model's normalisation (stored with the model).
    """
    z = (features - xp.asarray(mean, dtype=features.dtype)) / xp.asarray(std, dtype=features.dtype)
    return xp.where(xp.isfinite(z), z, xp.zeros_like(z))


def model_features(planar: Any, static: Any, mean: Any, std: Any, xp: Any = np) -> Any:
    """(T, F) normalised network input from (T, S, 3) planar IMU: what training feeds the
    network and what the device computes per step (:class:`FeatureAssembler` is its
    allocation-free per-sample form, tested for parity, NaN included)."""
    return normalise_features(raw_features(planar, static, xp), mean, std, xp)


def planar_channels(imu: np.ndarray) -> np.ndarray:
    """(..., S, 3) acc_x, acc_y, gyr_z from (..., S, 6) recorded IMU samples."""
    return imu[..., list(PLANAR_CHANNEL_INDEX)]


def build_features(imu: np.ndarray, static: np.ndarray) -> np.ndarray:
    """(N, F) float64 unnormalised features from (N, S, 6) IMU samples (SI, segment axes)."""
    return raw_features(planar_channels(np.asarray(imu, np.float64)), static)


class FeatureAssembler:
    """Per-step feature assembly on the device, without allocations.

    ``assemble(imu_row)`` writes the normalised (1, F) float32 vector into a buffer it
    owns and returns it: the same values as :func:`model_features` (missing or
    non-finite values become 0, the feature mean after normalisation).

    With a mounting (``mounting_rad`` or :meth:`set_mounting`) each sensor's acc (x, y) is
    first turned into segment axes, exactly as :func:`edge.mounting.to_segment_axes`
    does before :func:`build_features` (its per-sample form,
    :class:`edge.mounting.AxisRotator`, on the buffer's columns; gyr_z is the rotation
    axis and stays); ``imu_row`` itself is never modified.
    """

    def __init__(
        self,
        n_sensors: int,
        static: np.ndarray,
        mean: np.ndarray,
        std: np.ndarray,
        *,
        mounting_rad: np.ndarray | Sequence[float] | None = None,
    ) -> None:
        n_imu = n_imu_features(n_sensors)
        total = n_imu + static.shape[0]
        if mean.shape != (total,) or std.shape != (total,):
            raise ValueError(f"normalisation has {mean.shape} values, features are ({total},)")
        self._n_sensors = n_sensors
        self._n_imu = n_imu
        self._mean = mean[:n_imu].astype(np.float32)
        self._inv_std = (1.0 / std[:n_imu]).astype(np.float32)
        self.buffer = np.zeros((1, total), dtype=np.float32)
        self.buffer[0, n_imu:] = normalise_features(
            np.asarray(static, np.float64), mean[n_imu:], std[n_imu:]
        ).astype(np.float32)
        self._view = self.buffer[0, :n_imu].reshape(n_sensors, len(PLANAR_CHANNELS))
        self._acc_x = self._view[:, PLANAR_CHANNELS.index("acc_x")]
        self._acc_y = self._view[:, PLANAR_CHANNELS.index("acc_y")]
        self._mean_v = self._mean.reshape(n_sensors, len(PLANAR_CHANNELS))
        self._inv_v = self._inv_std.reshape(n_sensors, len(PLANAR_CHANNELS))
        self._idx = list(PLANAR_CHANNEL_INDEX)
        self._rotator: AxisRotator | None = None
        self.set_mounting(mounting_rad)

    def set_mounting(self, mounting_rad: np.ndarray | Sequence[float] | None) -> None:
        """Undo this (S,) mounting (rad, :meth:`edge.mounting.Mounting.angles`) from the
        next step on; None: use the channels as they come. Any thread may call this: the
        new rotation replaces the old one as one reference (allocated here, not per step).
        """
        if mounting_rad is None:
            self._rotator = None
            return
        beta = np.asarray(mounting_rad, np.float64).reshape(-1)
        if beta.shape != (self._n_sensors,):
            raise ValueError(f"mounting has {beta.shape[0]} angles for {self._n_sensors} sensors")
        self._rotator = AxisRotator(beta)

    @property
    def mounting_rad(self) -> np.ndarray | None:
        """(S,) the mounting being undone (rad), or None."""
        rot = self._rotator
        return None if rot is None else np.arctan2(rot.sin, rot.cos)

    def assemble(self, imu_row: np.ndarray) -> np.ndarray:
        """Normalised (1, F) float32 features from one (S, 6) sample (SI; sensor axes with
        a mounting set, else segment axes)."""
        view = self._view
        np.take(imu_row, self._idx, axis=1, out=view, mode="clip")
        rot = self._rotator  # read once: a new mounting lands between two steps
        if rot is not None:
            rot.rotate_xy(self._acc_x, self._acc_y)
        np.subtract(view, self._mean_v, out=view)
        np.multiply(view, self._inv_v, out=view)
        np.nan_to_num(view, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return self.buffer
