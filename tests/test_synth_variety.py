"""Posture and sensor-mounting variety of the synthetic generator (docs/synthetic-data.md).

Each generation here is a few seconds of one subject with an ideal IMU, so the numbers
are deterministic; the whole file takes about 20 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.recording import SENSOR_NAMES, read_recording, write_recording
from train.data.synthetic import (
    ImuErrorModel,
    PlacementJitter,
    PostureOffsets,
    Segment,
    SynthSpec,
    evaluation_specs,
    heldout_specs,
    parity_spec,
    posture_heldout_specs,
    simulate,
    synthesize,
    training_specs,
    undo_mounting,
)
from train.data.synthetic import validation as V
from train.data.synthetic.generator import BMI_RANGE, RESERVED_SEEDS
from train.data.synthetic.speed_profile import walk_max_m_s


def _spec(mode: str, speed: float, posture: PostureOffsets, **kw) -> SynthSpec:
    return SynthSpec(
        height_m=1.75,
        mass_kg=70.0,
        segments=[Segment(mode=mode, speed_m_s=speed, duration_s=6.5)],
        seed=3,
        variability=0.0,
        imu_errors=ImuErrorModel.ideal(),
        placement=PlacementJitter.none(),
        posture=posture,
        **kw,
    )


def _mid_stance_deg(syn) -> dict[str, float]:
    """Mean truth angles (deg) over the middle 40 % of the right foot's inner stances."""
    truth = syn.recording.truth
    idx = np.flatnonzero(truth["contact_r"] > 0.5)
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)[1:-1]
    assert len(runs) >= 3
    sel = np.concatenate([r[int(0.3 * r.size) : int(0.7 * r.size)] for r in runs])
    names = ("pelvis_tilt", "hip_flexion_r", "knee_angle_r", "ankle_angle_r")
    return {n.split("_")[0]: float(np.degrees(truth[n][sel].mean())) for n in names}


@pytest.fixture(scope="module")
def walk_base():
    return simulate(_spec("walk", 1.3, PostureOffsets()))


@pytest.fixture(scope="module")
def run_base():
    return simulate(_spec("run", 3.5, PostureOffsets()))


def _assert_planted(syn, mode: str) -> None:
    # The acceptance bounds of tests/test_synth_acceptance.py.
    assert V.stance_slip(syn)["load_weighted"] <= 0.05
    assert V.penetration_m(syn) <= 0.01
    assert V.airborne_load_share(syn) <= (0.01 if mode == "walk" else 0.15)
    assert V.grf_balance_rms_bw(syn) <= 0.05


@pytest.mark.parametrize(
    "mode,posture,expected,tol",
    [
        # Crouch: knee 15° more flexed at mid-stance (measured on 10 s: −15.2° walking, −16.8°
        # running); the thigh flexes and the ankle dorsiflexes with it.
        ("walk", PostureOffsets(knee_deg=-15.0), {"knee": -15.0}, 2.0),
        ("run", PostureOffsets(knee_deg=-15.0), {"knee": -15.0}, 2.5),
        # Trunk tilted back: pelvis +10°, hips −10°, knee and ankle unchanged.
        (
            "walk",
            PostureOffsets(pelvis_tilt_deg=10.0),
            {"pelvis": 10.0, "hip": -10.0, "knee": 0.0, "ankle": 0.0},
            0.5,
        ),
        # Hips flexed 10° by a forward trunk (measured 9.5° running).
        ("run", PostureOffsets(hip_deg=10.0), {"pelvis": -10.0, "hip": 10.0}, 1.0),
        # Foot pitched 5° (toes up) in gait.
        ("walk", PostureOffsets(ankle_deg=5.0), {"ankle": 5.0, "pelvis": 0.0}, 1.0),
    ],
)
def test_posture_offsets_change_the_stance_truth_and_keep_feet_planted(
    mode, posture, expected, tol, request
):
    base = request.getfixturevalue(f"{mode}_base")
    syn = simulate(_spec(mode, 1.3 if mode == "walk" else 3.5, posture))
    got, ref = _mid_stance_deg(syn), _mid_stance_deg(base)
    for joint, change in expected.items():
        assert got[joint] - ref[joint] == pytest.approx(change, abs=tol), (joint, got, ref)
    if posture.knee_deg:
        # A crouch flexes the hip and dorsiflexes the ankle too (feet stay flat).
        assert got["hip"] - ref["hip"] > 3.0
        assert got["ankle"] - ref["ankle"] > 5.0
    _assert_planted(syn, mode)


