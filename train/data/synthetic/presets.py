"""Fixed labelled synthetic recordings for evaluation reports and parity checks."""

from __future__ import annotations

from edge.recording import SENSOR_NAMES, Recording
from train.data.synthetic.generator import synthesize
from train.data.synthetic.placement import PlacementJitter
from train.data.synthetic.posture import PostureOffsets
from train.data.synthetic.spec import SynthSpec
from train.data.synthetic.speed_profile import Segment

#: Seeds of the held-out set (never used by :func:`training_specs`: its recording seeds
#: avoid :data:`.generator.RESERVED_SEEDS`, 900 000-999 999).
HELDOUT_SEEDS = (910_001, 910_002, 910_003)
PARITY_SEED = 920_001
#: Seeds of the posture / mounting held-out subjects (:func:`posture_heldout_specs`).
POSTURE_HELDOUT_SEEDS = tuple(930_001 + k for k in range(10))


def _mounting(pattern: tuple[float, ...]) -> dict[str, float]:
    """Fixed sagittal mounting angles (deg) per sensor, ``SENSOR_NAMES`` order."""
    return dict(zip(SENSOR_NAMES, pattern, strict=True))


#: Fixed mounting sets of the held-out subjects, deg (within ±15°, both signs on every
#: segment across the set).
_MOUNT_A = _mounting((8.0, -12.0, 10.0, -6.0, 15.0, -9.0, 5.0))
_MOUNT_B = _mounting((-10.0, 14.0, -7.0, 11.0, -13.0, 6.0, -15.0))
_MOUNT_C = _mounting((12.0, 5.0, -14.0, -10.0, -4.0, 13.0, 9.0))
_MOUNT_D = _mounting((-5.0, -15.0, 15.0, 3.0, 9.0, -12.0, -8.0))


def heldout_specs() -> list[SynthSpec]:
    """Specs of the held-out set: walking 1.3 m/s, running 3.5 m/s, and a mixed program."""
    return [
        SynthSpec(
            name="synthetic_walking",
            height_m=1.68,
            mass_kg=64.0,
            segments=[Segment(mode="walk", speed_m_s=1.3, duration_s=45.0)],
            seed=HELDOUT_SEEDS[0],
        ),
        SynthSpec(
            name="synthetic_running",
            height_m=1.82,
            mass_kg=78.0,
            segments=[Segment(mode="run", speed_m_s=3.5, duration_s=45.0)],
            seed=HELDOUT_SEEDS[1],
        ),
        SynthSpec(
            name="synthetic_mixed",
            height_m=1.75,
            mass_kg=70.0,
            segments=[
                Segment(mode="stand", duration_s=4.0),
                Segment(mode="walk", speed_m_s=1.1, duration_s=12.0),
                Segment(mode="walk", speed_m_s=1.6, duration_s=10.0),
                Segment(mode="run", speed_m_s=2.8, duration_s=12.0),
                Segment(mode="run", speed_m_s=4.2, duration_s=10.0),
                Segment(mode="walk", speed_m_s=1.4, duration_s=8.0),
                Segment(mode="stand", duration_s=4.0),
            ],
            seed=HELDOUT_SEEDS[2],
        ),
    ]


def _walk(v: float = 1.3, s: float = 40.0) -> list[Segment]:
    return [Segment(mode="walk", speed_m_s=v, duration_s=s)]


def _run(v: float = 3.5, s: float = 40.0) -> list[Segment]:
    return [Segment(mode="run", speed_m_s=v, duration_s=s)]


