"""JSON payloads on the MQTT topics: estimate frames, health, meta (docs/mqtt.md).

All payloads are compact UTF-8 JSON. Non-finite floats (NaN, ±inf) become ``null``;
floats are rounded to a resolution that fits their unit (``ROUND_DIGITS``), which keeps
an estimate frame around 400 bytes without losing anything a dashboard can show.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.output_spec import PUBLISHED_GROUPS

#: Decimal places per estimate field: t 0.1 ms; the published groups' resolution comes
#: from ``edge.output_spec`` (angles 0.01°, moments 1e-4 BW·BH, GRF 1e-3 BW, speed 1 mm/s).
ROUND_DIGITS: dict[str, int] = {
    "t": 4,
    **{g.key: g.digits for g in PUBLISHED_GROUPS},
    "quality": 3,
}
#: Decimal places for other payloads (health, meta, results).
DEFAULT_DIGITS = 4

#: Version of the estimate/meta payload layout (in ``meta.schema``).
PAYLOAD_SCHEMA_VERSION = 1

_NUMBER_MAP = {"type": "object", "additionalProperties": {"type": ["number", "null"]}}

#: JSON Schema of one estimate frame. A message is one frame (batch_size 1) or an array
#: of frames in time order (batch_size > 1).
ESTIMATE_FRAME_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "SSPINNpose estimate frame",
    "type": "object",
    "required": ["t", "seq", "angles_deg", "moments_bwbh", "grf_bw", "speed_m_s", "quality"],
    "additionalProperties": False,
    "properties": {
        "t": {"type": "number", "description": "sample time (s), the recorder's time_s clock"},
        "seq": {"type": "integer", "minimum": 0, "description": "sample index since start"},
        "angles_deg": {**_NUMBER_MAP, "description": "joint angle by name (deg)"},
        "moments_bwbh": {**_NUMBER_MAP, "description": "net joint moment by name (BW·BH)"},
        "grf_bw": {**_NUMBER_MAP, "description": "ground reaction force by name (BW)"},
        "speed_m_s": {"type": ["number", "null"], "description": "gait speed (m/s)"},
        "quality": {
            "type": "object",
            "description": "e.g. sensors_ok (count), missing (sensor names), stale (bool)",
        },
    },
}
#: JSON Schema of an estimate message.
ESTIMATE_MESSAGE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "SSPINNpose estimate message",
    "oneOf": [
        {"$ref": "#/$defs/frame"},
        {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/frame"}},
    ],
    "$defs": {"frame": {k: v for k, v in ESTIMATE_FRAME_SCHEMA.items() if k != "$schema"}},
}


@dataclass(frozen=True, slots=True)
class EstimateFrame:
    """One sample's estimates, everything looked up by name.

    Attributes:
        t: sample time (s) on the device's sample clock (the recorder's ``time_s``).
        seq: sample index since the daemon started (gaps show decimation or drops).
        angles_deg: joint angle (deg) by coordinate name, e.g. ``knee_angle_r``.
        moments_bwbh: net joint moment (body weight × body height) by joint name.
        grf_bw: ground reaction force (body weights) by name, e.g. ``grf_y_r``.
        speed_m_s: gait speed (m/s).
        quality: small flags, e.g. ``{"sensors_ok": 7, "missing": [], "stale": False}``.
    """

    t: float
    seq: int
    angles_deg: Mapping[str, float] = field(default_factory=dict)
    moments_bwbh: Mapping[str, float] = field(default_factory=dict)
    grf_bw: Mapping[str, float] = field(default_factory=dict)
    speed_m_s: float = math.nan
    quality: Mapping[str, Any] = field(default_factory=dict)


def _num(x: float, digits: int) -> float | None:
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def sanitize(value: Any, digits: int = DEFAULT_DIGITS) -> Any:
    """A JSON-safe copy: NaN/inf → None, floats rounded, numpy scalars/arrays → Python,
    paths → text, enums → their value, dataclasses → objects, datetimes → ISO 8601."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return sanitize(value.value, digits)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _num(value, digits)
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sanitize({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, digits)
    if isinstance(value, Mapping):
        return {str(k): sanitize(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [sanitize(v, digits) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return sanitize(tolist(), digits)
    if hasattr(value, "__float__"):
        return _num(value, digits)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _map(values: Mapping[str, float], digits: int) -> dict[str, float | None]:
    return {str(k): _num(v, digits) for k, v in values.items()}


def frame_to_dict(frame: EstimateFrame) -> dict[str, Any]:
    """The JSON object of one frame (rounded, NaN → None)."""
    return {
        "t": _num(frame.t, ROUND_DIGITS["t"]),
        "seq": int(frame.seq),
        "angles_deg": _map(frame.angles_deg, ROUND_DIGITS["angles_deg"]),
        "moments_bwbh": _map(frame.moments_bwbh, ROUND_DIGITS["moments_bwbh"]),
        "grf_bw": _map(frame.grf_bw, ROUND_DIGITS["grf_bw"]),
        "speed_m_s": _num(frame.speed_m_s, ROUND_DIGITS["speed_m_s"]),
        "quality": sanitize(frame.quality, ROUND_DIGITS["quality"]),
    }


def dumps(obj: Any) -> bytes:
    """Compact JSON (ASCII, so any string survives) of a sanitized object (no NaN)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii")


def encode_estimates(frames: EstimateFrame | Sequence[EstimateFrame]) -> bytes:
    """An ``estimate`` payload: one frame → a JSON object; several → a JSON array."""
    if isinstance(frames, EstimateFrame):
        return dumps(frame_to_dict(frames))
    if len(frames) == 1:
        return dumps(frame_to_dict(frames[0]))
    if not frames:
        raise ValueError("no frames to encode")
    return dumps([frame_to_dict(f) for f in frames])


def encode_json(obj: Mapping[str, Any], digits: int = DEFAULT_DIGITS) -> bytes:
    """A ``health``, ``meta`` or result payload: sanitized compact JSON."""
    return dumps(sanitize(obj, digits))


def build_meta(
    *,
    device_id: str,
    sample_rate_hz: float,
    publish_rate_hz: float,
    batch_size: int,
    sensors: Sequence[str],
    joints: Sequence[str] = (),
    moments: Sequence[str] = (),
    grf: Sequence[str] = (),
    model_id: str | None = None,
    model_version: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The retained ``meta`` object: what a dashboard needs to label the estimates.

    Args:
        joints: names of ``angles_deg`` keys; moments/grf: names of ``moments_bwbh`` /
            ``grf_bw`` keys; sensors: sensor names in channel order.
    """
    meta: dict[str, Any] = {
        "schema": PAYLOAD_SCHEMA_VERSION,
        "device": device_id,
        "model": {"id": model_id, "version": model_version} if model_id else None,
        "sample_rate_hz": sample_rate_hz,
        "publish_rate_hz": publish_rate_hz,
        "batch_size": batch_size,
        "joints": list(joints),
        "moments": list(moments),
        "grf": list(grf),
        "sensors": list(sensors),
        "units": {
            "t": "s",
            "angles_deg": "deg",
            "moments_bwbh": "BW*BH",
            "grf_bw": "BW",
            "speed_m_s": "m/s",
        },
    }
    if extra:
        meta.update(extra)
    return meta


def build_health(
    *,
    t: float,
    wall_time: float,
    loop_rate_hz: float,
    overruns: int,
    latency_ms_p50: float,
    latency_ms_p99: float,
    sensors_ok: int,
    sensors_total: int,
    cpu_temp_c: float | None = None,
    disk_free_mb: float | None = None,
    queue_depth: int = 0,
    recording: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``health`` object, with the field names dashboards and Home Assistant use.

    Args:
        t: sample clock (s), as in estimate frames; wall_time: Unix time (s), so a
            dashboard can map ``t`` to wall-clock time.
        loop_rate_hz: measured sampling-loop rate; overruns: loop periods missed so far.
        latency_ms_p50, latency_ms_p99: sample-to-estimate latency (ms).
        sensors_ok / sensors_total: IMUs delivering valid samples.
        cpu_temp_c: SoC temperature (°C); disk_free_mb: free space for recordings (MB).
        queue_depth: MQTT messages waiting (offline queue); recording: recorder running.
        extra: further fields (e.g. ``mqtt`` link counters, recorder alarm).
    """
    health: dict[str, Any] = {
        "t": t,
        "wall_time": wall_time,
        "loop_rate_hz": loop_rate_hz,
        "overruns": overruns,
        "latency_ms_p50": latency_ms_p50,
        "latency_ms_p99": latency_ms_p99,
        "sensors_ok": sensors_ok,
        "sensors_total": sensors_total,
        "cpu_temp_c": cpu_temp_c,
        "disk_free_mb": disk_free_mb,
        "queue_depth": queue_depth,
        "recording": recording,
    }
    if extra:
        health.update(extra)
    return health
