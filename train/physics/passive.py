"""Passive joint moments (soft range-of-motion limits and joint damping).

    M_passive = −K2 [softpos(q − q_max) − softpos(q_min − q)] − B q̇,
    softpos(x) = ½ (x + sqrt(x² + D²))

K2 = 5000 N·m/rad, D = 2° (0.0349 rad), B = 0.01 N·m·s/rad; ranges hip [−90°, 160°],
knee [−160°, 0°], ankle [−60°, 60°] (docs/body-model.md). Net joint moment = muscle +
passive; the reference stride's ``*_moment`` columns are net moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from train.physics.constants import JOINTS


@dataclass(frozen=True)
class PassiveParameters:
    """Passive-moment constants (SI). Ranges are per joint type in ``JOINTS`` order
    (right and left share them)."""

    stiffness: float = 5000.0  # K2, N·m/rad
    smoothing: float = float(np.deg2rad(2.0))  # D, rad
    damping: float = 0.01  # B, N·m·s/rad
    lower: tuple[float, ...] = tuple(np.deg2rad([-90.0, -160.0, -60.0] * 2).tolist())
    upper: tuple[float, ...] = tuple(np.deg2rad([160.0, 0.0, 60.0] * 2).tolist())

    def __post_init__(self) -> None:
        if len(self.lower) != len(JOINTS) or len(self.upper) != len(JOINTS):
            raise ValueError(f"lower/upper need {len(JOINTS)} values ({JOINTS})")


def softpos(x: tf.Tensor, smoothing: float) -> tf.Tensor:
    """Smooth max(x, 0): ½ (x + sqrt(x² + D²)); equals D/2 at x = 0."""
    return 0.5 * (x + tf.sqrt(x * x + smoothing * smoothing))


def passive_moments(
    q: tf.Tensor, qd: tf.Tensor, params: PassiveParameters | None = None
) -> tf.Tensor:
    """(..., T, 6) passive joint moments, N·m, ``JOINTS`` order, sign as the angle.

    Args:
        q: (..., T, 9) coordinates (rad for the joints), or (..., T, 6) joint angles only.
        qd: same shape as q, rad/s.
        params: constants; default :class:`PassiveParameters`.
    """
    params = params or PassiveParameters()
    q = tf.convert_to_tensor(q)
    qd = tf.convert_to_tensor(qd, dtype=q.dtype)
    if q.shape[-1] != len(JOINTS):
        q, qd = q[..., 3:], qd[..., 3:]
    lo = tf.constant(params.lower, q.dtype)
    hi = tf.constant(params.upper, q.dtype)
    limit = softpos(q - hi, params.smoothing) - softpos(lo - q, params.smoothing)
    return -params.stiffness * limit - params.damping * qd
