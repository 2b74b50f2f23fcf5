"""Home Assistant MQTT discovery: sensors for the main estimates and health.

Each entity is one retained config message on
``<discovery_prefix>/sensor/sspinn_<device_id>/<object_id>/config``; availability follows
the device's retained ``status`` topic (``online`` / ``offline``). The link publishes
these on every connect when ``mqtt.home_assistant_discovery`` is on, and again whenever
``meta`` changes (a model swap, a ``cmd/config`` that changes the health interval).

Health sensors are diagnostics (``entity_category: diagnostic``) and expire after three
health periods (at least :data:`MIN_EXPIRE_AFTER_S`), so a long ``health_interval_s``
does not make them flicker to ``unavailable`` between two reports.

Estimate messages are one frame (an object) or a batch (an array); the templates take
the newest frame of a batch. Home Assistant records every state change: keep
``mqtt.publish_rate_hz`` low (a few Hz) on a broker that Home Assistant listens to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from edge.mqtt.payloads import dumps
from edge.mqtt.topics import Topics
from edge.version import package_version

#: Health fields shown in Home Assistant: key -> (name, unit, device_class, precision).
HEALTH_ENTITIES: dict[str, tuple[str, str, str | None, int]] = {
    "loop_rate_hz": ("Loop rate", "Hz", "frequency", 1),
    "cpu_temp_c": ("CPU temperature", "°C", "temperature", 1),
    "disk_free_mb": ("Disk free", "MB", "data_size", 0),
    "sensors_ok": ("Sensors OK", "", None, 0),
}
#: Digits shown for the estimates: angles 0.1°, forces 0.01 BW, speed 0.01 m/s.
ANGLE_PRECISION, GRF_PRECISION, SPEED_PRECISION = 1, 2, 2
#: The shortest ``expire_after`` (s); health sensors get 3 health periods when longer.
MIN_EXPIRE_AFTER_S = 30
#: Health periods a health sensor waits for a value before it shows ``unavailable``.
HEALTH_PERIODS_TO_EXPIRE = 3

#: Angle names (``angles_deg`` keys) that get an entity, when present in ``meta.joints``.
ANGLE_ENTITIES: tuple[str, ...] = (
    "hip_flexion_r",
    "hip_flexion_l",
    "knee_angle_r",
    "knee_angle_l",
    "ankle_angle_r",
    "ankle_angle_l",
)
#: GRF names (``grf_bw`` keys) that get an entity, when present in ``meta.grf``.
GRF_ENTITIES: tuple[str, ...] = ("grf_y_r", "grf_y_l")

_FRAME = "{% set f = value_json if value_json is mapping else value_json[-1] %}"


def _pretty(name: str) -> str:
    words = name.replace("_angle", "").replace("_", " ").split()
    side = {"r": "right", "l": "left"}.get(words[-1]) if words else None
    if side:
        words = [side, *words[:-1]]
    return " ".join(words).capitalize()


def health_expire_after_s(health_interval_s: float) -> int:
    """``expire_after`` of the health sensors: 3 health periods, at least 30 s."""
    return max(MIN_EXPIRE_AFTER_S, math.ceil(HEALTH_PERIODS_TO_EXPIRE * health_interval_s))


def discovery_messages(
    topics: Topics,
    meta: Mapping[str, Any],
    *,
    discovery_prefix: str = "homeassistant",
    device_name: str | None = None,
    expire_after_s: int = MIN_EXPIRE_AFTER_S,
    health_interval_s: float | None = None,
) -> list[tuple[str, bytes]]:
    """Discovery config messages (topic, retained JSON payload) for one device.

    Args:
        topics: the device's topics (state and availability topics come from here).
        meta: the ``meta`` object (``joints``, ``grf``, ``model``); entities are made only
            for names it lists.
        discovery_prefix: Home Assistant's discovery prefix.
        device_name: shown in Home Assistant; default ``SSPINNpose <device_id>``.
        expire_after_s: an estimate sensor shows ``unavailable`` this long after its
            last value.
        health_interval_s: the device's health period (default: ``meta``'s
            ``health_interval_s``, else 5 s); the health sensors expire after
            :func:`health_expire_after_s` of it.
    """
    if health_interval_s is None:
        health_interval_s = float(meta.get("health_interval_s") or 5.0)
    node = f"sspinn_{topics.device_id}"
    model = meta.get("model") or {}
    device = {
        "identifiers": [node],
        "name": device_name or f"SSPINNpose {topics.device_id}",
        "manufacturer": "SSPINNpose",
        "model": "SSPINNpose edge",
        "sw_version": f"{model.get('id')} {model.get('version')}" if model else None,
    }
    device = {k: v for k, v in device.items() if v is not None}
    common = {
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "state_class": "measurement",
        "device": device,
        "origin": {"name": "SSPINNpose edge", "sw_version": package_version()},
        "qos": 0,
    }

    def entity(
        object_id: str,
        name: str,
        state_topic: str,
        template: str,
        unit: str,
        device_class: str | None = None,
        *,
        precision: int,
        diagnostic: bool = False,
    ) -> tuple[str, bytes]:
        cfg: dict[str, Any] = {
            "name": name,
            "unique_id": f"{node}_{object_id}",
            "state_topic": state_topic,
            "value_template": template,
            "suggested_display_precision": precision,
            "expire_after": (
                health_expire_after_s(health_interval_s) if diagnostic else expire_after_s
            ),
            **common,
        }
        if unit:
            cfg["unit_of_measurement"] = unit
        if device_class:
            cfg["device_class"] = device_class
        if diagnostic:
            cfg["entity_category"] = "diagnostic"
        return f"{discovery_prefix}/sensor/{node}/{object_id}/config", dumps(cfg)

    joints: Sequence[str] = meta.get("joints") or ()
    grf: Sequence[str] = meta.get("grf") or ()
    out = [
        entity(
            j,
            f"{_pretty(j)} angle",
            topics.estimate,
            f"{_FRAME}{{{{ f.angles_deg.{j} }}}}",
            "°",
            precision=ANGLE_PRECISION,
        )
        for j in ANGLE_ENTITIES
        if j in joints
    ]
    out += [
        entity(
            g,
            f"Vertical GRF {_pretty(g.removeprefix('grf_y_')).lower()}",
            topics.estimate,
            f"{_FRAME}{{{{ f.grf_bw.{g} }}}}",
            "BW",
            precision=GRF_PRECISION,
        )
        for g in GRF_ENTITIES
        if g in grf
    ]
    out.append(
        entity(
            "speed",
            "Speed",
            topics.estimate,
            f"{_FRAME}{{{{ f.speed_m_s }}}}",
            "m/s",
            "speed",
            precision=SPEED_PRECISION,
        )
    )
    out += [
        entity(
            key,
            name,
            topics.health,
            f"{{{{ value_json.{key} }}}}",
            unit,
            dc,
            precision=digits,
            diagnostic=True,
        )
        for key, (name, unit, dc, digits) in HEALTH_ENTITIES.items()
    ]
    return out
