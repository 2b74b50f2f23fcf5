"""Building blocks of the generator: gait library, splines, stance IK, inverse dynamics."""

from __future__ import annotations

import numpy as np
import pytest

from train.data.synthetic.body import Body, angular_momentum_terms, centre_of_mass, kinematics
from train.data.synthetic.gait_library import gait_library, patterns_of
from train.data.synthetic.leg_ik import flat_foot, solve_stance_leg, stance_runs, toe_share
from train.data.synthetic.splines import Rows, UniformSpline, solve


def test_library_holds_the_five_patterns_starting_at_right_heel_strike():
    lib = gait_library()
    assert sorted(lib) == [
        "P01_walking",
        "RBDS001_running",
        "RBDS002_running",
        "RBDS003_running",
        "Winter_walking",
    ]
    assert [p.name for p in patterns_of("walking")] == ["P01_walking", "Winter_walking"]
    for p in lib.values():
        phase = np.linspace(0, 1, 200, endpoint=False)
        stance = p.stance(phase)
        # Right foot lands at phase 0 (within 4 % of the stride), the left half a stride later.
        edges = p.stance(np.array([0.96, 0.04, 0.46, 0.54]))
        assert edges[:, 0].tolist()[:2] == [0.0, 1.0], p.name
        assert edges[:, 1].tolist()[2:] == [0.0, 1.0], p.name
        assert stance.mean(axis=0) == pytest.approx([p.duty_factor] * 2, abs=0.02)
        fy = p.grf(phase)[..., 1].sum(axis=1)
        assert fy.mean() == pytest.approx(1.0, abs=0.03)  # stride mean 1 BW
        duty = p.duty_factor
        assert (0.6 < duty < 0.68) if p.movement == "walking" else (0.28 < duty < 0.36)


def test_rbds_stride_is_continuous_across_the_step_seam():
    """The RBDS files hold one step; the stride built from it is periodic and smooth."""
    p = gait_library()["RBDS001_running"]
    phase = np.linspace(0, 1, 401)
    ang = p.angles(phase)
    assert np.abs(np.diff(ang, axis=0)).max() < np.radians(3.0)
    # Symmetric: the left leg is the right leg half a stride later.
    np.testing.assert_allclose(p.angles(phase + 0.5)[:, 3:], ang[:, :3], atol=np.radians(1.0))


def test_hip_calibration_and_ankle_offset_are_in_plausible_ranges():
    for p in gait_library().values():
        lo, hi = (1.4, 2.0) if p.movement == "walking" else (1.0, 1.3)
        assert lo < p.hip_scale < hi, p.name
        assert abs(np.degrees(p.ankle_offset_rad)) < 12.0, p.name


def test_spline_derivatives_are_exact_for_the_fitted_function():
    grid = UniformSpline.covering(0.0, 10.0, 0.01)
    t = np.arange(0.0, 10.0, 0.005)
    y = np.sin(2 * np.pi * 1.4 * t)
    coef = solve(grid, [Rows(grid.basis(t), y, np.ones_like(t))])
    tt = np.linspace(1, 9, 777)
    w = 2 * np.pi * 1.4
    np.testing.assert_allclose(grid.evaluate(coef, tt), np.sin(w * tt), atol=2e-7)
    np.testing.assert_allclose(grid.evaluate(coef, tt, 1), w * np.cos(w * tt), atol=2e-4)
    np.testing.assert_allclose(grid.evaluate(coef, tt, 2), -w * w * np.sin(w * tt), atol=2e-2)
    # The derivative basis is the derivative of the value basis (finite-difference check).
    h = 1e-6
    fd = (grid.evaluate(coef, tt + h) - grid.evaluate(coef, tt - h)) / (2 * h)
    np.testing.assert_allclose(grid.evaluate(coef, tt, 1), fd, atol=1e-5)


def test_stance_ik_keeps_the_pivot_on_the_ground_and_still():
    body = Body.of(1.8, 75.0)
    n = 200
    t = np.linspace(0, 0.6, n)
    hip = np.stack([1.2 * t - 0.3, 0.86 + 0.02 * np.sin(2 * np.pi * t / 0.6)], 1)
    foot = np.radians(np.linspace(15.0, -35.0, n))
    mask = np.ones(n, bool)
    sol = solve_stance_leg(body, hip, np.zeros(n), foot, np.full(n, 0.25), mask)
    assert sol.deficit_m.max() == 0.0
    q = np.zeros((n, 9))
    q[:, :2] = hip
    q[:, 3:6] = sol.angles
    kin = kinematics(body, q, np.zeros_like(q), np.zeros_like(q))
    cp = kin.contact_pos.numpy()
    w = toe_share(kin.angle.numpy()[:, 3])
    pivot = (1 - w)[:, None] * cp[:, 0] + w[:, None] * cp[:, 1]
    np.testing.assert_allclose(pivot[:, 1], 0.0, atol=1e-12)
    # Rolling: the pivot moves along the sole by w · sole, nothing else.
    np.testing.assert_allclose(
        pivot[:, 0] - w * body.sole_m, pivot[0, 0] - w[0] * body.sole_m, atol=1e-12
    )
    np.testing.assert_allclose(kin.angle.numpy()[:, 3], foot, atol=1e-12)
    assert np.all(sol.angles[:, 1] <= 0.0)  # the knee only flexes


def test_flat_foot_has_a_flat_phase_and_keeps_the_ends():
    a = np.radians(np.linspace(-70.0, 40.0, 2201))
    f = flat_foot(a)
    flat = np.abs(a) < np.radians(3.0)
    assert np.degrees(np.abs(f[flat])).max() < 0.2  # flat while the pattern passes 0
    far = np.abs(a) > np.radians(10.0)
    assert np.degrees(np.abs(f - a)[far]).max() < 0.05  # heel strike, push-off unchanged
    assert np.all(np.diff(f) > 0)  # monotonic: no back-and-forth rocking
    assert np.degrees(np.abs(f - a)).max() < 3.4  # what the ankle takes, ≤ 0.55 × 6°


def test_stance_runs_labels_intervals():
    ids, n = stance_runs(np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], bool))
    assert n == 3
    assert ids.tolist() == [-1, 0, 0, -1, -1, 1, -1, 2, 2, 2]


def test_angular_momentum_splits_into_trunk_rotation_and_legs():
    body = Body.of(1.7, 65.0)
    rng = np.random.default_rng(0)
    q, qd, qdd = rng.normal(size=(3, 6, 9))
    kin = kinematics(body, q, qd, qdd)
    com, vcom, _ = centre_of_mass(body, kin)
    r = kin.com_pos.numpy() - com[:, None]
    v = kin.com_vel.numpy() - vcom[:, None]
    direct = kin.omega.numpy() @ body.segment_inertia + (
        (r[..., 0] * v[..., 1] - r[..., 1] * v[..., 0]) @ body.segment_mass
    )
    legs = q.copy(), qd.copy(), qdd.copy()
    for a in legs:
        a[:, 2] = 0.0
    inertia, _, h, _ = angular_momentum_terms(body, kinematics(body, *legs))
    np.testing.assert_allclose(direct, inertia * qd[:, 2] + h, atol=1e-12)
