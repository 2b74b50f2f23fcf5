"""From one IMU sample to published estimates: features → model step → units."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edge.bundle import Bundle, BundleError
from edge.features import FeatureAssembler, static_features
from edge.inference.angle_fusion import DEFAULT_TAU_S, AngleFusion
from edge.inference.body_force import BodyForce
from edge.inference.stepper import LiteRTStepper
from edge.inference.stride_speed import StrideSpeed
from edge.output_spec import PUBLISHED_KEYS, make_grf_admissible

log = logging.getLogger(__name__)

#: Groups adjusted in place after scaling (angle fusion, admissible GRF, stride speed):
#: never aliased to the interpreter's output buffers.
_ADJUSTED = frozenset({"angles_deg", "grf_bw", "speed_m_s"})

#: Output groups every SSPINNpose bundle publishes (MQTT ``estimate`` keys).
PUBLISHED_GROUPS: tuple[str, ...] = PUBLISHED_KEYS


@dataclass
class Estimate:
    """Buffers holding the latest estimate, in published units (overwritten each step).

    angles_deg: (7,) pelvis_tilt, hip, knee, ankle right, then left (deg).
    moments_bwbh: (6,) net joint moments, BW·BH (fraction of body weight × height).
    grf_bw: (4,) x_r, y_r, x_l, y_l (body weights, x forward, y up); y ≥ 0, and x = 0
        where y would have been negative (:func:`edge.output_spec.make_grf_admissible`).
    speed_m_s: (1,) forward speed (m/s): the foot IMUs' stride speed once known
        (:mod:`edge.inference.stride_speed`), else the network's.
    """

    angles_deg: np.ndarray
    moments_bwbh: np.ndarray
    grf_bw: np.ndarray
    speed_m_s: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {g: getattr(self, g) for g in PUBLISHED_GROUPS}


class Estimator:
    """Streaming estimator for one wearer.

    Args:
        bundle: a verified bundle.
        height_m, mass_kg: the wearer's body inputs.
        sensor_positions_m: (S, 2|3) sensor positions in segment frames (m), in the
            manifest's sensor order.
        mounting_rad: (S,) the sensors' mounting still to undo (rad, manifest sensor
            order; :mod:`edge.mounting.rule`), used when the bundle's ``input_axes`` is
            ``"segment"``; None there means identity until :meth:`set_mounting`. A
            sensor-axis bundle never rotates its input; the published joint angles
            subtract the mounting in either case.
        angle_fusion_tau_s: time constant (s) of the sensors' gravity-anchored
            orientation loop from which the joint angles are published
            (:mod:`edge.inference.angle_fusion`); None or 0: the network's angles.
        stride_speed: publish the foot IMUs' stride speed (zero-velocity stride
            integration, :mod:`edge.inference.stride_speed`) once a stride is known, the
            network's speed before and whenever it has none; False: the network's speed.
        body_force: publish the GRF whose sum is the body's measured mass × acceleration
            and whose share per foot is the network's (:mod:`edge.inference.body_force`;
            needs the angle fusion's orientations); False: the network's GRF.
    """

    def __init__(
        self,
        bundle: Bundle,
        height_m: float,
        mass_kg: float,
        sensor_positions_m: np.ndarray,
        *,
        mounting_rad: np.ndarray | None = None,
        num_threads: int = 1,
        runtime: str | None = None,
        angle_fusion_tau_s: float | None = DEFAULT_TAU_S,
        stride_speed: bool = True,
        body_force: bool = True,
    ) -> None:
        manifest = bundle.manifest
        missing = [g for g in PUBLISHED_GROUPS if g not in manifest.outputs]
        if missing:
            raise BundleError(f"bundle lacks output groups {missing}")
        self.manifest = manifest
        self.stepper = LiteRTStepper(bundle, num_threads=num_threads, runtime=runtime)
        mean = np.asarray(manifest.normalisation.mean, np.float64)
        std = np.asarray(manifest.normalisation.std, np.float64)
        static = static_features(height_m, mass_kg, np.asarray(sensor_positions_m))
        # features are written straight into the interpreter's input tensor
        self.assembler = FeatureAssembler(
            len(manifest.sensors), static, mean, std, out=self.stepper.input
        )
        #: True when the bundle expects segment-axis input (the mounting is undone).
        self.undoes_mounting = manifest.input_axes == "segment"
        self.mounting_rad: np.ndarray | None = None
        self.set_mounting(mounting_rad)
        # output scaling, decided once: an identity group is the output tensor itself
        # (a view, overwritten by the next step like every estimate buffer)
        self._scaled: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
        buffers = {}
        for group in PUBLISHED_GROUPS:
            spec = manifest.outputs[group]
            n = len(spec.channels)
            raw = self.stepper.output(group)[0]
            scale = np.broadcast_to(np.asarray(spec.scale, np.float32), (n,)).copy()
            offset = np.broadcast_to(np.asarray(spec.offset, np.float32), (n,)).copy()
            if np.all(scale == 1.0) and np.all(offset == 0.0) and group not in _ADJUSTED:
                buffers[group] = raw
                continue
            buffers[group] = np.zeros(n, dtype=np.float32)
            self._scaled.append((raw, scale, buffers[group], offset if offset.any() else None))
        self.estimate = Estimate(**buffers)
        self.fusion: AngleFusion | None = None
        if angle_fusion_tau_s:
            try:
                self.fusion = AngleFusion(
                    manifest.sensors,
                    manifest.sample_rate_hz,
                    angle_fusion_tau_s,
                    self.mounting_rad,
                )
            except ValueError as exc:  # a bundle without the seven sensors
                log.warning("joint angles not fused with the gyroscopes: %s", exc)
        self.body_force: BodyForce | None = None
        if body_force and self.fusion is not None:
            try:
                self.body_force = BodyForce(
                    manifest.sensors, manifest.sample_rate_hz, height_m, sensor_positions_m
                )
            except ValueError as exc:
                log.warning("GRF from the network only: %s", exc)
        self.stride: StrideSpeed | None = None
        if stride_speed:
            try:
                self.stride = StrideSpeed(manifest.sensors, manifest.sample_rate_hz)
            except ValueError as exc:  # a bundle without foot sensors
                log.warning("speed from the network only: %s", exc)

    def set_mounting(self, mounting_rad: np.ndarray | None) -> None:
        """The (S,) mounting to undo from the next step on (rad, manifest sensor order;
        None: identity). Only a segment-axis bundle applies it; any thread may call this.
        """
        beta = None if mounting_rad is None else np.asarray(mounting_rad, np.float64).copy()
        self.mounting_rad = beta
        fusion = getattr(self, "fusion", None)
        if fusion is not None:  # the published angles subtract it whatever the bundle
            fusion.set_mounting(beta)
        if self.undoes_mounting:
            n = len(self.manifest.sensors)
            self.assembler.set_mounting(np.zeros(n) if beta is None else beta)

    def reset(self) -> None:
        self.stepper.reset()
        if self.fusion is not None:
            self.fusion.reset()
        if self.stride is not None:
            self.stride.reset()
        if self.body_force is not None:
            self.body_force.reset()

    def step(self, imu_row: np.ndarray) -> Estimate:
        """One step from a (S, 6) IMU sample (SI, NaN for missing): as the device
        measures it (after its calibration); a segment-axis bundle undoes the mounting
        set with :meth:`set_mounting` before computing the features. The angles are then
        the sensors' orientations less their mounting when :attr:`fusion` is on (the
        network's while a sensor is missing), vertical GRF is clamped to ≥ 0
        (:func:`edge.output_spec.make_grf_admissible`) and, with :attr:`body_force`, its
        sum the body's measured mass × acceleration, and the speed is the stride speed
        once :attr:`stride` knows one."""
        self.assembler.assemble(imu_row)  # into the interpreter's input tensor
        self.stepper.invoke()
        for raw, scale, out, offset in self._scaled:
            np.multiply(raw, scale, out=out)
            if offset is not None:
                np.add(out, offset, out=out)
        if self.fusion is not None:
            self.fusion.step(self.estimate.angles_deg, imu_row, self.assembler.row_finite)
        make_grf_admissible(self.estimate.grf_bw)  # a ground only pushes
        if self.body_force is not None:
            fusion = self.fusion
            self.body_force.step(
                fusion.orientation.z,  # type: ignore[union-attr]
                fusion.mounting_phasors,  # type: ignore[union-attr]
                imu_row,
                self.estimate.grf_bw,
                self.assembler.row_finite and fusion.orientation.all_started,  # type: ignore[union-attr]
            )
        if self.stride is not None:
            speed = self.stride.step(imu_row)
            if speed is not None:
                self.estimate.speed_m_s[0] = speed
        return self.estimate

    def run(self, imu: np.ndarray) -> dict[str, np.ndarray]:
        """Stream a whole (N, S, 6) sequence from a reset state; (N, k) arrays per group."""
        self.reset()
        n = imu.shape[0]
        result = {
            g: np.zeros((n, getattr(self.estimate, g).shape[0]), np.float32)
            for g in PUBLISHED_GROUPS
        }
        for i in range(n):
            est = self.step(imu[i])
            for g in PUBLISHED_GROUPS:
                result[g][i] = getattr(est, g)
        return result
