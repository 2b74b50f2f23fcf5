"""Fixed labelled synthetic recordings for evaluation reports and parity checks."""

from __future__ import annotations

from edge.recording import Recording
from train.data.synthetic.generator import synthesize
from train.data.synthetic.spec import SynthSpec
from train.data.synthetic.speed_profile import Segment

#: Seeds of the held-out set (never used by :func:`training_specs`, which draws its
#: recording seeds from the training seed's generator).
HELDOUT_SEEDS = (910_001, 910_002, 910_003)
PARITY_SEED = 920_001


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
