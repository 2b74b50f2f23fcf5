"""The mounting a device undoes, by the one rule (:mod:`edge.mounting.rule`), and where
it comes from: the calibration applied to its data stream, a mounting kept across
restarts (``[mounting] file``), or the functional estimate from the first stretch of
gait (:class:`edge.mounting.online.LiveFunctional`; identity, said so, until then).

:class:`DeviceMounting` knows nothing of MQTT or models: the daemon gives it the
calibration it applies and every sample (``observe``), and gets the mounting in use
through ``on_change`` (feed it to the model, the recorder's sidecar and ``meta``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from edge.mounting.apply import Mounting
from edge.mounting.online import LiveFunctional
from edge.mounting.rule import (
    completed,
    identity,
    lacking,
    raw_data_mounting,
    stored_mounting,
    summary,
    with_mounting,
)
from edge.recording import Sidecar

log = logging.getLogger(__name__)

#: File name of the kept mounting when ``[mounting] file`` is not set (beside the model).
DEFAULT_FILE_NAME = "mounting.json"


class MountingConfig(BaseModel):
    """``[mounting]``: how the device finds the sensor mounting it undoes for a
    segment-axis model (docs/calibration.md, section 5)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    file: Path | None = Field(
        default=None,
        description="Where the mounting is kept across restarts (JSON; written by "
        "cmd/calibrate and the functional estimate); default: mounting.json beside the "
        "model bundle. Relative paths: against the config file's folder",
    )
    persist: bool = Field(default=True, description="Keep the mounting in `file`")
    functional: bool = Field(
        default=True,
        description="Estimate the mounting from the first stretch of gait when neither a "
        "calibration nor the kept file gives it",
    )
    functional_window_s: float = Field(
        default=20.0, ge=5.0, le=600.0, description="Seconds of samples per functional attempt"
    )

    @field_validator("file")
    @classmethod
    def _resolve(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        base = (info.context or {}).get("base_dir")
        return Path(base) / value if base is not None and not value.is_absolute() else value

    def path(self, default_dir: Path) -> Path | None:
        """The file to keep the mounting in, or None when not kept."""
        if not self.persist:
            return None
        return self.file or Path(default_dir) / DEFAULT_FILE_NAME


def _sources(
    calibration: Mapping[str, Any] | None,
    persisted: Mounting | None,
    functional: Mounting | None,
    sensors: Sequence[str],
) -> dict[str, str]:
    """Which rule gave each sensor's mounting (same order as :func:`stored_mounting`)."""
    cal = dict(calibration or {})
    still = {
        k for k, v in dict(cal.get("sensors") or {}).items() if "sagittal_angle_rad" in dict(v)
    }
    entry = Mounting.from_sidecar({"mounting": cal["mounting"]}) if "mounting" in cal else None
    out = {}
    for s in sensors:
        if s in still:
            out[s] = "alignment applied" if cal.get("kind") == "alignment" else "standing capture"
        elif (entry and s in entry.sensors) or (persisted and s in persisted.sensors):
            out[s] = "stored"
        elif functional is not None and s in functional.sensors:
            out[s] = "functional"
        else:
            out[s] = "pending"
    return out


class DeviceMounting:
    """The mounting still to undo on a device's data stream (device sensor order).

    Args:
        sensors: the device's sensor names (the rows of every observed sample).
        rate_hz: its sample rate.
        sidecar: placements and participant (for the functional estimate).
        path: the kept mounting's file (read now, written after a calibration or a
            functional estimate), or None.
        functional: run the functional estimate when nothing else gives the mounting.
        window_s: seconds per functional attempt.
        on_change: called with the mounting in use whenever it changes (from the thread
            that changed it: a command worker or the functional estimate's thread).
    """

    def __init__(
        self,
        sensors: Sequence[str],
        rate_hz: float,
        sidecar: Sidecar,
        *,
        path: Path | None = None,
        functional: bool = True,
        window_s: float = 20.0,
        on_change: Callable[[Mounting], None] | None = None,
    ) -> None:
        self.sensors = list(sensors)
        self.path = Path(path) if path is not None else None
        self.on_change = on_change
        self._lock = threading.RLock()
        self.calibration: dict[str, Any] | None = None
        self.functional_result: Mounting | None = None
        self.problems: list[str] = []
        self.persisted = self._load()
        self.live = (
            LiveFunctional(sidecar, self.sensors, rate_hz, window_s, self._on_functional)
            if functional
            else None
        )
        self.current = Mounting.zero(self.sensors)
        self.sources: dict[str, str] = {}
        self._resolve(notify=False)

    @classmethod
    def from_config(
        cls,
        cfg: MountingConfig,
        sensors: Sequence[str],
        rate_hz: float,
        sidecar: Sidecar,
        default_dir: Path,
    ) -> DeviceMounting:
        return cls(
            sensors,
            rate_hz,
            sidecar,
            path=cfg.path(default_dir),
            functional=cfg.functional,
            window_s=cfg.functional_window_s,
        )

    # ---- inputs -----------------------------------------------------------------------
    def set_calibration(self, calibration: Mapping[str, Any] | None, *, keep: bool = True) -> None:
        """The calibration now applied to the data stream (a ``cmd/calibrate`` result with
        its ``kind``, or a replayed recording's sidecar ``calibration``). ``keep``: also
        write its standing capture to the kept file (as measured on the raw data, since
        after a restart no calibration is applied)."""
        with self._lock:
            self.calibration = dict(calibration) if calibration else None
            if keep and self.calibration:
                raw = raw_data_mounting(self.calibration)
                if raw.sensors:
                    self.persisted = completed(raw, self.persisted) if self.persisted else raw
                    self._save()
            self._resolve()

    def observe(self, row: np.ndarray) -> None:
        """Hot path, once per sample: the (S, 6) sample as the model gets it."""
        live = self.live
        if live is not None and live.collecting:
            live.observe(row)

    def _on_functional(self, result: Mounting) -> None:
        with self._lock:
            self.functional_result = result
            self._save()
            self._resolve()

    # ---- the rule ---------------------------------------------------------------------
    def _resolve(self, notify: bool = True) -> None:
        with self._lock:
            stored = stored_mounting(self.calibration, persisted=self.persisted)
            missing = lacking(stored, self.sensors)
            if not missing:
                current = stored
            elif self.functional_result is not None:
                current = completed(stored, self.functional_result)
            else:
                why = (
                    "functional estimate pending (walk a few strides)"
                    if self.live is not None
                    else "no calibration, nothing kept, functional estimate off"
                )
                current = completed(stored, identity(missing, why))
            assert current is not None
            missing = [s for s in self.sensors if current.sensors[s].method == "none"]
            if self.live is not None:
                if missing:
                    self.live.start()
                else:
                    self.live.stop()
            self.current = current
            self.sources = _sources(
                self.calibration, self.persisted, self.functional_result, self.sensors
            )
            if notify and self.on_change is not None:
                self.on_change(current)

    # ---- outputs ----------------------------------------------------------------------
    def angles(self) -> np.ndarray:
        """(S,) the mounting in use, rad, device sensor order."""
        return self.current.angles(self.sensors)

    def sidecar_calibration(self) -> dict[str, Any] | None:
        """The recorder's sidecar ``calibration``: the calibration applied plus the
        mounting in use under ``"mounting"`` (what ``Mounting.from_sidecar`` reads)."""
        with self._lock:
            return with_mounting(self.calibration, self.current)

    def report(self) -> dict[str, Any]:
        """For ``meta``: per sensor ``angle_deg`` (left to undo), ``method``,
        ``confidence``, ``cue``, ``source``; the overall ``source``; the functional
        estimate's status; warnings."""
        with self._lock:
            sensors = summary(self.current, self.sensors)
            for name, entry in sensors.items():
                entry["source"] = self.sources.get(name, "pending")
            return {
                **self.status(),
                "sensors": sensors,
                "file": str(self.path) if self.path is not None else None,
                "warnings": list(self.current.warnings) + self.problems,
            }

    def status(self) -> dict[str, Any]:
        """For ``health``: the overall source and the functional estimate's progress."""
        with self._lock:
            used = sorted(set(self.sources.values()))
            return {
                "source": "+".join(used) if used else "none",
                "functional": self.live.status() if self.live is not None else None,
            }

    # ---- the kept file ----------------------------------------------------------------
    def _load(self) -> Mounting | None:
        if self.path is None or not self.path.is_file():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            still = isinstance(data, dict) and any(
                isinstance(v, dict) and "sagittal_angle_rad" in v
                for v in dict(data.get("sensors") or {}).values()
            )
            # a Mounting, or what `sspinn-edge calibrate --out` writes (a standing capture)
            m = raw_data_mounting(data) if still else Mounting.model_validate(data)
        except (OSError, ValueError) as exc:
            self.problems.append(f"kept mounting {self.path} ignored: {exc}")
            log.warning("kept mounting %s ignored: %s", self.path, exc)
            return None
        log.info("mounting kept in %s: %s", self.path, sorted(m.sensors))
        return m

    def _save(self) -> None:
        """Write the kept mounting (completed by the functional estimate) to the file."""
        if self.path is None:
            return
        kept = self.persisted
        if self.functional_result is not None:
            kept = completed(kept, self.functional_result)
        if kept is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(kept.model_dump_json(indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            self.problems.append(f"mounting not kept in {self.path}: {exc}")
            log.error("mounting not kept in %s: %s", self.path, exc)
