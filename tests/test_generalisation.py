"""The shipped model on bodies and straps it has never seen (issue "Accurate on people it
has never seen"): it reads the sensor mounting instead of assuming P01's, and follows a
posture that differs from P01's.

The mounting tests tilt every sensor of a real recording in its strap (a rotation of the
sensor frame about the sagittal axis, what a re-strapped IMU measures) and compare the
model's estimates on the tilted and the original recording, estimate against estimate.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge.mounting import from_segment_axes
from edge.output_spec import ANGLE_CHANNELS
from edge.recording import Recording, bundled_recording_path, read_recording
from train.checkpoint import read_checkpoint_meta
from train.data.synthetic import posture_heldout_specs, synthesize
from train.evaluation import evaluate, load_model

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "train" / "models" / "default"
TILT_DEG = 15.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    if read_checkpoint_meta(CHECKPOINT).input_axes != "segment":
        pytest.fail("the shipped model does not take segment-axis input")
    return load_model(CHECKPOINT)


@pytest.fixture(scope="module")
def walking() -> Recording:
    return read_recording(bundled_recording_path("P01_walking"))


def _tilted(rec: Recording, tilt_deg: np.ndarray, calibration: dict | None) -> Recording:
    """``rec`` with every sensor turned in its strap by ``tilt_deg`` (S,) and the
    sidecar calibration replaced by ``calibration``."""
    imu = from_segment_axes(rec.imu, np.radians(tilt_deg))
    meta = rec.meta.model_copy(update={"calibration": calibration})
    return replace(rec, imu=imu, meta=meta)


def _standing_capture(angles_deg: np.ndarray, sensors: list[str]) -> dict:
    """A standing capture (``calibrate_still``, kind gyro_bias: measured, not applied)
    that found these sagittal mounting angles."""
    return {
        "kind": "gyro_bias",
        "sensors": {
            name: {
                "gyro_bias_rad_s": [0.0, 0.0, 0.0],
                "gyro_sd_rad_s": [0.001, 0.001, 0.001],
                "sagittal_angle_rad": math.radians(float(a)),
                "out_of_plane_deg": 0.0,
                "gravity_m_s2": 9.81,
            }
            for name, a in zip(sensors, angles_deg, strict=True)
        },
    }


def _angles(model, rec: Recording) -> np.ndarray:
    """(N, 7) estimated pelvis tilt and joint angles, degrees."""
    ev = evaluate(model, rec)
    return np.stack([ev.estimate[c] for c in ANGLE_CHANNELS], axis=1)


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


#: Every sensor tilted at once, alternating signs, and the opposite pattern.
PATTERNS = [
    TILT_DEG * np.array([1, -1, 1, -1, 1, -1, 1.0]),
    -TILT_DEG * np.array([1, -1, 1, -1, 1, -1, 1.0]),
]


@pytest.mark.parametrize("pattern", PATTERNS, ids=["+-+", "-+-"])
def test_not_the_strap_with_a_standing_capture(model, walking, pattern) -> None:
    """Strap tilts of ±15° that a standing capture saw change the joint angles by ≤ 1°
    RMS (estimate against estimate)."""
    base_angles = np.zeros(len(walking.sensors))
    base = _tilted(walking, base_angles, _standing_capture(base_angles, walking.sensors))
    tilted = _tilted(walking, pattern, _standing_capture(pattern, walking.sensors))
    rms = _rms(_angles(model, base), _angles(model, tilted))
    assert rms <= 1.0, rms


@pytest.mark.parametrize("pattern", PATTERNS, ids=["+-+", "-+-"])
def test_not_the_strap_from_the_gait_alone(model, walking, pattern) -> None:
    """Without a standing capture the functional calibration finds each sensor's ±15°
    tilt within 3° (as ``sspinn-eval`` reports it) and the joint angles change by ≤ 2°
    RMS."""
    base_ev = evaluate(model, walking)
    tilted_ev = evaluate(model, _tilted(walking, pattern, None))
    before = base_ev.metrics["mounting"]["sensors"]
    after = tilted_ev.metrics["mounting"]["sensors"]
    for name, tilt in zip(walking.sensors, pattern, strict=True):
        found = after[name]["angle_deg"] - before[name]["angle_deg"]
        assert abs(found - tilt) <= 3.0, (name, found, tilt)
    rms = _rms(
        np.stack([base_ev.estimate[c] for c in ANGLE_CHANNELS], axis=1),
        np.stack([tilted_ev.estimate[c] for c in ANGLE_CHANNELS], axis=1),
    )
    assert rms <= 2.0, rms


#: Held-out subjects (not in training) whose posture or body differs from P01's and whose
#: pelvis posture is within the calibration's population prior: the crouches (knees 15°
#: more flexed than P01's through the whole cycle), a tall fast runner, a small slow walker.
FOLLOWED = (
    "heldout_crouch_walk",
    "heldout_crouch_run",
    "heldout_tall_fast_run",
    "heldout_small_slow_walk",
)


@pytest.mark.parametrize("name", FOLLOWED)
def test_follows_a_body_it_was_not_trained_on(model, name) -> None:
    """The issue's target: angle RMSE ≤ 5° (measured 2.1–3.9°). The crouch is followed:
    the mean knee angle within 4° of the truth's, where a model that reproduces P01's
    posture is 15° off.

    Not here: the held-out subjects whose trunk is tilted ±10° (or whose hips are flexed
    by tilting it) are 4.3–6.5°, because a tilted pelvis and a tilted pelvis strap are the
    same signal without a standing capture (docs/calibration.md, sections 4 and 6)."""
    spec = dict(posture_heldout_specs())[name]
    ev = evaluate(model, synthesize(spec))
    if "crouch" in name:
        for knee in ("knee_angle_r", "knee_angle_l"):
            bias = float(np.mean(ev.estimate[knee]) - np.mean(ev.truth[knee]))
            assert abs(bias) <= 4.0, (knee, bias)
    assert ev.metrics["angle_rmse_deg"]["mean"] <= 5.0, ev.metrics["angle_rmse_deg"]