def posture_heldout_specs() -> list[tuple[str, SynthSpec]]:
    """Held-out evaluation subjects whose posture differs from P01's, with sensors
    mounted up to ±15° off the segment axes (fixed seeds :data:`POSTURE_HELDOUT_SEEDS`,
    disjoint from every training seed), as (name, spec) pairs for an evaluation report.

    Walking at 1.3 m/s and running at 3.5 m/s (40 s each): a crouch (knee 15° more
    flexed), a trunk tilted +10° (backward) and −10° (forward), hips ±10°; then other body
    sizes and speeds (1.60 m / 55 kg walking 1.1 m/s, 1.90 m / 95 kg running 4.0 m/s, a
    1.52 m runner at 2.4 m/s) with mixed postures. Strap placement jitter
    (:meth:`.PlacementJitter.strap`), default variability and IMU errors.
    """
    rows: list[tuple[str, float, float, list[Segment], PostureOffsets, dict[str, float]]] = [
        ("heldout_crouch_walk", 1.72, 68.0, _walk(), PostureOffsets(knee_deg=-15.0), _MOUNT_A),
        ("heldout_crouch_run", 1.78, 72.0, _run(), PostureOffsets(knee_deg=-15.0), _MOUNT_B),
        (
            "heldout_tilt_back_walk",
            1.70,
            66.0,
            _walk(),
            PostureOffsets(pelvis_tilt_deg=10.0),
            _MOUNT_C,
        ),
        (
            "heldout_tilt_forward_run",
            1.80,
            75.0,
            _run(),
            PostureOffsets(pelvis_tilt_deg=-10.0),
            _MOUNT_D,
        ),
        ("heldout_hip_flexed_walk", 1.76, 80.0, _walk(), PostureOffsets(hip_deg=10.0), _MOUNT_B),
        ("heldout_hip_extended_run", 1.74, 64.0, _run(), PostureOffsets(hip_deg=-10.0), _MOUNT_A),
        (
            "heldout_small_slow_walk",
            1.60,
            55.0,
            _walk(1.1),
            PostureOffsets(knee_deg=-8.0, pelvis_tilt_deg=-6.0, ankle_deg=3.0),
            _MOUNT_D,
        ),
        (
            "heldout_tall_fast_run",
            1.90,
            95.0,
            _run(4.0),
            PostureOffsets(hip_deg=6.0, knee_deg=-10.0, ankle_deg=-3.0),
            _MOUNT_C,
        ),
        (
            "heldout_small_slow_run",
            1.52,
            48.0,
            _run(2.4),
            PostureOffsets(pelvis_tilt_deg=5.0, hip_deg=-5.0, knee_deg=-5.0),
            _MOUNT_A,
        ),
        ("heldout_p01_posture_mounted_walk", 1.73, 73.0, _walk(1.29), PostureOffsets(), _MOUNT_C),
    ]
    return [
        (
            name,
            SynthSpec(
                name=name,
                height_m=h,
                mass_kg=m,
                segments=segs,
                seed=seed,
                placement=PlacementJitter.strap(),
                posture=pose,
                mounting_deg=mount,
            ),
        )
        for (name, h, m, segs, pose, mount), seed in zip(rows, POSTURE_HELDOUT_SEEDS, strict=True)
    ]


def evaluation_specs() -> list[tuple[str, SynthSpec]]:
    """Every held-out synthetic subject as (name, spec): the original three
    (:func:`heldout_specs`) and the posture / mounting subjects
    (:func:`posture_heldout_specs`)."""
    return [(s.name, s) for s in heldout_specs()] + posture_heldout_specs()


def heldout_recordings() -> list[Recording]:
    """The held-out labelled set (3 recordings, 45-60 s); deterministic, not cached."""
    return [synthesize(spec) for spec in heldout_specs()]


def parity_spec() -> SynthSpec:
    """Spec of :func:`default_parity_recording`."""
    return SynthSpec(
        name="synthetic_parity",
        height_m=1.75,
        mass_kg=72.0,
        segments=[
            Segment(mode="walk", speed_m_s=1.4, duration_s=12.0),
            Segment(mode="run", speed_m_s=3.2, duration_s=8.0),
        ],
        seed=PARITY_SEED,
    )


def default_parity_recording() -> Recording:
    """One short (20 s, walking then running) deterministic labelled recording."""
    return synthesize(parity_spec())
