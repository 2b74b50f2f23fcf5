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
    owns (or the ``out`` given at construction, e.g. the interpreter's input tensor) and
    returns it: the same values as :func:`model_features` (missing or non-finite values
    become 0, the feature mean after normalisation).

    With a mounting (``mounting_rad`` or :meth:`set_mounting`) each sensor's acc (x, y) is
    first turned into segment axes, exactly as :func:`edge.mounting.to_segment_axes`
    does before :func:`build_features` (gyr_z is the rotation axis and stays); ``imu_row``
    itself is never modified.

    How (prepared once, so a step is two numpy calls): every IMU feature is affine in
    the sample, ``z = row · A + r`` with channel selection, the mounting rotation and
    the normalisation folded into the (6S, F_imu + 1) matrix ``A`` and the offset ``r``.
    ``A``'s last column sums the whole sample: when that sum is not finite (a NaN or inf
    anywhere in the row) the step takes the exact per-feature path instead, where a
    missing channel only empties the features computed from it. ``A``'s structural
    zeros hold :attr:`_TINY` instead, so an inf in the row meets no ``inf × 0`` (numpy's
    "invalid value" warning) on its way to the exact path; on finite data its terms are
    ~1e-197 and vanish in the float32 features.
    """

    #: a checksum beyond this is treated as non-finite (keeps float32 from overflowing)
    _FAST_LIMIT = 1e30
    #: stands for 0 in ``A`` (a normal float64: no denormal arithmetic for |x| > 1e-108)
    _TINY = 1e-200

    def __init__(
        self,
        n_sensors: int,
        static: np.ndarray,
        mean: np.ndarray,
        std: np.ndarray,
        *,
        mounting_rad: np.ndarray | Sequence[float] | None = None,
        out: np.ndarray | None = None,
    ) -> None:
        n_imu = n_imu_features(n_sensors)
        total = n_imu + static.shape[0]
        if mean.shape != (total,) or std.shape != (total,):
            raise ValueError(f"normalisation has {mean.shape} values, features are ({total},)")
        if out is not None and (out.shape != (1, total) or out.dtype != np.float32):
            raise ValueError(f"out must be (1, {total}) float32, got {out.shape} {out.dtype}")
        self._n_sensors = n_sensors
        self._n_imu = n_imu
        self._inv_std = 1.0 / std[:n_imu].astype(np.float64)
        self.buffer = np.zeros((1, total), dtype=np.float32) if out is None else out
        self.buffer[0, n_imu:] = normalise_features(
            np.asarray(static, np.float64), mean[n_imu:], std[n_imu:]
        ).astype(np.float32)
        self._imu = self.buffer[0, :n_imu]  # the part written per step
        self._offset = -mean[:n_imu] * self._inv_std
        self._product = np.zeros(n_imu + 1, dtype=np.float64)  # row · A (+ checksum)
        self._features = self._product[:n_imu]
        # the exact path: rows row[a], row[b], r
        self._work = np.zeros((3, n_imu), dtype=np.float64)
        self._work[2] = self._offset
        self._gathered = self._work[:2]
        self._bad = np.zeros(n_imu, dtype=bool)
        self._zeros = np.zeros(n_imu, dtype=np.float32)
        self._mounting: np.ndarray | None = None
        self._plan = self._make_plan(None)
        self.set_mounting(mounting_rad)

    def _make_plan(self, beta: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The matrix ``A`` (6S, F_imu + 1), and for the exact path the (2, F_imu) flat
        indices ``a, b`` into a (S, 6) sample with their (2, F_imu) coefficients."""
        n_ch = len(PLANAR_CHANNELS)
        width = 6  # channels per sensor in a sample row
        ix, iy, iz = PLANAR_CHANNEL_INDEX  # acc_x, acc_y, gyr_z
        idx = np.zeros((2, self._n_imu), dtype=np.intp)
        coef = np.zeros((2, self._n_imu), dtype=np.float64)
        for s in range(self._n_sensors):
            fx, fy, fz = s * n_ch, s * n_ch + 1, s * n_ch + 2
            x, y, z = s * width + ix, s * width + iy, s * width + iz
            idx[:, fz] = z
            coef[0, fz] = 1.0
            if beta is None:  # b = a with q = 0: a NaN stays in its own feature
                idx[:, fx], idx[:, fy] = x, y
                coef[0, fx] = coef[0, fy] = 1.0
            else:  # (x', y') = R(β) (x, y): x' = c x − s y, y' = s x + c y
                c, sn = np.cos(beta[s]), np.sin(beta[s])
                idx[0, fx], idx[1, fx], idx[0, fy], idx[1, fy] = x, y, x, y
                coef[0, fx], coef[1, fx], coef[0, fy], coef[1, fy] = c, -sn, sn, c
        coef *= self._inv_std
        matrix = np.zeros((width * self._n_sensors, self._n_imu + 1), dtype=np.float64)
        for k in range(2):
            np.add.at(matrix, (idx[k], np.arange(self._n_imu)), coef[k])
        matrix[matrix == 0.0] = self._TINY
        matrix[:, -1] = 1.0
        return matrix, idx, coef

    def set_mounting(self, mounting_rad: np.ndarray | Sequence[float] | None) -> None:
        """Undo this (S,) mounting (rad, :meth:`edge.mounting.Mounting.angles`) from the
        next step on; None: use the channels as they come. Any thread may call this: the
        new plan replaces the old one as one reference (built here, not per step).
        """
        if mounting_rad is None:
            self._mounting = None
            self._plan = self._make_plan(None)
            return
        beta = np.asarray(mounting_rad, np.float64).reshape(-1)
        if beta.shape != (self._n_sensors,):
            raise ValueError(f"mounting has {beta.shape[0]} angles for {self._n_sensors} sensors")
        self._plan = self._make_plan(beta)
        self._mounting = beta.copy()

    @property
    def mounting_rad(self) -> np.ndarray | None:
        """(S,) the mounting being undone (rad), or None."""
        return None if self._mounting is None else self._mounting.copy()

    def assemble(self, imu_row: np.ndarray) -> np.ndarray:
        """Normalised (1, F) float32 features from one (S, 6) sample (SI; sensor axes with
        a mounting set, else segment axes)."""
        plan = self._plan  # read once: a new mounting lands between two steps
        product = self._product
        np.dot(imu_row.reshape(-1), plan[0], out=product)
        checksum = product[-1]
        if -self._FAST_LIMIT < checksum < self._FAST_LIMIT:  # all finite (NaN fails)
            np.add(self._features, self._offset, out=self._imu)
        else:
            self._exact(imu_row, plan[1], plan[2])
        return self.buffer

    def _exact(self, imu_row: np.ndarray, idx: np.ndarray, coef: np.ndarray) -> None:
        """Per feature, for a sample with missing or non-finite values: only the
        features computed from such a value become 0."""
        gathered, imu, bad = self._gathered, self._imu, self._bad
        with np.errstate(invalid="ignore", over="ignore"):
            np.take(imu_row, idx, out=gathered)
            np.multiply(gathered, coef, out=gathered)
            np.add.reduce(self._work, axis=0, out=imu)
        np.isfinite(imu, out=bad)
        np.logical_not(bad, out=bad)
        np.copyto(imu, self._zeros, where=bad)
