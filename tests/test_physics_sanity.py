"""Physical sanity: standing still, free fall, IMU at rest, passive moments, contact terms."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from train.physics import (
    COORDINATES,
    SENSORS,
    BodyParameters,
    ContactConsistencyParameters,
    contact_consistency_terms,
    contact_equation_residual,
    forward_kinematics,
    generalized_drag_force,
    grf_per_foot,
    kane_residual,
    passive_moments,
    penalty_contact_forces,
    physics_loss_terms,
    virtual_imu,
)
from train.physics.reference import load_reference

G = 9.81


@pytest.fixture(scope="module", params=["float64", "float32"])
def params(request):
    return BodyParameters.from_height_mass(1.8, 75.0, dtype=request.param)


def _standing(params, body_weights: float, steps: int = 4):
    """Upright pose (all angles 0), heels and toes on the ground, at rest.

    The foot CoMs sit 0.0768 m ahead of the ankles and everything else is vertically
    above the hip, so with zero joint moments the contact forces of each foot must
    carry half the body weight with their centre of pressure at
    x_c = m_foot * 0.0768 / (M / 2) ahead of the ankle."""
    dt = params.dtype.as_numpy_dtype
    lengths = params.segment_length.numpy()
    heel, toe = params.contact_local.numpy()[:2]
    q = np.zeros((steps, 9), dt)
    q[:, 1] = lengths[1] + lengths[2] - heel[1]  # contact points at y = 0
    zeros = np.zeros_like(q)
    m_foot, mass = params.segment_mass.numpy()[3], float(params.mass)
    x_c = m_foot * params.segment_com.numpy()[3, 0] / (mass / 2)
    per_foot = body_weights * mass * G / 2
    f_toe = per_foot * (x_c - heel[0]) / (toe[0] - heel[0])
    forces = np.zeros((steps, 4, 2), dt)
    forces[:, [0, 2], 1] = per_foot - f_toe
    forces[:, [1, 3], 1] = f_toe
    return q, zeros, zeros, np.zeros((steps, 6), dt), forces


def test_standing_still_balances_exactly_with_one_body_weight(params) -> None:
    q, qd, qdd, moments, forces = _standing(params, 1.0)
    kin = forward_kinematics(q, qd, qdd, params)
    np.testing.assert_allclose(kin.contact_pos.numpy()[..., 1], 0.0, atol=1e-6)
    res = kane_residual(q, qd, qdd, moments, forces, params).numpy()
    atol = 1e-9 if params.dtype == tf.float64 else 2e-4
    np.testing.assert_allclose(res, 0.0, atol=atol)
    grf = grf_per_foot(forces / (75.0 * G)).numpy()
    np.testing.assert_allclose(grf[..., 1].sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("body_weights", [0.0, 0.5, 0.9, 1.1, 1.5])
def test_standing_still_is_unbalanced_with_other_loads(params, body_weights: float) -> None:
    q, qd, qdd, moments, forces = _standing(params, body_weights)
    res = kane_residual(q, qd, qdd, moments, forces, params).numpy()
    bw = 75.0 * G
    # pelvis_ty: the missing (or excess) support, exactly
    np.testing.assert_allclose(res[:, 1], (1.0 - body_weights) * bw, rtol=1e-5, atol=1e-3)
    assert abs(res[0, 1]) >= 0.09 * bw
    np.testing.assert_allclose(res[:, 0], 0.0, atol=1e-3)
    # the joints see the wrong support as moments too (knee: the foot's share)
    assert np.max(np.abs(res[:, 3:])) > 0.01


def test_free_fall_has_zero_residual(params) -> None:
    dt = params.dtype.as_numpy_dtype
    rng = np.random.default_rng(1)
    q = rng.normal(0.0, 0.6, (2, 5, 9)).astype(dt)
    qd = np.zeros_like(q)
    qd[..., 0], qd[..., 1] = 1.3, -0.7  # translating, not rotating
    qdd = np.zeros_like(q)
    qdd[..., 1] = -G
    zero_m, zero_f = np.zeros((2, 5, 6), dt), np.zeros((2, 5, 4, 2), dt)
    res = kane_residual(q, qd, qdd, zero_m, zero_f, params).numpy()
    atol = 1e-9 if params.dtype == tf.float64 else 1e-3
    np.testing.assert_allclose(res, 0.0, atol=atol)
    # every accelerometer reads zero specific force in free fall; gyros read zero
    imu = virtual_imu(q, qd, qdd, params, SENSORS, np.full((7, 2), 0.05, dt)).numpy()
    np.testing.assert_allclose(imu, 0.0, atol=1e-9 if params.dtype == tf.float64 else 1e-5)
    # not falling (q̈ = 0) and unsupported: pelvis_ty residual is the body weight
    res0 = kane_residual(q, qd, np.zeros_like(q), zero_m, zero_f, params).numpy()
    np.testing.assert_allclose(res0[..., 1], 75.0 * G, rtol=1e-6)
    # with air drag the falling, moving body is no longer force-free
    res_d = kane_residual(q, qd, qdd, zero_m, zero_f, params, air_drag=True)
    drag = generalized_drag_force(forward_kinematics(q, qd, qdd, params))
    np.testing.assert_allclose(res_d.numpy(), -drag.numpy(), atol=atol)
    speed = np.hypot(1.3, 0.7)
    assert float(drag[0, 0, 0]) == pytest.approx(-0.2128 * speed * 1.3, rel=1e-5)


def test_imu_at_rest_reads_gravity_on_upright_axes(params) -> None:
    q, qd, qdd, _, _ = _standing(params, 1.0, steps=2)
    imu = virtual_imu(q, qd, qdd, params, SENSORS, np.zeros((7, 2))).numpy()
    np.testing.assert_allclose(imu[..., 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(imu[..., 1], G, rtol=1e-6)
    # tilt the trunk backward (+pelvis_tilt): part of gravity shows on its x axis
    q2 = q.copy()
    q2[:, 2] = 0.3
    imu2 = virtual_imu(q2, qd, qdd, params, ["pelvis"], np.zeros((1, 2))).numpy()
    # R(θ)ᵀ(0, g) = (g sin θ, g cos θ): a backward-tilted trunk reads +x
    np.testing.assert_allclose(imu2[..., 0, 0], G * np.sin(0.3), rtol=1e-5)
    np.testing.assert_allclose(imu2[..., 0, 1], G * np.cos(0.3), rtol=1e-5)


def test_gyro_is_absolute_segment_angular_velocity(params) -> None:
    dt = params.dtype.as_numpy_dtype
    qd = np.zeros((1, 9), dt)
    qd[0, 2:] = [0.1, 1.0, -2.0, 3.0, 0.5, 0.25, -0.75]
    imu = virtual_imu(np.zeros_like(qd), qd, np.zeros_like(qd), params, SENSORS, np.zeros((7, 2)))
    expected = [0.1, 1.1, -0.9, 2.1, 0.6, 0.85, 0.1]  # sums from pelvis_tilt down the chain
    np.testing.assert_allclose(imu.numpy()[0, :, 2], expected, rtol=1e-6)


def test_passive_moments() -> None:
    q = np.zeros((3, 9))
    q[0, 3:] = np.deg2rad([20.0, -30.0, 10.0, 150.0, -150.0, -55.0])
    q[1, 4] = 0.0  # knee at full extension (its upper limit): -K2 * D / 2
    q[2, 4] = np.deg2rad(10.0)  # hyper-extended knee: strongly negative (flexing)
    qd = np.zeros_like(q)
    qd[0, 3:] = 2.0
    m = passive_moments(q, qd).numpy()

    def softpos(x):
        return 0.5 * (x + np.sqrt(x * x + np.deg2rad(2.0) ** 2))

    lo = np.deg2rad([-90.0, -160.0, -60.0] * 2)
    hi = np.deg2rad([160.0, 0.0, 60.0] * 2)
    expected = -5000.0 * (softpos(q[:, 3:] - hi) - softpos(lo - q[:, 3:])) - 0.01 * qd[:, 3:]
    np.testing.assert_allclose(m, expected, rtol=1e-10, atol=1e-12)
    assert m[1, 1] == pytest.approx(-5000 * np.deg2rad(2.0) / 2, rel=1e-2)  # about -87 N·m
    assert m[2, 1] < -800.0
    assert abs(m[0, 0]) < 0.5  # well inside the range: small
    assert m[0, 3] < -5.0 and m[0, 4] > 5.0 and m[0, 5] > 1.0  # 10° from limits: push back
    # joint angles only (..., 6) give the same moments
    np.testing.assert_allclose(passive_moments(q[:, 3:], qd[:, 3:]).numpy(), m)


def test_contact_consistency_terms_penalise_the_right_things() -> None:
    # point 0: 1 BW on the ground, at rest, inside the cone -> ~0 everywhere
    pos = np.zeros((1, 4, 2))
    vel = np.zeros((1, 4, 2))
    forces = np.zeros((1, 4, 2))
    forces[0, 0] = [0.2, 1.0]

    def terms(p, v, f):
        return {k: float(t.numpy()[0]) for k, t in contact_consistency_terms(p, v, f).items()}

    ok = terms(pos, vel, forces)
    assert all(value < 0.2 for value in ok.values()), ok
    air = pos.copy()
    air[0, 0, 1] = 0.05  # 5 cm above the ground while loaded
    assert terms(air, vel, forces)["off_ground"] > 4.0
    slide = vel.copy()
    slide[0, 0, 0] = 0.5  # sliding at 0.5 m/s under 1 BW
    assert terms(pos, slide, forces)["sliding"] > 4.0
    outside = forces.copy()
    outside[0, 0, 0] = 1.5  # |Fx| = 1.5 BW > mu * Fy = 1 BW
    assert terms(pos, vel, outside)["friction_cone"] > 0.2
    pulling = forces.copy()
    pulling[0, 0, 1] = -0.5
    assert terms(pos, vel, pulling)["negative_normal"] > 0.2
    below = pos.copy()
    below[0, 2, 1] = -0.03
    assert terms(below, vel, forces)["penetration"] > 8.0
    for key in ("off_ground", "sliding", "friction_cone", "negative_normal"):
        assert ok[key] < 0.05, (key, ok[key])


def test_compliant_contact_lets_force_rise_before_and_into_the_ground() -> None:
    params = ContactConsistencyParameters(compliance_m_per_bw=0.004, touchdown_band_m=0.004)
    forces = np.zeros((1, 4, 2))
    vel = np.zeros((1, 4, 2))

    def at(height: float, fy: float) -> dict[str, float]:
        pos = np.zeros((1, 4, 2))
        pos[0, 0, 1] = height
        f = forces.copy()
        f[0, 0, 1] = fy
        out = contact_consistency_terms(pos, vel, f, params)
        return {k: float(v.numpy()[0]) for k, v in out.items()}

    # 0.2 BW with the heel still 3 mm up: allowed (band 4 mm − 0.8 mm sink); rigid: not.
    assert at(0.003, 0.2)["off_ground"] < 0.02
    pos = np.zeros((1, 4, 2))
    pos[0, :, 1] = [0.003, 0.5, 0.5, 0.5]
    f = forces.copy()
    f[0, 0, 1] = 0.2
    assert float(contact_consistency_terms(pos, vel, f)["off_ground"][0]) > 0.05
    # 2.5 BW must be carried 6 mm deep (10 mm sink − 4 mm band): at the surface it pays,
    # and 8 mm deep is penetration it may have, not a rigid-ground violation.
    assert at(0.0, 2.5)["off_ground"] > 1.0
    assert at(-0.008, 2.5)["off_ground"] < 0.05
    assert at(-0.008, 2.5)["penetration"] < 0.01
    assert at(-0.008, 0.0)["penetration"] > 0.5


def test_no_slip_from_gyroscopes_sees_the_pelvis_speed_not_the_models_joint_rates() -> None:
    """With the measured segment angular velocities, the stance foot's velocity equals
    the exact kinematics on the reference stride, and a network that slows its stance
    leg in q̇ (hip rates biased by 0.55 rad/s) cannot hide a pelvis that is 0.5 m/s slow:
    the loaded points then slide by 0.5 m/s."""
    ref = load_reference()
    p = ref.body_parameters(tf.float64)
    forces = tf.constant(ref.contact_force_n)
    kin = forward_kinematics(ref.q, ref.qd, ref.qdd, p)
    gyr = ref.imu[..., 2]
    np.testing.assert_allclose(
        kin.contact_vel_given_omega(gyr).numpy(), kin.contact_vel.numpy(), atol=1e-6
    )
    slow = ref.qd.copy()
    slow[:, 0] -= 0.5
    slow[:, [3, 6]] += 0.55  # ≈ 0.5 m/s over a 0.9 m stance leg
    loaded = ref.contact_force_bw[..., 1] > 0.2

    def slide(from_gyro: bool, imu: np.ndarray = ref.imu) -> float:
        out = physics_loss_terms(
            ref.q, slow, ref.qdd, ref.moments, forces, p,
            sensor_segments=SENSORS, sensor_positions=ref.sensor_positions,
            measured_imu=imu, gyro_no_slip=True,
        )  # fmt: skip
        term = out["gyro_no_slip" if from_gyro else "sliding"]
        return float(np.mean(term.numpy()[loaded.any(axis=1)]))

    kin_slow = forward_kinematics(ref.q, slow, ref.qdd, p)
    v = kin_slow.contact_vel_given_omega(gyr).numpy()[..., 0]
    np.testing.assert_allclose(v[loaded], kin.contact_vel.numpy()[..., 0][loaded] - 0.5, atol=1e-6)
    assert slide(True) > 5 * slide(False)
    # Gyroscopes missing (NaN): the model's own rates, as without the option.
    missing = ref.imu.copy()
    missing[:, :, 2] = np.nan
    np.testing.assert_allclose(slide(True, missing), slide(False), rtol=1e-3)


def test_reference_contact_equations_on_constructed_states() -> None:
    # On the ground the normal equation needs Fy = λn / (2 s yc); in the air Fy must be 0.
    yc = np.array([[0.001, 0.002, 0.1, 0.05]])
    fy = 0.1 / (2 * 200.0 * yc)
    forces = np.stack([np.zeros_like(fy), fy], axis=-1)
    pos = np.stack([np.zeros_like(yc), yc], axis=-1)
    res = contact_equation_residual(pos, np.zeros_like(yc), forces).numpy()
    np.testing.assert_allclose(res, 0.0, atol=1e-12)
    # Sliding forward fast under load: friction is -mu Fy (opposes the motion).
    fy = np.full((1, 4), 1.0)
    forces = np.stack([-fy, fy], axis=-1)
    res = contact_equation_residual(pos, np.full((1, 4), 2.0), forces).numpy()
    np.testing.assert_allclose(res[..., 1], 0.0, atol=5e-3)


def test_penalty_contact_model_supports_a_standing_body() -> None:
    pos = np.zeros((2, 4, 2))
    pos[:, :, 1] = [-0.001839, -0.001839, 0.02, 0.02]  # right foot pressed 1.8 mm, left up
    vel = np.zeros_like(pos)
    vel[1, :, 0] = 0.2  # second frame slides forward
    f = penalty_contact_forces(pos, vel).numpy()
    assert f[0, 0, 1] == pytest.approx(1e5 * 0.001839 * 1.0, rel=0.02)  # ~ 184 N per point
    assert np.all(f[:, 2:, 1] < 0.05)  # lifted foot carries (next to) nothing
    assert f[1, 0, 0] == pytest.approx(-f[1, 0, 1] * np.tanh(0.2 / 0.05), rel=1e-6)


def test_coordinate_order_is_the_documented_one() -> None:
    assert COORDINATES == (
        "pelvis_tx",
        "pelvis_ty",
        "pelvis_tilt",
        "hip_flexion_r",
        "knee_angle_r",
        "ankle_angle_r",
        "hip_flexion_l",
        "knee_angle_l",
        "ankle_angle_l",
    )


def test_bench_step_runs_and_gives_finite_gradients() -> None:
    """The compiled loss+gradient used by ``make bench`` works (tiny size; no timing)."""
    from train.physics.bench import make_step

    step, inputs = make_step(batch=2, steps=8)
    total, grads = step(*inputs)
    assert np.isfinite(float(total)) and float(total) > 0.0
    assert len(grads) == 6
    for g, x in zip(grads, inputs, strict=False):
        assert g.shape == x.shape and np.all(np.isfinite(g.numpy()))
        assert float(tf.reduce_max(tf.abs(g))) > 0.0
