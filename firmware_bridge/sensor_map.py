"""Which chip on which multiplexer channel and address is which body segment.

Loaded from the device config (JSON/TOML or a dict). The ``axes`` of a sensor say how
its chip axes are mounted on the segment: ``axes[i]`` is the chip axis (with sign) that
points along segment axis i, segment axes as in ``docs/body-model.md`` (x anterior,
y along the segment towards proximal, z to the right). ``["-y", "x", "z"]`` means
segment x = −chip y, segment y = chip x, segment z = chip z.

Example (TOML), list form::

    mux_address = 0x70
    [[sensors]]
    segment = "femur_r"
    chip = "mpu6050"
    channel = 1
    address = 0x68
    axes = ["x", "y", "z"]

The daemon config's table form (``[sensors.femur_r]`` with ``mux_channel``; the key is
the sensor name and, unless given, the segment; scalar keys such as ``mux_address`` set
the map's fields) is accepted too::

    [sensors.femur_r]
    mux_channel = 1
    address = 0x68
"""

from __future__ import annotations

import json
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from firmware_bridge.registers import lsm6dsox as lsm_regs
from firmware_bridge.registers import mpu6050 as mpu_regs

SEGMENTS: tuple[str, ...] = (
    "pelvis",
    "femur_r",
    "tibia_r",
    "foot_r",
    "femur_l",
    "tibia_l",
    "foot_l",
)
ChipName = Literal["mpu6050", "lsm6dsox"]
CHIP_ADDRESSES: dict[str, tuple[int, ...]] = {
    "mpu6050": mpu_regs.ADDRESSES,
    "lsm6dsox": lsm_regs.ADDRESSES,
}
_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}


