"""Run a Keras sequence model and express its outputs in published units."""

from __future__ import annotations

import keras
import numpy as np

from edge.inference.angle_fusion import DEFAULT_TAU_S, fuse_angles
from edge.inference.body_force import publish_with_physics
from edge.inference.stride_speed import stride_speeds
from edge.output_spec import PUBLISHED, make_grf_admissible, to_published
from train.model.network import published_tensors


def predict_published(
    model: keras.Model,
    feats: np.ndarray,
    imu: np.ndarray | None = None,
    sensors: list[str] | None = None,
    sample_rate_hz: float | None = None,
    angle_fusion_tau_s: float | None = DEFAULT_TAU_S,
    mounting_rad: np.ndarray | None = None,
    stride_speed: bool = True,
    height_m: float | None = None,
    sensor_positions_m: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Published groups from the sequence model, causal over the whole sequence, as the
    device's :class:`edge.inference.Estimator` publishes them (GRF admissible); with
    ``imu`` the angles from the sensors' orientations as on the device
    (:mod:`edge.inference.angle_fusion`).

    Args:
        feats: (N, F) normalised float32 features.
        imu: (N, S, 6) IMU rows (m/s², rad/s) in the sensors' own axes, ``sensors``
            order, at ``sample_rate_hz``: the published angles come from the sensors'
            orientations (:mod:`edge.inference.angle_fusion`) and, with
            ``stride_speed``, the speed from the foot IMUs' strides once a stride is
            known (:mod:`edge.inference.stride_speed`), the network's before; None: the
            network's angles and speed as they are.
        mounting_rad: (S,) the mounting in ``imu`` that the angles subtract (rad);
            None: 0 (rows in segment axes).
        height_m, sensor_positions_m: the wearer's height (m) and the (S, 2|3) sensor
            positions (m, segment frames): with both (and the angle fusion on) the GRF's
            sum is the body's measured mass × acceleration (:mod:`edge.inference.body_force`).

    Returns:
        ``angles_deg`` (N, 7), ``moments_bwbh`` (N, 6), ``grf_bw`` (N, 4),
        ``speed_m_s`` (N, 1).
    """
    out = model(feats[None, :, :], training=False)
    by_tensor = {k: np.asarray(v)[0] for k, v in published_tensors(out).items()}
    out = {key: to_published(key, by_tensor[g.tensor]) for key, g in PUBLISHED.items()}
    make_grf_admissible(out["grf_bw"])  # as the device publishes them
    if imu is not None and angle_fusion_tau_s:
        if sensors is None or sample_rate_hz is None:
            raise ValueError("angle fusion needs the sensors and the sample rate")
        if height_m is not None and sensor_positions_m is not None:
            out["angles_deg"], out["grf_bw"] = publish_with_physics(
                out["angles_deg"],
                out["grf_bw"],
                imu,
                sensors,
                sample_rate_hz,
                angle_fusion_tau_s,
                mounting_rad,
                height_m,
                sensor_positions_m,
            )
        else:
            out["angles_deg"] = fuse_angles(
                out["angles_deg"], imu, sensors, sample_rate_hz, angle_fusion_tau_s, mounting_rad
            )
    if imu is not None and stride_speed:  # as the device's Estimator publishes it
        if sensors is None or sample_rate_hz is None:
            raise ValueError("stride speed needs the sensors and the sample rate")
        strides = stride_speeds(imu, sensors, sample_rate_hz)
        known = np.isfinite(strides)
        out["speed_m_s"][known, 0] = strides[known]
    return out
