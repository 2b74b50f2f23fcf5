"""Model-ready inputs from recordings: the model's rate, and normalised features."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edge.features import build_features, normalise_features, static_features
from edge.mounting import Mounting, mounting_for
from edge.recording import Recording, read_recording, resample, tile_cycles


def at_model_rate(rec: Recording | str | Path, rate_hz: float, min_cycles: int = 10) -> Recording:
    """A continuous recording at ``rate_hz``.

    A mean-cycle file is tiled to at least ``min_cycles`` cycles (exact Fourier resampling);
    a continuous recording is resampled (band-limited) when its rate differs.
    """
    if not isinstance(rec, Recording):
        rec = read_recording(rec)
    if rec.is_mean_cycle:
        return tile_cycles(rec, min_cycles, rate_hz=rate_hz)
    if math.isclose(rec.sample_rate_hz, rate_hz, rel_tol=1e-6):
        return rec
    return resample(rec, rate_hz)


def in_segment_axes(rec: Recording) -> tuple[Recording, Mounting]:
    """The recording with its sensor mounting undone (IMU in segment axes) and that
    mounting: what the sidecar's calibration leaves to undo, else the functional estimate
    from the gait alone (``edge.mounting.mounting_for``; never a truth key).

    Raises:
        edge.mounting.InsufficientGaitError: no stored mounting and too little gait.
    """
    mounting = mounting_for(rec)
    imu = mounting.to_segment_axes(rec.imu, rec.sensors)
    return Recording(rec.time_s, rec.sensors, imu, rec.meta, rec.truth, rec.path), mounting


def sensor_positions(rec: Recording, sensors: list[str]) -> np.ndarray:
    """(S, 3) sensor positions (m, segment frames) in the given sensor order."""
    missing = [s for s in sensors if s not in rec.meta.sensors]
    if missing:
        raise ValueError(f"recording lacks sensors {missing} that the model needs")
    return np.array([rec.meta.sensors[s].position_m for s in sensors], dtype=np.float64)


def recording_features(rec: Recording, sensors: list[str]) -> np.ndarray:
    """(N, F) float64 raw (unnormalised) model features of a recording."""
    idx = [rec.sensors.index(s) for s in sensors]
    static = static_features(
        rec.meta.participant.height_m, rec.meta.participant.mass_kg, sensor_positions(rec, sensors)
    )
    return build_features(rec.imu[:, idx], static)


def normalise(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(..., F) float32 normalised features; NaN (missing) becomes 0 (the mean)."""
    return normalise_features(np.asarray(features, np.float64), mean, std).astype(np.float32)