class Mounting:
    """A signed axis permutation: ``segment = matrix @ chip``.

    ``perm6``/``sign6`` apply it to a 6-vector (acc xyz, gyr xyz) without a matmul:
    ``segment[i] = sign6[i] * chip[perm6[i]]``.
    """

    def __init__(self, axes: tuple[str, str, str] | list[str]) -> None:
        self.axes = tuple(axes)
        perm, sign = parse_axes(self.axes)
        self.matrix = np.zeros((3, 3))
        for i in range(3):
            self.matrix[i, perm[i]] = sign[i]
        self.perm6 = np.array([*perm, *(p + 3 for p in perm)], dtype=np.intp)
        self.sign6 = np.array([*sign, *sign], dtype=np.float64)

    def to_segment(self, chip6: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Chip-axis 6-vector(s) (..., 6) → segment axes, written into ``out``."""
        np.take(chip6, self.perm6, axis=-1, out=out)
        out *= self.sign6
        return out

    def to_chip(self, segment6: np.ndarray) -> np.ndarray:
        """Segment-axis values (..., 6) → chip axes (the emulated chip's view)."""
        out = np.empty_like(segment6)
        out[..., self.perm6] = segment6 * self.sign6
        return out

    @property
    def is_identity(self) -> bool:
        return bool(np.array_equal(self.matrix, np.eye(3)))


def parse_axes(axes: tuple[str, ...] | list[str]) -> tuple[list[int], list[float]]:
    """Validate an ``axes`` spec and return (chip axis index, sign) per segment axis."""
    if len(axes) != 3:
        raise ValueError(f"axes needs 3 entries (segment x, y, z), got {list(axes)}")
    perm: list[int] = []
    sign: list[float] = []
    for item in axes:
        text = str(item).strip().lower()
        s = -1.0 if text.startswith("-") else 1.0
        letter = text.lstrip("+-")
        if letter not in _AXIS_INDEX or len(text) - len(letter) > 1:
            raise ValueError(
                f"axes entry {item!r} is not one of x, y, z with an optional sign (e.g. '-y')"
            )
        perm.append(_AXIS_INDEX[letter])
        sign.append(s)
    if sorted(perm) != [0, 1, 2]:
        raise ValueError(f"axes {list(axes)} must use each chip axis x, y, z exactly once")
    m = np.zeros((3, 3))
    for i in range(3):
        m[i, perm[i]] = sign[i]
    if np.linalg.det(m) < 0:
        raise ValueError(
            f"axes {list(axes)} describe a mirror image (left-handed frame), which no "
            "physical mounting can produce: flip the sign of one more axis"
        )
    return perm, sign


def _parse_int(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an integer (write 0x68 or 104)") from exc
    return value


class SensorConfig(BaseModel):
    """One IMU: where it is on the bus and which segment it measures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segment: Literal[SEGMENTS] = Field(  # type: ignore[valid-type]
        title="Body segment", description="One of " + ", ".join(SEGMENTS)
    )
    name: str | None = Field(
        None,
        title="Sensor name",
        description="Column prefix in recordings; defaults to the segment name",
    )
    chip: ChipName = Field("mpu6050", title="IMU chip type")
    channel: Annotated[int, Field(ge=0, le=7)] | None = Field(
        title="TCA9548A channel",
        description="0..7, or null when wired directly to the bus (alias: mux_channel)",
        validation_alias=AliasChoices("channel", "mux_channel"),
    )
    address: int = Field(title="7-bit I2C address", description="e.g. 0x68")
    axes: tuple[str, str, str] = Field(
        ("x", "y", "z"),
        title="Mounting",
        description="chip axis (with sign) along segment x, y, z, e.g. ['-y', 'x', 'z']",
    )
    position_m: tuple[float, float, float] | None = Field(
        None, title="Position on the segment (m, segment frame), for the sidecar"
    )

    @field_validator("address", mode="before")
    @classmethod
    def _address_int(cls, v: Any) -> Any:
        return _parse_int(v)

    @field_validator("axes", mode="before")
    @classmethod
    def _axes_valid(cls, v: Any) -> Any:
        if isinstance(v, str) or not hasattr(v, "__len__"):
            raise ValueError(f"axes must be a list of 3 entries like ['-y', 'x', 'z'], got {v!r}")
        parse_axes(list(v))
        return tuple(str(s).strip().lower().lstrip("+") for s in v)

    @model_validator(mode="after")
    def _address_for_chip(self) -> SensorConfig:
        allowed = CHIP_ADDRESSES[self.chip]
        if self.address not in allowed:
            raise ValueError(
                f"{self.label}: a {self.chip} answers only at "
                + " or ".join(f"0x{a:02X}" for a in allowed)
                + f" (address pin low/high), not 0x{self.address:02X}"
            )
        return self

    @property
    def label(self) -> str:
        return self.name or self.segment

    @cached_property
    def mounting(self) -> Mounting:
        return Mounting(self.axes)

    def where(self) -> str:
        ch = "direct" if self.channel is None else f"channel {self.channel}"
        return f"{ch}, address 0x{self.address:02X}"


class SensorMap(BaseModel):
    """All IMUs on one bus. Order = channel order of the acquisition arrays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bus: int = Field(1, ge=0, title="Linux I2C bus number (/dev/i2c-N)")
    mux_address: int | None = Field(
        0x70, title="TCA9548A address", description="null when no multiplexer is fitted"
    )
    allow_partial: bool = Field(
        False, title="Allow fewer than the 7 segments (bench tests, partial setups)"
    )
    sensors: list[SensorConfig] = Field(min_length=1)

    @field_validator("mux_address", mode="before")
    @classmethod
    def _mux_int(cls, v: Any) -> Any:
        return _parse_int(v)

    @model_validator(mode="before")
    @classmethod
    def _table_form(cls, data: Any) -> Any:
        """Accept ``{name: {mux_channel, address, ...}, mux_address: ...}`` (daemon config)."""
        if not isinstance(data, dict) or "sensors" in data:
            return data
        sensors = []
        settings = {}
        for key, value in data.items():
            if isinstance(value, dict):
                entry = dict(value)
                entry.setdefault("segment", key)
                if key != entry["segment"]:
                    entry.setdefault("name", key)
                sensors.append(entry)
            else:
                settings[key] = value
        return {**settings, "sensors": sensors}

    @model_validator(mode="after")
    def _consistent(self) -> SensorMap:
        problems: list[str] = []
        seen_seg: dict[str, int] = {}
        seen_name: dict[str, int] = {}
        seen_slot: dict[tuple[int | None, int], int] = {}
        for i, s in enumerate(self.sensors):
            if s.segment in seen_seg:
                problems.append(
                    f"sensors[{i}] and sensors[{seen_seg[s.segment]}] are both on segment "
                    f"{s.segment!r}: each segment takes one sensor"
                )
            seen_seg.setdefault(s.segment, i)
            if s.label in seen_name:
                problems.append(f"sensor name {s.label!r} is used twice")
            seen_name.setdefault(s.label, i)
            slot = (s.channel, s.address)
            if slot in seen_slot:
                j = seen_slot[slot]
                problems.append(
                    f"{s.label} and {self.sensors[j].label} are both at {s.where()}: two "
                    "chips cannot share an address on one channel (set the address pin of "
                    "one of them, or move it to another channel)"
                )
            seen_slot.setdefault(slot, i)
            if s.channel is not None and self.mux_address is None:
                problems.append(f"{s.label} is on channel {s.channel} but mux_address is null")
            if self.mux_address is not None and s.address == self.mux_address:
                problems.append(f"{s.label} uses the multiplexer's address 0x{s.address:02X}")
        direct = {s.address for s in self.sensors if s.channel is None}
        for s in self.sensors:
            if s.channel is not None and s.address in direct:
                problems.append(
                    f"{s.label} at {s.where()} collides with a sensor wired directly to the "
                    "bus at the same address (the direct one answers on every channel)"
                )
        missing = [seg for seg in SEGMENTS if seg not in seen_seg]
        if missing and not self.allow_partial:
            problems.append(
                "segments without a sensor: "
                + ", ".join(missing)
                + " (the model needs all 7; set allow_partial = true for partial setups)"
            )
        if problems:
            raise ValueError("sensor map: " + "; ".join(problems))
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.sensors)

    def by_name(self, name: str) -> SensorConfig:
        for s in self.sensors:
            if s.label == name:
                return s
        raise KeyError(f"no sensor named {name!r} (have {', '.join(self.names)})")

    @classmethod
    def from_file(cls, path: str | Path) -> SensorMap:
        """Load from ``.json`` or ``.toml``; a top-level ``sensor_map`` table is accepted."""
        path = Path(path)
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        if "sensor_map" in data and "sensors" not in data:
            data = data["sensor_map"]
        return cls.model_validate(data)


def default_sensor_map(
    chip: str = "mpu6050",
    chips: dict[str, str] | None = None,
    axes: dict[str, tuple[str, str, str]] | None = None,
    names: tuple[str, ...] = SEGMENTS,
) -> SensorMap:
    """Seven sensors on TCA9548A channels 0..6 in :data:`SEGMENTS` order.

    Args:
        chip: chip type of every sensor (``"mpu6050"`` at 0x68, ``"lsm6dsox"`` at 0x6A).
        chips: per-segment override, e.g. ``{"foot_r": "lsm6dsox"}``.
        axes: per-segment mounting override (default: chip axes = segment axes).
        names: sensor names (recording column prefixes) in segment order.
    """
    chips = chips or {}
    axes = axes or {}
    unknown = set(chips) | set(axes)
    unknown -= set(SEGMENTS)
    if unknown:
        raise ValueError(f"unknown segment(s) {sorted(unknown)}; segments are {SEGMENTS}")
    sensors = []
    for ch, (seg, name) in enumerate(zip(SEGMENTS, names, strict=True)):
        c = chips.get(seg, chip)
        if c not in CHIP_ADDRESSES:
            raise ValueError(f"unknown chip {c!r}; choose one of {sorted(CHIP_ADDRESSES)}")
        sensors.append(
            SensorConfig(
                segment=seg,
                name=None if name == seg else name,
                chip=c,  # type: ignore[arg-type]
                channel=ch,
                address=CHIP_ADDRESSES[c][0],
                axes=axes.get(seg, ("x", "y", "z")),
            )
        )
    return SensorMap(sensors=sensors)
