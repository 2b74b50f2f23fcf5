"""The model's per-step input feature vector: names, and assembly from IMU samples.

Shared by training (to build (B, T, F) inputs) and the device (one (1, F) row per step),
so both use the same order. Features, in order:

1. per sensor ``S``: ``S_acc_x``, ``S_acc_y`` (m/s², segment axes, gravity included),
   ``S_gyr_z`` (rad/s) — the planar model's channels;
2. ``height_m``, ``mass_kg`` (body inputs);
3. per sensor ``S``: ``S_pos_x``, ``S_pos_y`` (m, sensor position in the segment frame).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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


def build_features(imu: np.ndarray, static: np.ndarray) -> np.ndarray:
    """(N, F) float64 features from (N, S, 6) IMU samples and the static features."""
    n, s, _ = imu.shape
    planar = imu[:, :, list(PLANAR_CHANNEL_INDEX)].reshape(n, s * len(PLANAR_CHANNELS))
    return np.concatenate([planar, np.broadcast_to(static, (n, static.shape[0]))], axis=1)


class FeatureAssembler:
    """Per-step feature assembly on the device, without allocations.

    ``assemble(imu_row)`` writes the normalised (1, F) float32 vector into a buffer it
    owns and returns it. Missing values (NaN) are replaced by the feature mean (0 after
    normalisation), so the network sees "typical" input rather than NaN.
    """

    def __init__(
        self, n_sensors: int, static: np.ndarray, mean: np.ndarray, std: np.ndarray
    ) -> None:
        n_imu = n_imu_features(n_sensors)
        total = n_imu + static.shape[0]
        if mean.shape != (total,) or std.shape != (total,):
            raise ValueError(f"normalisation has {mean.shape} values, features are ({total},)")
        self._n_imu = n_imu
        self._mean = mean[:n_imu].astype(np.float32)
        self._inv_std = (1.0 / std[:n_imu]).astype(np.float32)
        self.buffer = np.zeros((1, total), dtype=np.float32)
        self.buffer[0, n_imu:] = ((static - mean[n_imu:]) / std[n_imu:]).astype(np.float32)
        self._view = self.buffer[0, :n_imu].reshape(n_sensors, len(PLANAR_CHANNELS))
        self._mean_v = self._mean.reshape(n_sensors, len(PLANAR_CHANNELS))
        self._inv_v = self._inv_std.reshape(n_sensors, len(PLANAR_CHANNELS))
        self._idx = list(PLANAR_CHANNEL_INDEX)

    def assemble(self, imu_row: np.ndarray) -> np.ndarray:
        """Normalised (1, F) float32 features from one (S, 6) sample (SI, segment axes)."""
        view = self._view
        np.take(imu_row, self._idx, axis=1, out=view, mode="clip")
        np.subtract(view, self._mean_v, out=view)
        np.multiply(view, self._inv_v, out=view)
        np.nan_to_num(view, copy=False, nan=0.0)
        return self.buffer
