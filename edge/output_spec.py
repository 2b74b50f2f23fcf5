"""The one specification of the network's outputs, from raw head columns to published units.

Everything that reads or writes model outputs derives from this module: the network head
and its streaming variant (``train/model/network.py``), the self-supervised losses
(``train/losses.py``), the converter's manifest (``converters/manifest_builder.py``), the
evaluation report and the edge payloads (``edge/inference``, ``edge/mqtt/payloads.py``).
Pure Python + NumPy: the Pi imports it without TensorFlow.

Two layers:

1. **Raw groups** (:data:`RAW_GROUPS`): the head's raw vector, in column order, and the
   map from raw values to physical values. Affine groups are ``value = raw·scale +
   offset`` per channel (SI / body-weight units); the contact group is nonlinear (forces
   admissible by construction, :data:`CONTACT`); see the table below.

   | group | channels | unit |
   |---|---|---|
   | ``q`` | 9 generalized coordinates (``COORDINATE_NAMES``) | m, rad |
   | ``qd`` | their velocities | m/s, rad/s |
   | ``qdd`` | their accelerations | m/s², rad/s² |
   | ``moments_bwbh`` | 6 net joint moments (hip, knee, ankle right, then left) | BW·BH |
   | ``contact_bw`` | (fx, fy) at heel_r, toe_r, heel_l, toe_l | BW |
   | ``speed`` | forward speed | m/s |

2. **Published groups** (:data:`PUBLISHED_GROUPS`): what a device publishes (MQTT
   ``estimate`` keys, bundle manifest ``outputs``), each with the streaming model's
   tensor name, its channel names, the model unit, the published unit and the factor
   between them (``scale``: published = model value · scale + offset), and the payload
   resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge.recording.schema import COORDINATE_NAMES, GRF_NAMES, MOMENT_NAMES

#: Joint names of the six actuated coordinates (moment channels), model order.
JOINT_NAMES: tuple[str, ...] = tuple(m.removesuffix("_moment") for m in MOMENT_NAMES)
#: Contact points, in the order of the ``contact_bw`` pairs.
CONTACT_POINTS: tuple[str, ...] = ("heel_r", "toe_r", "heel_l", "toe_l")


@dataclass(frozen=True)
class RawGroup:
    """One group of the head's raw vector.

    Attributes:
        name: group key in the network's output dict.
        channels: channel names, in column order.
        units: unit per channel (physical value).
        scale, offset: per channel, physical = raw · scale + offset (affine groups only;
            ``None`` for the nonlinear contact group).
        start: first raw column of the group.
    """

    name: str
    channels: tuple[str, ...]
    units: tuple[str, ...]
    scale: tuple[float, ...] | None
    offset: tuple[float, ...] | None
    start: int

    @property
    def size(self) -> int:
        return len(self.channels)

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def columns(self) -> list[int]:
        """Raw column indices of the group."""
        return list(range(self.start, self.stop))

    def scale_array(self) -> np.ndarray:
        """(size,) float32 scale (affine groups)."""
        return np.asarray(self.scale, np.float32)

    def offset_array(self) -> np.ndarray:
        """(size,) float32 offset (affine groups)."""
        return np.asarray(self.offset, np.float32)


@dataclass(frozen=True)
class ContactSpec:
    """The nonlinear contact head: fy = fy_scale·(softplus(raw_y) + leak·raw_y) BW,
    fx = friction·fy·tanh(raw_x), so |fx| ≤ μ·fy and fy ≥ 0 up to the small leak (which
    keeps gradients alive where softplus is flat; negative fy is penalised)."""

    fy_scale: float = 0.4
    leak: float = 0.01
    friction: float = 1.0

    def x_columns(self, group: RawGroup) -> list[int]:
        """Raw columns of the fx pre-activations (one per contact point)."""
        return [group.start + 2 * p for p in range(len(CONTACT_POINTS))]

    def y_columns(self, group: RawGroup) -> list[int]:
        """Raw columns of the fy pre-activations (one per contact point)."""
        return [group.start + 2 * p + 1 for p in range(len(CONTACT_POINTS))]


def _group_units(group: str, names: tuple[str, ...]) -> tuple[str, ...]:
    base = {"q": ("m", "rad"), "qd": ("m/s", "rad/s"), "qdd": ("m/s^2", "rad/s^2")}[group]
    return tuple(base[0] if n in ("pelvis_tx", "pelvis_ty") else base[1] for n in names)


def _raw_groups() -> tuple[RawGroup, ...]:
    coords = COORDINATE_NAMES
    specs = [
        # Typical magnitudes (scale) and centres (offset) per channel, physical units.
        ("q", coords, _group_units("q", coords),
         (0.1, 0.04, 0.05, 0.35, 0.4, 0.2, 0.35, 0.4, 0.2),
         (0.0, 0.92, 0.0, 0.15, -0.45, 0.0, 0.15, -0.45, 0.0)),
        ("qd", coords, _group_units("qd", coords),
         (1.0, 0.3, 0.4, 3.0, 5.0, 4.0, 3.0, 5.0, 4.0),
         (1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
        ("qdd", coords, _group_units("qdd", coords),
         (4.0, 6.0, 8.0, 40.0, 60.0, 60.0, 40.0, 60.0, 60.0),
         (0.0,) * 9),
        ("moments_bwbh", JOINT_NAMES, ("BW*BH",) * 6,
         (0.04, 0.04, 0.06, 0.04, 0.04, 0.06),
         (0.0,) * 6),
        ("contact_bw", tuple(f"{a}_{p}" for p in CONTACT_POINTS for a in ("fx", "fy")),
         ("BW",) * 8, None, None),
        ("speed", ("speed",), ("m/s",), (1.0,), (1.8,)),
    ]  # fmt: skip
    groups, start = [], 0
    for name, channels, units, scale, offset in specs:
        groups.append(RawGroup(name, channels, units, scale, offset, start))
        start += len(channels)
    return tuple(groups)


#: The head's raw vector, group by group in column order.
RAW_GROUPS: tuple[RawGroup, ...] = _raw_groups()
RAW = {g.name: g for g in RAW_GROUPS}
#: Length of the raw head vector.
N_RAW_OUTPUTS: int = RAW_GROUPS[-1].stop
#: Groups mapped affinely from raw columns.
AFFINE_GROUPS: tuple[str, ...] = tuple(g.name for g in RAW_GROUPS if g.scale is not None)
CONTACT = ContactSpec()

#: Index range of the published joint angles inside ``q`` (pelvis_tilt .. ankle_angle_l).
ANGLE_SLICE = slice(2, 9)
#: Published angle channels (rad in the model, deg published).
ANGLE_CHANNELS: tuple[str, ...] = COORDINATE_NAMES[ANGLE_SLICE]
#: Published ground reaction forces per foot (heel + toe), BW.
GRF_CHANNELS: tuple[str, ...] = GRF_NAMES
#: Index of pelvis_tx in q: not observable from IMUs (physics is invariant to it).
UNOBSERVED_Q = (0,)


@dataclass(frozen=True)
class PublishedGroup:
    """One group a device publishes.

    Attributes:
        key: payload and manifest key, e.g. ``angles_deg``.
        tensor: output tensor name of the streaming model.
        channels: published channel names.
        model_unit, unit: unit of the model's tensor and of the published value.
        scale, offset: published = model value · scale + offset.
        digits: decimal places in MQTT payloads (resolution of the published value).
        raw_source: the raw group(s) it is computed from (documentation and heads).
    """

    key: str
    tensor: str
    channels: tuple[str, ...]
    model_unit: str
    unit: str
    scale: float
    offset: float
    digits: int
    raw_source: str


#: The published groups, in payload order.
PUBLISHED_GROUPS: tuple[PublishedGroup, ...] = (
    PublishedGroup("angles_deg", "angles", ANGLE_CHANNELS, "rad", "deg", 180.0 / math.pi, 0.0,
                   3, "q"),
    PublishedGroup("moments_bwbh", "moments", JOINT_NAMES, "BW*BH", "BW*BH", 1.0, 0.0, 4,
                   "moments_bwbh"),
    PublishedGroup("grf_bw", "grf", GRF_CHANNELS, "BW", "BW", 1.0, 0.0, 3, "contact_bw"),
    PublishedGroup("speed_m_s", "speed", ("speed",), "m/s", "m/s", 1.0, 0.0, 3, "speed"),
)  # fmt: skip
PUBLISHED = {g.key: g for g in PUBLISHED_GROUPS}
#: Published keys in payload order.
PUBLISHED_KEYS: tuple[str, ...] = tuple(g.key for g in PUBLISHED_GROUPS)

#: Raw head columns behind each streaming output layer. With full-int8 quantization each
#: gets its own activation scale (and the contact x and y pre-activations separately).
STREAMING_HEAD_COLUMNS: dict[str, list[int]] = {
    "angles": RAW["q"].columns[ANGLE_SLICE],
    "moments": RAW["moments_bwbh"].columns,
    "contact_x": CONTACT.x_columns(RAW["contact_bw"]),
    "contact_y": CONTACT.y_columns(RAW["contact_bw"]),
    "speed": RAW["speed"].columns,
}


def manifest_outputs() -> dict[str, dict]:
    """The bundle manifest's ``outputs`` entry (one per published group)."""
    return {
        g.key: {
            "tensor": g.tensor,
            "channels": list(g.channels),
            "unit": g.unit,
            "scale": g.scale,
            "offset": g.offset,
        }
        for g in PUBLISHED_GROUPS
    }


