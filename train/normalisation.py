"""Input normalisation statistics, computed once from training data and stored with the model.

IMU features take their mean and standard deviation from the data. Body and placement
features are near-constant within a data set, so they get fixed population values
instead (a model trained on one participant must not divide by a zero spread).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.features import n_imu_features

#: (mean, std) of the body features: adult population scale.
BODY_STATS = {"height_m": (1.75, 0.10), "mass_kg": (72.0, 15.0)}
#: (mean, std) of sensor position features (m).
POSITION_STATS = (0.0, 0.10)
#: Smallest std for an IMU feature (m/s² or rad/s), for flat channels.
MIN_IMU_STD = 0.05


def compute_normalisation(
    feature_sets: Sequence[np.ndarray], feature_names: Sequence[str], n_sensors: int
) -> tuple[np.ndarray, np.ndarray]:
    """(F,) mean and std from raw (N_i, F) feature arrays (NaN ignored)."""
    stacked = np.concatenate([np.asarray(f, np.float64) for f in feature_sets], axis=0)
    n_imu = n_imu_features(n_sensors)
    mean = np.zeros(len(feature_names))
    std = np.ones(len(feature_names))
    mean[:n_imu] = np.nanmean(stacked[:, :n_imu], axis=0)
    std[:n_imu] = np.maximum(np.nanstd(stacked[:, :n_imu], axis=0), MIN_IMU_STD)
    for j, name in enumerate(feature_names[n_imu:], start=n_imu):
        mean[j], std[j] = BODY_STATS.get(name, POSITION_STATS)
    return mean, std


def feature_moments(features: np.ndarray) -> dict[str, list[float]]:
    """Per-feature ``count``, ``mean`` and ``m2`` (sum of squared deviations) of one
    recording's raw (N, F) features, NaN ignored: what a shard cache stores so that the
    normalisation needs no second pass over the data (:func:`normalisation_from_moments`)."""
    x = np.asarray(features, np.float64)
    count = np.sum(~np.isnan(x), axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.nansum(x, axis=0) / np.maximum(count, 1), 0.0)
    m2 = np.nansum((x - mean) ** 2, axis=0)
    return {"count": count.tolist(), "mean": mean.tolist(), "m2": m2.tolist()}


def normalisation_from_moments(
    moments: Sequence[dict[str, list[float]]], feature_names: Sequence[str], n_sensors: int
) -> tuple[np.ndarray, np.ndarray]:
    """(F,) mean and std as :func:`compute_normalisation` gives for the concatenated
    recordings (equal up to float64 rounding), from their :func:`feature_moments`
    (combined with Chan et al.'s pairwise update)."""
    n = np.zeros(len(feature_names))
    mu = np.zeros(len(feature_names))
    m2 = np.zeros(len(feature_names))
    for m in moments:
        nb, mb, m2b = (np.asarray(m[k], np.float64) for k in ("count", "mean", "m2"))
        tot = n + nb
        safe = np.maximum(tot, 1)
        delta = mb - mu
        mu = np.where(tot > 0, mu + delta * nb / safe, 0.0)
        m2 = m2 + m2b + delta**2 * n * nb / safe
        n = tot
    n_imu = n_imu_features(n_sensors)
    mean = np.zeros(len(feature_names))
    std = np.ones(len(feature_names))
    mean[:n_imu] = mu[:n_imu]
    std[:n_imu] = np.maximum(np.sqrt(m2[:n_imu] / np.maximum(n[:n_imu], 1)), MIN_IMU_STD)
    for j, name in enumerate(feature_names[n_imu:], start=n_imu):
        mean[j], std[j] = BODY_STATS.get(name, POSITION_STATS)
    return mean, std
