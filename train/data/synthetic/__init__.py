"""Synthetic gait recordings from the planar body model (issue 4).

Physically consistent IMU sequences with ground truth: gait patterns from mean cycles
(P01, Winter, RBDS), speed programs with starts, stops and walk-run transitions, stance
feet that roll without sliding, inverse dynamics with the Kane residual at zero, the
virtual IMU at jittered sensor placements and mounting angles (the truth in the sidecar),
per-subject posture offsets, and a datasheet-based IMU error model.
See ``docs/synthetic-data.md``.
"""

from train.data.synthetic.generator import (
    Synthesis,
    generate_training_set,
    random_spec,
    simulate,
    synthesize,
    training_specs,
)
from train.data.synthetic.imu_errors import ImuErrorModel, apply_imu_errors
from train.data.synthetic.placement import PlacementJitter, undo_mounting
from train.data.synthetic.posture import PostureOffsets
from train.data.synthetic.presets import (
    default_parity_recording,
    evaluation_specs,
    heldout_recordings,
    heldout_specs,
    parity_spec,
    posture_heldout_specs,
)
from train.data.synthetic.spec import SynthSpec
from train.data.synthetic.speed_profile import Segment

__all__ = [
    "ImuErrorModel",
    "PlacementJitter",
    "PostureOffsets",
    "Segment",
    "SynthSpec",
    "Synthesis",
    "apply_imu_errors",
    "default_parity_recording",
    "evaluation_specs",
    "generate_training_set",
    "heldout_recordings",
    "heldout_specs",
    "parity_spec",
    "posture_heldout_specs",
    "random_spec",
    "simulate",
    "synthesize",
    "training_specs",
    "undo_mounting",
]
