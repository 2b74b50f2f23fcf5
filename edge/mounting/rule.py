"""THE rule for the mounting still to undo, shared by training, evaluation, the converter,
the device and ``sspinn-edge simulate`` (docs/calibration.md, section 5).

Data reach a model after some calibration (or none). What of each sensor's mounting is
left to undo on those data, first match wins per sensor:

a. an ``alignment`` calibration applied (the device rotated the data with the standing
   capture's sagittal angles; sidecar ``calibration["kind"] == "alignment"``): nothing, 0;
b. a standing capture not applied (``kind`` ``"gyro_bias"`` or no ``kind``): its
   ``sagittal_angle_rad``;
c. a stored mounting: the sidecar's ``calibration["mounting"]`` entry, then a mounting
   kept elsewhere (``persisted``: on the device, the file written by the last calibrate
   command or functional estimate);
d. the functional estimate from the gait (:func:`edge.mounting.estimate_functional`);
   the caller supplies it (offline: :func:`edge.mounting.mounting_for`; on the device: a
   background estimate from the first stretch of gait, identity until it is there).

NumPy/pydantic only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from edge.mounting.apply import SIDECAR_KEY, Mounting, SensorMounting


def stored_mounting(
    calibration: Mapping[str, Any] | None, *, persisted: Mounting | None = None
) -> Mounting | None:
    """Rules (a)-(c): what ``calibration`` (a sidecar's ``calibration`` dict, or what the
    device applied) and a ``persisted`` mounting say is left to undo; None when neither
    names any sensor. Sensors it lacks need rule (d) (:func:`lacking`, :func:`completed`).
    """
    m = Mounting.from_sidecar(calibration)
    if persisted is None or not persisted.sensors:
        return m
    if m is None:
        return persisted.model_copy(deep=True)
    sensors = {**persisted.sensors, **m.sensors}
    return Mounting(sensors=sensors, details=m.details, warnings=m.warnings + persisted.warnings)


def lacking(mounting: Mounting | None, sensors: Sequence[str]) -> list[str]:
    """The sensors of ``sensors`` that ``mounting`` does not cover (rule (d) needed)."""
    if mounting is None:
        return list(sensors)
    return [s for s in sensors if s not in mounting.sensors]


def completed(stored: Mounting | None, estimate: Mounting) -> Mounting:
    """``stored`` (rules (a)-(c)) completed by ``estimate`` (rule (d), functional or the
    identity placeholder) for the sensors ``stored`` lacks."""
    if stored is None:
        return estimate
    merged = dict(estimate.sensors)
    merged.update(stored.sensors)
    return Mounting(
        sensors=merged, details=estimate.details, warnings=stored.warnings + estimate.warnings
    )


def identity(sensors: Sequence[str], reason: str) -> Mounting:
    """β = 0, method ``"none"`` for ``sensors``: the placeholder while rule (d) is pending
    (``reason`` says why; it becomes each sensor's cue and one warning)."""
    return Mounting(
        sensors={s: SensorMounting(angle_rad=0.0, method="none", cue=reason) for s in sensors},
        warnings=[f"mounting not undone for {', '.join(sensors)}: {reason}"] if sensors else [],
    )


def raw_data_mounting(calibration: Mapping[str, Any]) -> Mounting:
    """The mounting a standing capture measured on the raw (unrotated) data, whatever
    ``kind`` was applied: what a device keeps across restarts (where no calibration is
    applied any more) after a calibrate command."""
    return Mounting.from_still({k: v for k, v in calibration.items() if k != "kind"})


def with_mounting(
    calibration: Mapping[str, Any] | None, mounting: Mounting | None
) -> dict[str, Any] | None:
    """The sidecar ``calibration`` value for data that went through ``calibration``: it,
    plus the mounting in use under ``"mounting"`` (without placeholder sensors, method
    ``"none"``, so a reader estimates those itself instead of trusting a 0)."""
    known = {k: v for k, v in mounting.sensors.items() if v.method != "none"} if mounting else {}
    base = {k: v for k, v in (calibration or {}).items() if k != SIDECAR_KEY}
    if not known:
        return base or None
    entry = mounting.model_copy(update={"sensors": known})  # type: ignore[union-attr]
    return entry.to_sidecar(base)


def summary(mounting: Mounting, sensors: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per sensor (in ``sensors`` order): ``angle_deg``, ``method``, ``confidence``,
    ``cue``: the JSON the device publishes in ``meta``."""
    out: dict[str, dict[str, Any]] = {}
    for name in sensors:
        m = mounting.sensors.get(name) or SensorMounting(angle_rad=0.0, cue="not known")
        out[name] = {
            "angle_deg": round(math.degrees(m.angle_rad), 2),
            "method": m.method,
            "confidence": round(m.confidence, 3),
            "cue": m.cue,
        }
    return out