#: Columns of ``grf_bw``: horizontal (x) and vertical (y) force of each foot, r then l.
GRF_X_COLUMNS: list[int] = [GRF_CHANNELS.index(f"grf_x_{side}") for side in ("r", "l")]
GRF_Y_COLUMNS: list[int] = [GRF_CHANNELS.index(f"grf_y_{side}") for side in ("r", "l")]
_GRF_YX = tuple(zip(GRF_Y_COLUMNS, GRF_X_COLUMNS, strict=True))


def make_grf_admissible(grf_bw: np.ndarray) -> np.ndarray:
    """Published ground reaction forces made physically admissible, in place.

    The contact head's leak (:class:`ContactSpec`) lets a foot in swing come out slightly
    below zero (a few hundredths of BW). A ground can only push: where a foot's vertical
    force is negative it becomes 0, and so does its horizontal force (no normal load, no
    friction). Every other value is left as it is.

    Args:
        grf_bw: (..., 4) published GRF (BW), channels :data:`GRF_CHANNELS`; float array,
            modified in place.

    Returns:
        ``grf_bw`` itself.
    """
    if grf_bw.ndim == 1:  # one step on the device: two scalar tests, no temporaries
        for y, x in _GRF_YX:
            if grf_bw[y] < 0.0:
                grf_bw[y] = 0.0
                grf_bw[x] = 0.0
        return grf_bw
    lifted = grf_bw[..., GRF_Y_COLUMNS] < 0.0
    if lifted.any():
        for cols in (GRF_Y_COLUMNS, GRF_X_COLUMNS):
            grf_bw[..., cols] = np.where(lifted, 0.0, grf_bw[..., cols])
    return grf_bw


def to_published(group: str, model_values: np.ndarray) -> np.ndarray:
    """Model-unit values (..., k) of a published group → published units (same shape)."""
    g = PUBLISHED[group]
    return np.asarray(model_values) * g.scale + g.offset
