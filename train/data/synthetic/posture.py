"""Per-subject posture: constant joint-angle offsets of the gait pattern.

A crouch-ish walker, a forward or backward trunk, a more flexed or extended hip: each a
constant offset of the pattern's angles that the trajectory machinery then makes
consistent (stance IK, hip re-solve, swing clearance, sinking lift), so the feet stay
planted. The stance foot must stay flat on its sole in mid-stance (its absolute angle is
the pattern's), so the offsets are applied as:

* ``pelvis_tilt_deg`` Δp turns the trunk (``pelvis_tilt`` + Δp, + = backward); the thighs
  keep their absolute angles, so the hip angles take −Δp (an anterior pelvic tilt is more
  hip flexion, as in the clinical sense);
* ``hip_deg`` Δh flexes the hips by turning the trunk forward by Δh (pelvis_tilt − Δh,
  hip + Δh), the thighs again keeping their absolute angles. With the feet planted
  under the hip, a planar leg (foot flat, hip-ankle line where the gait needs it) has
  one posture degree of freedom of its own, the crouch below: a thigh turned by Δh with
  an upright trunk would put the stance foot ~15 cm ahead of or behind the hip at 10°
  (the whole-body centre of mass far outside the foot, and the stance out of reach: it
  was tried, load-weighted slip 0.08-0.39 m/s). So Δh and Δp are one trunk-pelvis
  degree of freedom seen from the two sides of the hip joint (the trunk turns by
  Δp − Δh); both are kept so that presets read as the posture they stand for;
* ``knee_deg`` Δk flexes (< 0) or extends the knees: by Δk at the pattern's mid-stance
  knee angle, and elsewhere by whatever shortens the hip-ankle distance by the same
  length, with the thigh turned so that the hip-ankle line keeps its direction
  (:func:`crouch`): the feet land and push off where they did, the hip sits lower, the
  thigh flexes a little with the knee (about −0.4 Δk at mid-stance) and the ankle
  dorsiflexes, as in crouch gait;
* the ankles take −(Δh + Δk), so the foot keeps its absolute angle (flat at mid-stance),
  plus ``ankle_deg`` Δa, which pitches the foot in gait (toes up for Δa > 0: the stance
  foot then rolls on its heel for longer; toes down: on its toe), scaled with the gait
  amplitude (a standing foot stays flat).

Truth changes (mean over mid-stance, before the IK's own corrections): pelvis_tilt
Δp − Δh, hip Δh − Δp (+ the crouch's thigh turn), knee Δk, ankle Δa minus the thigh and
knee changes (:meth:`PostureOffsets.expected_truth_change_deg`, crouch turn excluded).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

#: Thigh and shank length per body height (the body model's proportions,
#: ``train.physics.parameters``).
THIGH_LENGTH = 0.245
SHANK_LENGTH = 0.246

#: Ranges of the random training population (uniform per subject), degrees.
PELVIS_TILT_RANGE_DEG = (-10.0, 10.0)
HIP_RANGE_DEG = (-10.0, 10.0)
KNEE_RANGE_DEG = (-15.0, 0.0)
ANKLE_RANGE_DEG = (-5.0, 5.0)


class PostureOffsets(BaseModel):
    """Constant joint-angle offsets of one subject's gait pattern, degrees (model
    conventions: pelvis_tilt + backward, hip + flexion, knee + extension, ankle +
    dorsiflexion); see the module docstring for how they are applied."""

    model_config = ConfigDict(extra="forbid")

    pelvis_tilt_deg: float = Field(0.0, ge=-15.0, le=15.0, description="trunk lean, deg")
    hip_deg: float = Field(
        0.0, ge=-15.0, le=15.0, description="hip flexion by a forward trunk turn, deg"
    )
    knee_deg: float = Field(0.0, ge=-20.0, le=5.0, description="knee (< 0 more flexed), deg")
    ankle_deg: float = Field(0.0, ge=-8.0, le=8.0, description="foot pitch in gait, deg")

    @classmethod
    def sample(cls, rng: np.random.Generator) -> PostureOffsets:
        """Uniform within the ``*_RANGE_DEG`` ranges (4 draws from ``rng``)."""
        p, h, k, a = (
            float(rng.uniform(*r))
            for r in (PELVIS_TILT_RANGE_DEG, HIP_RANGE_DEG, KNEE_RANGE_DEG, ANKLE_RANGE_DEG)
        )
        return cls(
            pelvis_tilt_deg=round(p, 3),
            hip_deg=round(h, 3),
            knee_deg=round(k, 3),
            ankle_deg=round(a, 3),
        )

    @property
    def is_zero(self) -> bool:
        return not any((self.pelvis_tilt_deg, self.hip_deg, self.knee_deg, self.ankle_deg))

    def expected_truth_change_deg(self) -> dict[str, float]:
        """Nominal change of the truth angles at mid-stance (deg): pelvis_tilt, hip,
        knee, ankle (without the crouch's thigh turn, about −0.4 × knee, which the hip
        gains and the ankle loses)."""
        return {
            "pelvis_tilt": self.pelvis_tilt_deg - self.hip_deg,
            "hip": self.hip_deg - self.pelvis_tilt_deg,
            "knee": self.knee_deg,
            "ankle": self.ankle_deg - self.knee_deg,
        }


#: The stance IK and the hip least squares give back part of a crouch (the hip does not
#: drop quite as far as the pattern's legs shorten): the knee offset is scaled by these
#: gains, walking and running (blended with the walk-run blend), measured so that the
#: mid-stance truth knee changes by the requested amount (1.75 m, 1.3 and 3.5 m/s,
#: knee −15°: 0.83 and 0.58 of the request without them).
CROUCH_GAIN_WALK = 1.2
CROUCH_GAIN_RUN = 1.7


def _leg_length(thigh_m: float, shank_m: float, knee: np.ndarray) -> np.ndarray:
    """Hip-to-ankle distance (m) at knee angles ``knee`` (rad)."""
    return np.sqrt(thigh_m**2 + shank_m**2 + 2 * thigh_m * shank_m * np.cos(knee))


def _leg_offset(thigh_m: float, shank_m: float, knee: np.ndarray) -> np.ndarray:
    """Angle (rad) between the thigh and the hip-ankle line at knee angles ``knee``."""
    return np.arctan2(shank_m * np.sin(-knee), thigh_m + shank_m * np.cos(knee))


def crouch(
    knee: np.ndarray,
    knee_ref: float,
    offset: float | np.ndarray,
    thigh_m: float,
    shank_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Knee angles shortening the leg by the same length everywhere.

    The hip-ankle distance at every sample shrinks by what a knee offset ``offset`` (rad)
    takes off at ``knee_ref`` (rad, the pattern's mid-stance knee), and the thigh turns
    so that the hip-ankle line keeps its direction: the feet land and push off where
    they did, one shortening lower (a uniform leg shortening needs more knee flexion
    near full extension, less in swing).

    Args:
        knee: (n,) pattern knee angles, rad.
        knee_ref: reference knee, rad.
        offset: knee offset at the reference, rad (scalar or (n,)).
        thigh_m, shank_m: segment lengths, m.

    Returns:
        new knee angles (n,) rad and the thigh rotation (n,) rad (+ flexion).
    """
    shorten = _leg_length(thigh_m, shank_m, np.array(knee_ref)) - _leg_length(
        thigh_m, shank_m, np.array(knee_ref + offset)
    )
    target = _leg_length(thigh_m, shank_m, knee) - shorten
    cos_k = (target**2 - thigh_m**2 - shank_m**2) / (2 * thigh_m * shank_m)
    new = -np.arccos(np.clip(cos_k, np.cos(np.radians(150.0)), 1.0))
    turn = _leg_offset(thigh_m, shank_m, new) - _leg_offset(thigh_m, shank_m, knee)
    return new, turn