def test_mounting_truth_round_trips_and_undoing_it_gives_the_unmounted_signals(tmp_path):
    spec = training_specs(0.2, seed=21)[0].model_copy(
        update={
            "segments": [Segment(mode="walk", speed_m_s=1.2, duration_s=5.0)],
            "imu_errors": ImuErrorModel.ideal(),
        }
    )
    beta = spec.mounting_rad()
    assert max(abs(b) for b in beta) > np.radians(5.0)
    assert all(abs(b) <= np.radians(15.0) for b in beta)
    mounted = synthesize(spec)
    plain = synthesize(spec.model_copy(update={"mounting_deg": {}}))

    path = write_recording(mounted, tmp_path / "mounted")
    meta = read_recording(path).meta
    sensors = meta.synthetic["truth_mounting"]
    assert meta.calibration is None  # the truth is not a calibration a user would have
    actual = np.asarray(mounted.meta.synthetic["actual_positions_m"])
    for i, name in enumerate(SENSOR_NAMES):
        assert sensors[name]["angle_rad"] == pytest.approx(beta[i], abs=1e-9)
        assert meta.truth_mounting_rad[name] == pytest.approx(beta[i], abs=1e-9)
        np.testing.assert_allclose(sensors[name]["position_m"], actual[i, :2], atol=1e-5)

    # The sensor frame is the strap frame turned by β: rotating (acc x, y) and (gyr x, y)
    # back gives the zero-mounting generation of the same subject.
    undone = undo_mounting(mounted.imu, np.asarray(beta))
    np.testing.assert_allclose(undone, plain.imu, rtol=0, atol=1e-9)
    assert np.abs(mounted.imu - plain.imu).max() > 1.0  # the mounting is not negligible
    np.testing.assert_array_equal(mounted.imu[..., [2, 5]], plain.imu[..., [2, 5]])
    assert np.array_equal(mounted.truth["knee_angle_r"], plain.truth["knee_angle_r"])
    assert plain.meta.truth_mounting_rad == dict.fromkeys(SENSOR_NAMES, 0.0)


def test_zero_mounting_option_keeps_the_subjects():
    mounted = training_specs(20.0, seed=4)
    plain = training_specs(20.0, seed=4, mounting=False)
    assert len(mounted) == len(plain)
    for a, b in zip(mounted, plain, strict=True):
        assert set(b.mounting_deg.values()) == {0.0}
        assert a.model_copy(update={"mounting_deg": b.mounting_deg}) == b
    upright = training_specs(20.0, seed=4, posture=False)
    assert all(s.posture == PostureOffsets() for s in upright)


def test_heldout_presets_are_fixed_varied_and_disjoint_from_training():
    pairs = posture_heldout_specs()
    names = [n for n, _ in pairs]
    assert len(set(names)) == len(names) == 10
    assert all(n == s.name for n, s in pairs)
    assert pairs == posture_heldout_specs()
    postures = [s.posture for _, s in pairs]
    assert sum(p != PostureOffsets() for p in postures) == 9
    assert PostureOffsets(knee_deg=-15.0) in postures
    assert PostureOffsets(pelvis_tilt_deg=10.0) in postures
    assert PostureOffsets(pelvis_tilt_deg=-10.0) in postures
    assert PostureOffsets(hip_deg=10.0) in postures and PostureOffsets(hip_deg=-10.0) in postures
    for _, s in pairs:
        beta = np.abs(list(s.mounting_deg.values()))
        assert len(beta) == 7 and beta.max() <= 15.0 and beta.min() >= 3.0
    speeds = {g.speed_m_s for _, s in pairs for g in s.segments}
    assert {1.3, 3.5, 1.1, 4.0} <= speeds
    assert {(s.height_m, s.mass_kg) for _, s in pairs} >= {(1.6, 55.0), (1.9, 95.0)}

    every = evaluation_specs()
    assert [n for n, _ in every[:3]] == [s.name for s in heldout_specs()]
    fixed_seeds = {s.seed for _, s in every} | {parity_spec().seed}
    assert len(fixed_seeds) == len(every) + 1
    assert all(seed in RESERVED_SEEDS for seed in fixed_seeds)
    train_seeds = {s.seed for k in range(5) for s in training_specs(60.0, seed=k)}
    assert not train_seeds & set(RESERVED_SEEDS)


def test_random_population_covers_speeds_sizes_postures_and_mountings():
    specs = training_specs(600.0, seed=8)
    segs = [(s, g) for s in specs for g in s.segments]
    walk = np.array([g.speed_m_s for _, g in segs if g.mode == "walk"])
    run = np.array([g.speed_m_s for _, g in segs if g.mode == "run"])
    assert all(0.8 <= g.speed_m_s <= walk_max_m_s(s.height_m) for s, g in segs if g.mode == "walk")
    assert run.min() >= 2.0 and run.max() <= 4.5
    walk_hist, _ = np.histogram(walk, bins=np.arange(0.8, 1.81, 0.2))
    run_hist, _ = np.histogram(run, bins=np.arange(2.0, 4.51, 0.5))
    assert walk_hist[:4].min() >= 10 and walk_hist[4] >= 1  # 1.6-1.8: tall walkers only
    assert run_hist.min() >= 20
    assert 0.3 <= np.mean((run >= 2.0) & (run < 3.0)) <= 0.5  # intermediate running
    heights = np.array([s.height_m for s in specs])
    bmi = np.array([s.mass_kg / s.height_m**2 for s in specs])
    assert heights.min() < 1.55 and heights.max() > 1.95
    assert bmi.min() >= BMI_RANGE[0] - 0.1 and bmi.max() <= BMI_RANGE[1] + 0.1
    assert bmi.min() < 19.0 and bmi.max() > 31.0
    knee = np.array([s.posture.knee_deg for s in specs])
    tilt = np.array([s.posture.pelvis_tilt_deg for s in specs])
    assert knee.min() < -13.0 and knee.max() <= 0.0
    assert tilt.min() < -8.0 and tilt.max() > 8.0
    beta = np.array([list(s.mounting_deg.values()) for s in specs])
    assert beta.shape[1] == 7 and np.abs(beta).max() <= 15.0
    assert beta.min() < -13.0 and beta.max() > 13.0
    assert all(s.placement == PlacementJitter.strap() for s in specs)
