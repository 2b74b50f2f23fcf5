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