def apply_posture(
    angles: np.ndarray,
    tilt: np.ndarray,
    amplitude: np.ndarray,
    stance: np.ndarray,
    run_blend: np.ndarray,
    posture: PostureOffsets,
    thigh_m: float,
    shank_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Pattern with the posture applied.

    Args:
        angles: (n, 6) joint-angle pattern, rad (hip, knee, ankle right, then left).
        tilt: (n,) trunk tilt (pelvis_tilt), rad.
        amplitude: (n,) gait amplitude (0 standing .. 1 gait).
        stance: (n, 2) bool, the pattern's stance per leg (for the mid-stance knee).
        run_blend: (n,) walk-run blend (0 walking .. 1 running), for the crouch gain.
        posture: the offsets.
        thigh_m, shank_m: segment lengths, m.

    Returns:
        angles (n, 6) rad and tilt (n,) rad.
    """
    dp, dh, dk, da = np.radians(
        [posture.pelvis_tilt_deg, posture.hip_deg, posture.knee_deg, posture.ankle_deg]
    )
    out = angles.copy()
    for j, side in enumerate((0, 3)):
        hip, knee, ankle = (angles[:, side + k].copy() for k in range(3))
        foot = hip + knee + ankle
        if dk != 0.0:
            mid = stance[:, j] & (amplitude > 0.5)
            ref = float(np.median(knee[mid] if mid.any() else knee))
            run = np.clip(run_blend, 0.0, 1.0)
            gain = (1.0 - run) * CROUCH_GAIN_WALK + run * CROUCH_GAIN_RUN
            knee, turn = crouch(knee, ref, dk * gain, thigh_m, shank_m)
            hip = hip + turn
        trunk = dp - dh
        hip = hip - trunk
        ankle = foot - trunk - hip - knee + da * np.clip(amplitude, 0.0, 1.0)
        out[:, side], out[:, side + 1], out[:, side + 2] = hip, knee, ankle
    return out, tilt + (dp - dh)
