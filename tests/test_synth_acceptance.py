"""Acceptance of the synthetic gait generator (issue 4): realism against the real IMU,
stance feet, force consistency, and Winter's GRF.

The realism and force checks use the physics alone: no stride variability, an ideal IMU
and no placement jitter, so every number here is deterministic. Measured values are in
docs/synthetic-data.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.recording import read_recording
from train.data.synthetic import (
    ImuErrorModel,
    PlacementJitter,
    Segment,
    SynthSpec,
    simulate,
)
from train.data.synthetic import validation as V
from train.data.synthetic.acceptance import acceptance_specs
from train.data.synthetic.generator import training_specs


@pytest.fixture(scope="module")
def p01_walker():
    """P01-sized walker (1.73 m, 73 kg) at P01's speed with P01's mean cycle."""
    return simulate(acceptance_specs()["walker"])


@pytest.fixture(scope="module")
def p01_runner():
    """P01-sized runner at P01_running's speed (the RBDS patterns, mixed)."""
    return simulate(acceptance_specs()["runner"])


@pytest.fixture(scope="module")
def winter_walker():
    """Winter's subject (1.62 m, 56.7 kg) at 1.325 m/s and Winter's stride (1.1396 s)."""
    return simulate(acceptance_specs()["winter"])


def test_p01_walking_imu_correlation(p01_walker, p01_walking_csv):
    mean, per_channel, _ = V.imu_correlation(p01_walker, read_recording(p01_walking_csv))
    assert len(per_channel) == 18
    # naive level pelvis: 0.65; optimal control fitting these signals: 0.86
    assert mean >= 0.75, per_channel
    gyro = [r for k, r in per_channel.items() if k.endswith("gyr_z")]
    assert min(gyro) > 0.85


def test_p01_running_imu_correlation_reported(p01_runner, p01_running_csv):
    mean, per_channel, _ = V.imu_correlation(p01_runner, read_recording(p01_running_csv))
    # Reported in docs (0.67 at the time of writing: the short running stance is fitted
    # tightly to keep the foot planted); a regression guard, not a target.
    assert mean >= 0.62, per_channel


@pytest.mark.parametrize("name", ["p01_walker", "winter_walker", "p01_runner"])
def test_stance_foot_lies_flat_and_still_in_mid_stance(name, request):
    """At the stillest instant of every stance the sole is level (heel and toe on the
    ground: foot angle 0 in the body model) and the foot barely turns: what a foot-mounted
    IMU's "flat at mid-stance" assumes (before the foot-flat phase: +2.3° / +8.5° / +0.9°,
    0.15 / 0.83 / 0.49 rad/s)."""
    angle_deg, rate = V.stance_foot_flatness(request.getfixturevalue(name))
    assert angle_deg.size >= 20
    assert np.abs(angle_deg).max() < 1.0, angle_deg
    assert np.median(rate) < 0.1, rate
    # flat (within 1°) for a phase, not an instant (before: 12 % / 5 % / 17 %)
    assert V.flat_share_of_stance(request.getfixturevalue(name)) > 0.15


@pytest.mark.parametrize("name", ["p01_walker", "p01_runner"])
def test_stance_feet_do_not_slide_or_sink(name, request):
    syn = request.getfixturevalue(name)
    slip = V.stance_slip(syn)
    assert slip["load_weighted"] <= 0.05, slip
    assert V.penetration_m(syn) <= 0.01


def test_winter_feet_do_not_slide_or_sink(winter_walker):
    assert V.stance_slip(winter_walker)["load_weighted"] <= 0.05
    assert V.penetration_m(winter_walker) <= 0.01


#: Steady bouts across the study's speed range (walking up to walk_max_m_s(1.75 m)).
STEADY = [("walk", 0.9), ("walk", 1.6), ("run", 1.8), ("run", 3.0), ("run", 4.2), ("run", 4.9)]


