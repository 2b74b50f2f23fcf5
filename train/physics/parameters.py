"""Body segment parameters of the planar model, scaled from body height and mass.

All values are SI (kg, m, kg·m²). A :class:`BodyParameters` holds TensorFlow tensors of
one dtype (float32 or float64). Height and mass may be scalars (one body) or tensors of
shape (B,) (one body per batch element); every field then carries the same leading
dims ``P`` (empty or (B,)), which broadcast against the batch dims of q (not its time
axis): the model functions insert the time axis themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import tensorflow as tf

from train.physics.constants import CONTACT_POINTS, GRAVITY, SEGMENTS

#: Reference height of the Winter-type proportions; heel/toe x offsets scale with H / 1.8.
_REFERENCE_HEIGHT_M = 1.8
#: Air drag coefficient c of the reference model (force -c |v| v at the trunk CoM), N·s²/m².
DEFAULT_AIR_DRAG = 0.2128

# Winter-type proportions (docs/body-model.md): mass fraction, length fraction of H,
# CoM y as fraction of L, radius of gyration as fraction of L.
_TRUNK = (0.678, 0.28, 0.626, 0.496)
_THIGH = (0.100, 0.245, -0.433, 0.323)
_SHANK = (0.0465, 0.246, -0.433, 0.302)
_FOOT = (0.0145, 0.152, None, 0.475)
_FOOT_COM_X_OFFSET_M = 0.06  # foot CoM x = 0.5 L - 0.06 (not scaled)
_FOOT_COM_Y_M = -0.0351  # not scaled
_HEEL_X_M = -0.06  # at H = 1.8 m, scaled with H / 1.8
_TOE_FROM_END_M = 0.05  # toe x = L_foot - 0.06 H/1.8 - 0.05
_CONTACT_Y_M = -0.0702  # not scaled


@dataclass(frozen=True, eq=False)
class BodyParameters:
    """Segment and contact parameters (tensors, one dtype).

    Attributes:
        height: (P) body height H, m.
        mass: (P) body mass M, kg.
        gravity: () gravitational acceleration g, m/s² (acts along -Y of the ground).
        segment_mass: (P, 7) kg, in ``SEGMENTS`` order.
        segment_length: (P, 7) m (origin to distal joint; trunk and foot lengths are
            nominal and enter only through their CoM and contact points).
        segment_com: (P, 7, 2) m, centre of mass in the segment frame relative to the
            segment origin (the proximal joint).
        segment_inertia: (P, 7) kg·m², moment of inertia about the CoM (z axis).
        contact_local: (P, 4, 2) m, contact points (``CONTACT_POINTS`` order) in the foot
            frame relative to the ankle.
        air_drag_coefficient: () N·s²/m², drag force -c |v| v at the trunk CoM.
    """

    height: tf.Tensor
    mass: tf.Tensor
    gravity: tf.Tensor
    segment_mass: tf.Tensor
    segment_length: tf.Tensor
    segment_com: tf.Tensor
    segment_inertia: tf.Tensor
    contact_local: tf.Tensor
    air_drag_coefficient: tf.Tensor
    _cache: dict[Any, BodyParameters] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def dtype(self) -> tf.DType:
        return self.segment_mass.dtype

    @property
    def batch_rank(self) -> int:
        """Number of leading parameter dims P (0 for one body)."""
        return len(self.mass.shape)

    @property
    def body_weight(self) -> tf.Tensor:
        """(P) body weight BW = M g, N."""
        return self.mass * self.gravity

    @property
    def body_weight_height(self) -> tf.Tensor:
        """(P) BW·BH = M g H, N·m (normalises moments)."""
        return self.mass * self.gravity * self.height

    def cast(self, dtype: tf.DType | str) -> BodyParameters:
        """The same parameters in ``dtype`` (returns ``self`` if unchanged).

        Memoised in eager mode only: inside a ``tf.function`` the cast tensors belong to
        that graph and must not be reused elsewhere.
        """
        dtype = tf.as_dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype in self._cache:
            return self._cache[dtype]
        values = {f.name: tf.cast(getattr(self, f.name), dtype) for f in fields(self) if f.init}
        out = BodyParameters(**values)
        if tf.executing_eagerly():
            self._cache[dtype] = out
        return out

    @classmethod
    def from_height_mass(
        cls,
        height_m: float | tf.Tensor | np.ndarray,
        mass_kg: float | tf.Tensor | np.ndarray,
        *,
        dtype: tf.DType | str = tf.float32,
        gravity: float = GRAVITY,
        air_drag_coefficient: float = DEFAULT_AIR_DRAG,
    ) -> BodyParameters:
        """Scale the Winter-type proportions of docs/body-model.md.

        Args:
            height_m: () or (B,) body height, m.
            mass_kg: () or (B,) body mass, kg (same shape as ``height_m``).
            dtype: float32 or float64.
            gravity: m/s².
            air_drag_coefficient: N·s²/m².
        """
        dtype = tf.as_dtype(dtype)
        h = tf.convert_to_tensor(height_m, dtype=dtype)
        m = tf.convert_to_tensor(mass_kg, dtype=dtype)
        h, m = h + tf.zeros_like(m), m + tf.zeros_like(h)  # common shape
        one = tf.ones_like(h)

        def seg(props: tuple) -> tuple[tf.Tensor, ...]:
            mass_f, len_f, com_f, gyr_f = props
            mass = mass_f * m
            length = len_f * h
            if com_f is None:  # foot
                com = tf.stack([0.5 * length - _FOOT_COM_X_OFFSET_M, _FOOT_COM_Y_M * one], -1)
            else:
                com = tf.stack([0.0 * one, com_f * length], -1)
            inertia = mass * (gyr_f * length) ** 2
            return mass, length, com, inertia

        per_segment = {
            "pelvis": seg(_TRUNK),
            "femur_r": seg(_THIGH),
            "tibia_r": seg(_SHANK),
            "foot_r": seg(_FOOT),
        }
        per_segment["femur_l"] = per_segment["femur_r"]
        per_segment["tibia_l"] = per_segment["tibia_r"]
        per_segment["foot_l"] = per_segment["foot_r"]
        stacked = [tf.stack([per_segment[s][i] for s in SEGMENTS], -1) for i in (0, 1, 3)]
        com = tf.stack([per_segment[s][2] for s in SEGMENTS], -2)

        scale = h / _REFERENCE_HEIGHT_M
        foot_len = per_segment["foot_r"][1]
        heel = tf.stack([_HEEL_X_M * scale, _CONTACT_Y_M * one], -1)
        toe = tf.stack([foot_len + _HEEL_X_M * scale - _TOE_FROM_END_M, _CONTACT_Y_M * one], -1)
        contact = tf.stack([heel, toe, heel, toe], -2)
        return cls(
            height=h,
            mass=m,
            gravity=tf.constant(gravity, dtype),
            segment_mass=stacked[0],
            segment_length=stacked[1],
            segment_com=com,
            segment_inertia=stacked[2],
            contact_local=contact,
            air_drag_coefficient=tf.constant(air_drag_coefficient, dtype),
        )

    @classmethod
    def from_sidecar(
        cls, meta: Mapping[str, Any], *, dtype: tf.DType | str = tf.float64
    ) -> BodyParameters:
        """Explicit parameters from a reference-stride sidecar (``gait2dc_walking_reference.json``).

        Uses ``body`` (height_m, mass_kg, gravity), ``segments`` (mass, length, inertia,
        mass_center_1/2 per segment), ``contact_points`` (x, y per point) and
        ``air_drag.coefficient``. Raises ``KeyError``/``ValueError`` on a missing entry.
        """
        dtype = tf.as_dtype(dtype)
        body = meta["body"]
        segs = meta["segments"]
        pts = meta["contact_points"]
        missing = [s for s in SEGMENTS if s not in segs] + [
            p for p in CONTACT_POINTS if p not in pts
        ]
        if missing:
            raise ValueError(f"sidecar lacks parameters for {missing}")

        def const(values: Any) -> tf.Tensor:
            return tf.constant(np.asarray(values, dtype=np.float64), dtype=dtype)

        drag = meta.get("air_drag", {}).get("coefficient", DEFAULT_AIR_DRAG)
        return cls(
            height=const(body["height_m"]),
            mass=const(body["mass_kg"]),
            gravity=const(body.get("gravity", GRAVITY)),
            segment_mass=const([segs[s]["mass"] for s in SEGMENTS]),
            segment_length=const([segs[s]["length"] for s in SEGMENTS]),
            segment_com=const(
                [[segs[s]["mass_center_1"], segs[s]["mass_center_2"]] for s in SEGMENTS]
            ),
            segment_inertia=const([segs[s]["inertia"] for s in SEGMENTS]),
            contact_local=const([[pts[p]["x"], pts[p]["y"]] for p in CONTACT_POINTS]),
            air_drag_coefficient=const(drag),
        )


def over_time(x: tf.Tensor, batch_rank: int, event_rank: int) -> tf.Tensor:
    """Insert the time axis into a parameter tensor of shape (P, *event) when P is not empty.

    ``(B, 7)`` becomes ``(B, 1, 7)`` so that it broadcasts against ``(B, T, 7)``; an
    unbatched ``(7,)`` broadcasts as it is.
    """
    if batch_rank == 0:
        return x
    return tf.expand_dims(x, axis=-event_rank - 1)
