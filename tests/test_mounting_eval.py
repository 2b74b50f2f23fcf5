"""``sspinn-eval`` reports each sensor's mounting, estimated from the gait alone when the
sidecar has none: a strap tilted by 15° shows as a 15° change of that sensor only."""

from __future__ import annotations

import numpy as np
import pytest

from edge.mounting import from_segment_axes
from edge.recording import (
    SENSOR_NAMES,
    Recording,
    bundled_recording_path,
    read_recording,
    tile_cycles,
)
from train.evaluation import mounting_report


def _with_imu(rec: Recording, imu: np.ndarray) -> Recording:
    """A copy of ``rec`` (truth removed) with other IMU samples; ``rec`` is untouched."""
    return Recording(rec.time_s, rec.sensors, imu, rec.meta, {}, rec.path)


@pytest.fixture(scope="module")
def walking():
    return tile_cycles(read_recording(bundled_recording_path("P01_walking")), 10, rate_hz=100.0)


@pytest.mark.parametrize("tilt_deg", [15.0, -15.0])
def test_report_recovers_a_strap_tilt(walking, tilt_deg: float) -> None:
    base = mounting_report(walking)
    assert base["applied"] is False
    assert set(base["sensors"]) == set(SENSOR_NAMES)
    k = SENSOR_NAMES.index("tibia_l")
    beta = np.zeros(len(SENSOR_NAMES))
    beta[k] = np.radians(tilt_deg)
    walking_tilted = _with_imu(walking, from_segment_axes(walking.imu, beta))
    tilted = mounting_report(walking_tilted)
    for name in SENSOR_NAMES:
        change = tilted["sensors"][name]["angle_deg"] - base["sensors"][name]["angle_deg"]
        expected = tilt_deg if name == "tibia_l" else 0.0
        assert change == pytest.approx(expected, abs=3.0), (name, change)
        assert tilted["sensors"][name]["method"] == "functional"


def test_report_says_why_when_there_is_no_gait(walking) -> None:
    imu = np.zeros_like(walking.imu)
    imu[:, :, 1] = 9.81  # standing upright, no movement at all
    still = _with_imu(walking, imu)
    report = mounting_report(still)
    assert report["applied"] is False
    assert report.get("error")
