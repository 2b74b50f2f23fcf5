"""Synthetic recordings: spec -> gait -> consistent kinematics -> IMU + ground truth.

:func:`synthesize` builds one :class:`~edge.recording.Recording` from a
:class:`~.spec.SynthSpec`: gait targets (:mod:`.gait_targets`), coordinate splines
(:mod:`.trajectory`), inverse dynamics (:mod:`.inverse_dynamics`), the virtual IMU of the
body model at jittered positions, rotated into the mounted sensor frames
(:mod:`.placement`), and the IMU error chain (:mod:`.imu_errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.recording import (
    COORDINATE_NAMES,
    MOMENT_NAMES,
    SENSOR_NAMES,
    Participant,
    Recording,
    SensorPlacement,
    Sidecar,
)
from train.data.synthetic import inverse_dynamics
from train.data.synthetic.body import Body, centre_of_mass, kinematics
from train.data.synthetic.gait_targets import Variability, build_targets
from train.data.synthetic.imu_errors import apply_imu_errors
from train.data.synthetic.placement import PlacementJitter, sample_placement, to_sensor_frame
from train.data.synthetic.posture import PostureOffsets
from train.data.synthetic.spec import SynthSpec
from train.data.synthetic.speed_profile import evaluate_program, random_program
from train.data.synthetic.trajectory import build_trajectory
from train.physics import SENSORS, virtual_imu

log = logging.getLogger(__name__)

#: Rate of the internal grid on which the trajectory is solved, Hz (at least).
INTERNAL_RATE_HZ = 200.0
#: Padding of the internal grid beyond both ends of the recording, s.
EDGE_PAD_S = 2.0
#: Study ranges of body size: height uniform, mass from a uniform BMI (kg/m²), clipped.
HEIGHT_RANGE_M = (1.50, 2.00)
BMI_RANGE = (18.0, 32.0)
MASS_RANGE_KG = (40.0, 130.0)
#: Sagittal mounting angle β of the random population: uniform ±this per sensor, deg.
MOUNTING_RANGE_DEG = 15.0
#: Seeds a training recording never gets (held-out and parity presets: 900 000-999 999).
RESERVED_SEEDS = range(900_000, 1_000_000)


def _variability(spec: SynthSpec, rng: np.random.Generator) -> Variability:
    base = Variability.sample(rng, spec.variability)
    if spec.walk_pattern or spec.run_pattern:
        fixed = Variability.none(spec.walk_pattern, spec.run_pattern)
        base = Variability(
            walk_weights=fixed.walk_weights if spec.walk_pattern else base.walk_weights,
            run_weights=fixed.run_weights if spec.run_pattern else base.run_weights,
            timing_jitter=base.timing_jitter,
            amplitude_jitter=base.amplitude_jitter,
            duty_jitter=base.duty_jitter,
            cadence_scale=base.cadence_scale,
            tilt_offset_rad=base.tilt_offset_rad,
            stand_hip_rad=base.stand_hip_rad,
            stand_knee_rad=base.stand_knee_rad,
        )
    if spec.cadence_scale is not None:
        base = Variability(**{**base.__dict__, "cadence_scale": spec.cadence_scale})
    return base


def _stride_speed(time_s: np.ndarray, phase: np.ndarray, com_x: np.ndarray) -> np.ndarray:
    """(n,) forward speed averaged over one stride centred on each sample, m/s (over the
    part of the stride inside the recording at the ends)."""
    t_a = np.interp(phase - 0.5, phase, time_s)
    t_b = np.interp(phase + 0.5, phase, time_s)
    x_a = np.interp(t_a, time_s, com_x)
    x_b = np.interp(t_b, time_s, com_x)
    return (x_b - x_a) / np.maximum(t_b - t_a, 1e-6)


def _events(time_s: np.ndarray, stance: np.ndarray) -> list[tuple[str, int]]:
    """Heel strikes and toe-offs (label, sample index) from (n, 2) stance flags."""
    out: list[tuple[str, int]] = []
    for j, side in enumerate("RL"):
        s = stance[:, j].astype(np.int8)
        change = np.diff(s)
        out += [(f"{side}_HS", int(i + 1)) for i in np.flatnonzero(change == 1)]
        out += [(f"{side}_TO", int(i + 1)) for i in np.flatnonzero(change == -1)]
    return sorted(out, key=lambda e: e[1])


@dataclass(frozen=True)
class Synthesis:
    """A synthetic recording and the internals behind it (for checks and analysis).

    Attributes:
        recording: the recording (IMU with errors, ground truth).
        body: the body model.
        q, qd, qdd: (N, 9) coordinates and their exact derivatives at the samples (SI).
        contact_forces: (N, 4, 2) ground-on-foot forces per contact point, N.
        moments: (N, 6) net joint moments, N·m.
        phase: (N,) stride phase (cycles; integer = right heel strike in the pattern).
        ideal_imu: (N, 7, 3) virtual IMU at the actual placement, segment axes, no errors.
    """

    recording: Recording
    body: Body
    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray
    contact_forces: np.ndarray
    moments: np.ndarray
    phase: np.ndarray
    ideal_imu: np.ndarray


def synthesize(spec: SynthSpec) -> Recording:
    """One synthetic recording (IMU with errors, ground truth in ``truth``)."""
    return simulate(spec).recording


def simulate(spec: SynthSpec) -> Synthesis:
    """:func:`synthesize` with the internals (see :class:`Synthesis`)."""
    rng = np.random.default_rng(spec.seed)
    body = Body.of(spec.height_m, spec.mass_kg)
    internal = max(INTERNAL_RATE_HZ, spec.rate_hz)
    duration = spec.duration_s
    # Solve on a grid padded at both ends (the program extended), so that the ends of
    # the recording are not the ends of the least-squares problems.
    rows = np.arange(-EDGE_PAD_S, duration + EDGE_PAD_S, 1.0 / internal)
    out_t = np.arange(0.0, duration - 0.5 / spec.rate_hz, 1.0 / spec.rate_hz)
    program = evaluate_program(spec.segments, rows, spec.ramp_s)
    targets = build_targets(
        program, spec.height_m, _variability(spec, rng), rng, posture=spec.posture
    )
    traj = build_trajectory(body, targets)

    q, qd, qdd = traj.state(out_t)
    kin = kinematics(body, q, qd, qdd)
    load = np.stack([np.interp(out_t, rows, targets.grf_bw[:, j, 1]) for j in (0, 1)], 1)
    dyn = inverse_dynamics.solve(body, kin, load)

    placement = sample_placement(
        spec.height_m, spec.placement, rng, mounting_rad=np.asarray(spec.mounting_rad())
    )
    planar = virtual_imu(
        None, None, None, body.params, SENSORS, placement.actual[:, :2], kin=kin
    ).numpy()
    imu = apply_imu_errors(
        to_sensor_frame(planar, placement.rotation), spec.rate_hz, spec.imu_errors, rng
    )

    stance = np.stack(
        [np.interp(out_t, rows, traj.stance[:, j].astype(np.float64)) > 0.5 for j in (0, 1)], 1
    )
    com, _, _ = centre_of_mass(body, kin)
    phase = np.interp(out_t, rows, targets.phase)
    truth: dict[str, np.ndarray] = {}
    for k, name in enumerate(COORDINATE_NAMES):
        truth[name] = q[:, k].copy()
    for k, name in enumerate(COORDINATE_NAMES):
        truth[f"{name}_vel"] = qd[:, k].copy()
    for k, name in enumerate(MOMENT_NAMES):
        truth[name] = dyn.moments[:, k].copy()
    for j, side in enumerate("rl"):
        truth[f"grf_x_{side}"] = dyn.grf_bw[:, j, 0].copy()
        truth[f"grf_y_{side}"] = dyn.grf_bw[:, j, 1].copy()
    truth["speed_m_s"] = _stride_speed(out_t, phase, com[:, 0])
    truth["contact_r"] = stance[:, 0].astype(np.float64)
    truth["contact_l"] = stance[:, 1].astype(np.float64)

    mounting = {
        name: {
            "angle_rad": round(float(placement.mounting_rad[i]), 9),
            "position_m": [round(float(v), 6) for v in placement.actual[i, :2]],
        }
        for i, name in enumerate(SENSOR_NAMES)
    }
    meta = Sidecar(
        trial=spec.name,
        movement="synthetic",
        participant=Participant(
            id=f"synthetic-{spec.seed}", height_m=spec.height_m, mass_kg=spec.mass_kg
        ),
        sample_period_s=1.0 / spec.rate_hz,
        speed_m_s=float(max(np.mean(truth["speed_m_s"]), 0.0)),
        events=_events(out_t, stance),
        sensors={
            name: SensorPlacement(segment=name, position_m=tuple(placement.nominal[i]))
            for i, name in enumerate(SENSOR_NAMES)
        },
        source="SSPINNpose synthetic gait generator (train.data.synthetic)",
        note="Synthetic: planar gait2dc body model, virtual IMU, inverse dynamics. "
        "Sensor positions are nominal; the signals come from jittered placements. "
        "truth_mounting_rad and synthetic.truth_mounting are the generator's truth (not "
        "known to a user, no calibration applied); the IMU columns are in the mounted "
        "sensor frames.",
        truth_mounting_rad={name: m["angle_rad"] for name, m in mounting.items()},
        synthetic={
            "truth_mounting": mounting,
            "spec": spec.model_dump(mode="json"),
            "actual_positions_m": placement.actual.round(5).tolist(),
            "mounting_rotation": placement.rotation.round(6).tolist(),
        },
    )
    rec = Recording(out_t, SENSOR_NAMES, imu, meta, truth)
    return Synthesis(rec, body, q, qd, qdd, dyn.contact_forces, dyn.moments, phase, planar)


def random_spec(
    rng: np.random.Generator,
    duration_s: float,
    *,
    name: str,
    rate_hz: float = 100.0,
    speeds: list[float] | None = None,
    mounting: bool = True,
    posture: bool = True,
) -> SynthSpec:
    """A random recording spec (one subject): body size within the study range
    (:data:`HEIGHT_RANGE_M`, BMI :data:`BMI_RANGE`), a varied speed program
    (:func:`.speed_profile.random_program`), random variability, IMU errors, strap
    placement (:meth:`.PlacementJitter.strap`), posture (:meth:`.PostureOffsets.sample`)
    and sagittal mounting β uniform ±:data:`MOUNTING_RANGE_DEG` per sensor.

    ``mounting=False`` / ``posture=False`` set them to zero; the draws are made anyway,
    so every other choice (body, program, seed) is the same subject's.
    """
    height = float(rng.uniform(*HEIGHT_RANGE_M))
    bmi = float(rng.uniform(*BMI_RANGE))
    mass = float(np.clip(bmi * height**2, *MASS_RANGE_KG))
    segments = random_program(rng, duration_s, speeds, height_m=height)
    seed = int(rng.integers(0, 2**31 - 1))
    while seed in RESERVED_SEEDS:
        seed = int(rng.integers(0, 2**31 - 1))
    pose = PostureOffsets.sample(rng)
    beta = rng.uniform(-MOUNTING_RANGE_DEG, MOUNTING_RANGE_DEG, len(SENSOR_NAMES))
    return SynthSpec(
        name=name,
        height_m=round(height, 3),
        mass_kg=round(mass, 1),
        segments=segments,
        seed=seed,
        rate_hz=rate_hz,
        placement=PlacementJitter.strap(),
        posture=pose if posture else PostureOffsets(),
        mounting_deg={
            s: round(float(b), 3) if mounting else 0.0
            for s, b in zip(SENSOR_NAMES, beta, strict=True)
        },
    )


def training_specs(
    minutes: float,
    seed: int,
    rate_hz: float = 100.0,
    speeds: list[float] | None = None,
    *,
    mounting: bool = True,
    posture: bool = True,
) -> list[SynthSpec]:
    """Specs of a training set of about ``minutes`` minutes (recordings of 1-3 min, one
    random subject each, see :func:`random_spec`; ``mounting=False`` gives the same
    subjects with zero mounting angles)."""
    if minutes <= 0:
        raise ValueError(f"minutes must be > 0, got {minutes}")
    rng = np.random.default_rng(seed)
    total = minutes * 60.0
    specs: list[SynthSpec] = []
    done = 0.0
    while done < total - 1.0:
        length = float(min(rng.uniform(60.0, 180.0), total - done))
        length = max(length, 8.0)
        specs.append(
            random_spec(
                rng,
                length,
                name=f"synthetic_{seed}_{len(specs):03d}",
                rate_hz=rate_hz,
                speeds=speeds,
                mounting=mounting,
                posture=posture,
            )
        )
        done += specs[-1].duration_s
    return specs


def generate_training_set(
    minutes: float,
    seed: int,
    rate_hz: float = 100.0,
    *,
    speeds: list[float] | None = None,
    progress: Callable[[SynthSpec, Recording], None] | None = None,
    mounting: bool = True,
    posture: bool = True,
) -> list[Recording]:
    """Varied labelled recordings totalling about ``minutes`` minutes (the trainer strips
    the truth columns). Reproducible by ``seed``; posture and sensor mounting vary per
    subject unless switched off."""
    out = []
    for spec in training_specs(minutes, seed, rate_hz, speeds, mounting=mounting, posture=posture):
        rec = synthesize(spec)
        log.info("synthesised %s: %.0f s", spec.name, spec.duration_s)
        out.append(rec)
        if progress is not None:
            progress(spec, rec)
    return out