@pytest.mark.parametrize("mode,speed", STEADY)
def test_feet_stay_planted_across_the_speed_range(mode, speed):
    syn = simulate(
        SynthSpec(
            name=f"steady_{mode}_{speed}",
            height_m=1.75,
            mass_kg=70.0,
            segments=[Segment(mode=mode, speed_m_s=speed, duration_s=14.0)],
            seed=3,
            imu_errors=ImuErrorModel.ideal(),
            placement=PlacementJitter.none(),
        )
    )
    assert V.stance_slip(syn)["load_weighted"] <= 0.05
    assert V.penetration_m(syn) <= 0.01
    # Forces act through a foot on the ground (a little slack in fast running, where
    # the push-off foot without toes leaves the ground early: docs/synthetic-data.md).
    assert V.airborne_load_share(syn) <= (0.01 if mode == "walk" else 0.15)
    flag = np.stack([syn.recording.truth[f"contact_{s}"] for s in "rl"], 1) > 0.5
    flight = (~flag.any(axis=1)).mean()
    if mode == "walk":
        assert flight < 0.01
    else:
        assert 0.2 < flight < 0.55


@pytest.fixture(scope="module")
def training_sample():
    """Random training recordings: body sizes, starts, stops, transitions, variability,
    IMU errors (what sspinn-synth writes)."""
    return [simulate(spec) for spec in training_specs(4.0, seed=11)]


def test_training_recordings_keep_feet_planted(training_sample):
    assert len(training_sample) >= 2
    for syn in training_sample:
        name = syn.recording.meta.trial
        assert V.stance_slip(syn)["load_weighted"] <= 0.05, name
        assert V.penetration_m(syn) <= 0.01, name
        assert V.airborne_load_share(syn) <= 0.12, name
        assert V.grf_balance_rms_bw(syn) <= 0.05, name


@pytest.mark.parametrize("name", ["p01_walker", "p01_runner", "winter_walker"])
def test_forces_agree_with_kinematics(name, request):
    syn = request.getfixturevalue(name)
    assert V.grf_balance_rms_bw(syn) <= 0.05
    residual_n, residual_rel = V.kane_residual_max(syn)
    assert residual_n < 1e-3  # N and N·m, forces of ~1000 N
    assert residual_rel < 1e-6


def test_winter_grf_matches_recorded(winter_walker):
    data = np.genfromtxt(
        "train/reference_data/kinematics/Winter_walking.csv", delimiter=",", names=True
    )
    cycle = np.stack([data[c] for c in ("grf_x_r", "grf_y_r", "grf_x_l", "grf_y_l")], axis=1)
    assert V.grf_rms_vs_cycle_bw(winter_walker, cycle) <= 0.15


@pytest.mark.parametrize("name,speed", [("p01_walker", 1.2919), ("p01_runner", 3.4745)])
def test_speed_truth_is_the_programmed_speed(name, speed, request):
    syn = request.getfixturevalue(name)
    truth = syn.recording.truth["speed_m_s"]
    inner = truth[300:-300]
    assert abs(inner.mean() - speed) < 0.01 * speed
    assert syn.recording.meta.speed_m_s == pytest.approx(truth.mean())


def test_walking_contact_flags_and_grf_agree(p01_walker):
    truth = p01_walker.recording.truth
    load = np.stack([truth["grf_y_r"], truth["grf_y_l"]], 1)
    flag = np.stack([truth["contact_r"], truth["contact_l"]], 1) > 0.5
    # A foot that is not in contact carries no more than a trace of load...
    assert np.abs(load[~flag]).max() < 0.05
    # ... and walking has double support, never flight.
    assert flag.any(axis=1).all()
    assert flag.all(axis=1).mean() > 0.02


def test_running_has_flight_with_ballistic_com(p01_runner):
    truth = p01_runner.recording.truth
    flag = np.stack([truth["contact_r"], truth["contact_l"]], 1) > 0.5
    total = truth["grf_y_r"] + truth["grf_y_l"]
    flight = ~flag.any(axis=1)
    # Reference 0.34 (docs/synthetic-data.md).
    assert 0.25 < flight.mean() < 0.45
    # Mid-flight (no reference force either) the body is ballistic: no ground force.
    mid = flight & np.r_[False, flight[:-1]] & np.r_[flight[1:], False]
    assert np.median(np.abs(total[mid])) < 0.05
