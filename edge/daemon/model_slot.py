"""The running model, and its safe replacement from pushed bundle bytes.

A replacement is verified (hash, signature where required), checked against the device
(sensors, sample rate), self-tested on a canned input (the bundled walking recording:
every output finite and physically plausible), written atomically next to the current
bundle (the old one kept as ``previous.sspinn``) and only then swapped in. The loop
calls :meth:`ModelSlot.step` once per sample; the live model is one immutable record
read once per step, so a swap is a single reference assignment between two samples. If
the new model's first live outputs are not finite, the slot rolls back to the previous
model by itself.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from edge.bundle import Bundle, BundleError, read_bundle
from edge.bundle.trust import check_not_older
from edge.inference import Estimator
from edge.inference.estimator import Estimate
from edge.recording import bundled_recording_path, read_recording, tile_cycles

log = logging.getLogger(__name__)

#: Plausibility bounds of the self-test (published units).
SELF_TEST_BOUNDS = {
    "angles_deg": (-180.0, 180.0),
    "moments_bwbh": (-1.0, 1.0),
    "grf_bw": (-2.0, 10.0),
    "speed_m_s": (-2.0, 12.0),
}
SELF_TEST_STEPS = 300
LIVE_CHECK_STEPS = 50


def canned_input(rate_hz: float, sensors: Sequence[str]) -> np.ndarray:
    """(N, S, 6) real walking IMU data at ``rate_hz`` for self-tests."""
    rec = read_recording(bundled_recording_path("P01_walking"))
    n_cycles = max(2, int(np.ceil(SELF_TEST_STEPS / (rate_hz * rec.meta.cycle_duration_s))))
    tiled = tile_cycles(rec, n_cycles, rate_hz=rate_hz)
    idx = [tiled.sensors.index(s) for s in sensors]
    return np.ascontiguousarray(tiled.imu[:SELF_TEST_STEPS, idx])


def self_test(estimator: Estimator, imu: np.ndarray) -> dict[str, float]:
    """Run ``imu`` through ``estimator``; raise BundleError on non-finite or implausible
    outputs. Returns the median step time (µs) and output ranges."""
    times = np.empty(imu.shape[0])
    estimator.reset()
    lows = {g: np.inf for g in SELF_TEST_BOUNDS}
    highs = {g: -np.inf for g in SELF_TEST_BOUNDS}
    for i, row in enumerate(imu):
        t0 = time.perf_counter_ns()
        est = estimator.step(row)
        times[i] = time.perf_counter_ns() - t0
        for group, (lo, hi) in SELF_TEST_BOUNDS.items():
            values = getattr(est, group)
            if not np.all(np.isfinite(values)):
                raise BundleError(f"self-test: {group} not finite at step {i}")
            lows[group] = min(lows[group], float(values.min()))
            highs[group] = max(highs[group], float(values.max()))
            if values.min() < lo or values.max() > hi:
                raise BundleError(
                    f"self-test: {group} out of [{lo}, {hi}] at step {i}: {values.tolist()}"
                )
    estimator.reset()
    return {"step_us_median": float(np.median(times)) / 1e3, "speed_max": highs["speed_m_s"]}


@dataclass(frozen=True, slots=True)
class _LiveModel:
    """The model in use, swapped as one reference."""

    estimator: Estimator
    bundle: Bundle
    sensor_index: np.ndarray  # device sensor rows the model reads, in its order
    all_sensors_in_order: bool  # sensor_index is 0..S-1: no row selection needed


def _live_model(estimator: Estimator, bundle: Bundle, index: np.ndarray, n: int) -> _LiveModel:
    return _LiveModel(estimator, bundle, index, bool(np.array_equal(index, np.arange(n))))


class SlotStep(NamedTuple):
    """One sample's outputs and the output spec (channel names) of the model that made
    them (the manifest's ``outputs``: group → channels)."""

    estimate: Estimate
    outputs: Mapping[str, Any]


class ModelSlot:
    """Holds the live :class:`Estimator` for one wearer and device.

    Args:
        model_dir: where ``current.sspinn`` and ``previous.sspinn`` live.
        sensors: the device's sensor names (the model's must be among them).
        sample_rate_hz: the device's sampling rate (the model's must match).
        height_m, mass_kg: the wearer.
        positions_m: (S, 2|3) sensor positions in segment frames, device sensor order.
        trusted_keys, require_signature, pinned_sha256: the device's signature policy
            (:mod:`edge.bundle.trust`).
    """

    @classmethod
    def from_config(cls, cfg: Any, sensor_map: Any) -> ModelSlot:
        """The slot an edge config and sensor map describe (model folder beside the
        configured bundle, wearer, sensor positions in the sagittal plane, trust policy).

        Args:
            cfg: an ``edge.config.EdgeConfig``.
            sensor_map: the ``SensorMap`` in use (its sensors' ``position_m``, m).
        """
        bundle = cfg.model.bundle
        positions = np.array(
            [(s.position_m or (0.0, 0.0, 0.0))[:2] for s in sensor_map.sensors], dtype=np.float64
        )
        return cls(
            bundle.parent if bundle else Path("models"),
            sensors=list(sensor_map.names),
            sample_rate_hz=cfg.sampling.rate_hz,
            height_m=cfg.participant.height_m,
            mass_kg=cfg.participant.mass_kg,
            positions_m=positions,
            trusted_keys=cfg.model.trusted_keys,
            require_signature=cfg.model.require_signature,
            pinned_sha256=cfg.model.pinned_sha256,
        )

    def __init__(
        self,
        model_dir: Path,
        *,
        sensors: Sequence[str],
        sample_rate_hz: float,
        height_m: float,
        mass_kg: float,
        positions_m: np.ndarray,
        trusted_keys: Sequence[str] = (),
        require_signature: bool = False,
        pinned_sha256: Sequence[str] = (),
    ) -> None:
        self.model_dir = Path(model_dir)
        self.sensors = list(sensors)
        self.sample_rate_hz = sample_rate_hz
        self.height_m, self.mass_kg = height_m, mass_kg
        self.positions_m = np.asarray(positions_m, np.float64)
        self.trusted_keys = list(trusted_keys)
        self.require_signature = require_signature
        self.pinned_sha256 = list(pinned_sha256)
        self._lock = threading.Lock()
        self._live: _LiveModel | None = None
        self._previous: _LiveModel | None = None
        self._live_left = 0
        self.swaps = 0
        self.rollbacks = 0
        self._mounting_rad = np.zeros(len(self.sensors))

    @property
    def estimator(self) -> Estimator | None:
        """The live model's estimator, or None before a model is loaded."""
        live = self._live
        return live.estimator if live else None

    @property
    def bundle(self) -> Bundle | None:
        live = self._live
        return live.bundle if live else None

    @property
    def sensor_index(self) -> np.ndarray:
        """Device sensor rows the live model reads (all, in order, without a model)."""
        live = self._live
        return live.sensor_index if live else np.arange(len(self.sensors))

    @property
    def input_axes(self) -> str | None:
        """The live model's ``input_axes`` ("sensor" | "segment"), None without a model."""
        live = self._live
        return live.bundle.manifest.input_axes if live else None

    def set_mounting(self, mounting_rad: np.ndarray) -> None:
        """The (S,) mounting still to undo (rad, device sensor order), for this and every
        later model (only segment-axis models use it); any thread may call this."""
        beta = np.asarray(mounting_rad, np.float64).copy()
        with self._lock:
            self._mounting_rad = beta
            for live in (self._live, self._previous):
                if live is not None:
                    live.estimator.set_mounting(beta[live.sensor_index])

    def step(self, imu: np.ndarray) -> SlotStep | None:
        """Run one sample through the live model.

        Args:
            imu: (S, 6) of every device sensor in device order: acc xyz (m/s²), gyr xyz
                (rad/s); the slot picks the rows the model reads.

        Returns:
            The estimate with the output spec of the model that made it, or None when no
            model is loaded. During the first steps of a freshly swapped-in model a
            non-finite output rolls back to the previous model (from the next sample on).
        """
        live = self._live  # read once: a swap lands between two samples
        if live is None:
            return None
        rows = imu if live.all_sensors_in_order else imu[live.sensor_index]
        est = live.estimator.step(rows)
        if self._live_left > 0:
            self._check_live(bool(np.isfinite(est.angles_deg).all()))
        return SlotStep(est, live.bundle.manifest.outputs)

    @property
    def current_path(self) -> Path:
        return self.model_dir / "current.sspinn"

    @property
    def previous_path(self) -> Path:
        return self.model_dir / "previous.sspinn"

    def _prepare(self, data: bytes | Path) -> tuple[Estimator, Bundle, np.ndarray, dict]:
        bundle = read_bundle(
            data,
            trusted_keys=self.trusted_keys,
            require_signature=self.require_signature,
            pinned_sha256=self.pinned_sha256,
        )
        m = bundle.manifest
        missing = [s for s in m.sensors if s not in self.sensors]
        if missing:
            raise BundleError(f"model needs sensors {missing} that this device does not have")
        if abs(m.sample_rate_hz - self.sample_rate_hz) > 1e-6 * self.sample_rate_hz:
            raise BundleError(
                f"model runs at {m.sample_rate_hz} Hz, this device samples at "
                f"{self.sample_rate_hz} Hz"
            )
        index = np.array([self.sensors.index(s) for s in m.sensors])
        estimator = Estimator(bundle, self.height_m, self.mass_kg, self.positions_m[index])
        report = self_test(estimator, canned_input(self.sample_rate_hz, m.sensors))
        return estimator, bundle, index, report

    def load(self, path: Path) -> dict:
        """Load the bundle at ``path`` (start-up); raises BundleError when unusable."""
        estimator, bundle, index, report = self._prepare(Path(path))
        with self._lock:
            estimator.set_mounting(self._mounting_rad[index])
            self._live = _live_model(estimator, bundle, index, len(self.sensors))
        log.info(
            "model %s %s loaded from %s", bundle.manifest.model_id, bundle.manifest.version, path
        )
        return report

    def replace(self, data: bytes, *, allow_downgrade: bool = False) -> dict:
        """Verify, self-test, persist and swap in a pushed bundle. Raises BundleError
        (the old model keeps running) when any step fails, or when its version is older
        than the running model's and ``allow_downgrade`` is not set."""
        t0 = time.perf_counter()
        estimator, bundle, index, report = self._prepare(data)
        running = self.bundle
        check_not_older(
            running.manifest.version if running else None,
            bundle.manifest.version,
            allow_downgrade=allow_downgrade,
        )
        self.model_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.model_dir / ".incoming.sspinn"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if self.current_path.exists():
            os.replace(self.current_path, self.previous_path)
        os.replace(tmp, self.current_path)
        with self._lock:
            if self._live is not None:
                self._previous = self._live
            estimator.set_mounting(self._mounting_rad[index])
            self._live = _live_model(estimator, bundle, index, len(self.sensors))
            self._live_left = LIVE_CHECK_STEPS
            self.swaps += 1
        m = bundle.manifest
        log.info("model swapped to %s %s", m.model_id, m.version)
        return {
            "model_id": m.model_id,
            "version": m.version,
            "quantization": m.quantization,
            "signed": bundle.is_signed,
            "self_test_step_us": round(report["step_us_median"], 1),
            "took_ms": round((time.perf_counter() - t0) * 1e3, 1),
        }

    def _check_live(self, outputs_finite: bool) -> None:
        """After each step of a new model's first steps: roll back to the previous model
        if the new one produced a non-finite output."""
        if self._live_left <= 0:
            return
        self._live_left -= 1
        if outputs_finite or self._previous is None:
            return
        with self._lock:
            self._live = self._previous
            self._previous = None
            self._live_left = 0
            self.rollbacks += 1
        if self.previous_path.exists():
            os.replace(self.previous_path, self.current_path)
        log.error("new model produced non-finite outputs live: rolled back")
