"""The body model against the bundled reference stride (exact to machine precision)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from train.physics import (
    SENSORS,
    TOLERANCES,
    BodyParameters,
    forward_kinematics,
    grf_per_foot,
    kane_residual,
    load_reference,
    normalise_residual,
    verify_reference,
    virtual_imu,
)
from train.physics.verify import evaluate_reference


@pytest.fixture(scope="module")
def ref():
    return load_reference()


@pytest.fixture(scope="module")
def out64(ref):
    return evaluate_reference(ref, tf.float64)


@pytest.fixture(scope="module")
def out32(ref):
    return evaluate_reference(ref, tf.float32)


def test_reference_file_is_what_we_expect(ref) -> None:
    assert ref.rows == 100
    assert ref.q.shape == (100, 9) and ref.imu.shape == (100, 7, 3)
    # The stride's own residual column says it satisfies the equations to ~1e-7.
    assert ref.eom_residual_max is not None and np.max(ref.eom_residual_max) < 1e-5


def test_float64_residual_within_acceptance(ref, out64) -> None:
    res = out64["residual"]
    assert res.shape == (100, 9)
    assert np.max(np.abs(res)) <= 1e-3  # acceptance
    assert np.max(np.abs(res)) <= 1e-5  # what we measure (~5e-7): guards regressions


def test_float32_residual_within_acceptance(out32) -> None:
    assert np.max(np.abs(out32["residual"])) <= 0.5
    assert np.max(np.abs(out32["residual"])) <= 0.01  # measured ~1.3e-4 N


def test_virtual_imu_matches_reference(ref, out64, out32) -> None:
    err64 = np.abs(out64["imu"] - ref.imu)
    err32 = np.abs(out32["imu"] - ref.imu)
    assert np.max(err64) <= 1e-4
    assert np.max(err32[..., :2]) <= TOLERANCES["float32"].imu_acc
    assert np.max(err32[..., 2]) <= TOLERANCES["float32"].imu_gyr
    # the signals are not trivially small: accelerations reach tens of m/s²
    assert np.max(np.abs(ref.imu[..., :2])) > 10.0


def test_contact_equations_hold_on_reference(out64) -> None:
    eq = out64["contact_eq"]
    assert eq.shape == (100, 4, 2)
    assert np.max(np.abs(eq)) <= 1e-5


def test_contact_equations_detect_violation(ref) -> None:
    from train.physics import contact_equation_residual

    forces = ref.contact_force_bw.copy()
    forces[:, :, 1] += 0.1  # 0.1 BW more normal force everywhere
    eq = contact_equation_residual(ref.contact_pos, ref.contact_velocity_x(), forces).numpy()
    assert np.max(np.abs(eq[..., 0])) > 0.01


def test_air_drag_generalized_force_matches(ref, out64) -> None:
    assert np.max(np.abs(out64["drag"] - ref.drag_gen_force)) <= 1e-8
    assert np.max(np.abs(ref.drag_gen_force)) > 0.1  # drag is really present


def test_normalised_residual_and_verify_report(out64) -> None:
    rel = out64["residual_rel"]
    scale = np.array([735.75] * 2 + [735.75 * 1.8] * 7)
    np.testing.assert_allclose(rel, out64["residual"] / scale, rtol=1e-12, atol=0)
    report = verify_reference(dtype="float64")
    assert report.ok and report.rows == 100
    assert report.max_residual_n == pytest.approx(np.max(np.abs(out64["residual"])))


def test_parameters_scaled_from_height_mass_equal_sidecar(ref) -> None:
    scaled = BodyParameters.from_height_mass(1.8, 75.0, dtype=tf.float64)
    explicit = ref.body_parameters(tf.float64)
    for name in ("segment_mass", "segment_length", "segment_com", "segment_inertia"):
        np.testing.assert_allclose(getattr(scaled, name), getattr(explicit, name), atol=1e-12)
    np.testing.assert_allclose(scaled.contact_local, explicit.contact_local, atol=1e-12)
    assert float(scaled.body_weight) == pytest.approx(735.75)
    assert float(scaled.segment_inertia[0]) == pytest.approx(3.177718, abs=1e-6)


def test_moment_sign_enters_residual_with_minus(ref) -> None:
    """τ is on the right-hand side: +1 N·m more knee moment lowers that residual by 1."""
    params = ref.body_parameters(tf.float64)
    base = dict(contact_points=ref.contact_pos, air_drag=True)
    moments = ref.moments.copy()
    moments[:, 1] += 1.0  # knee_angle_r
    r0 = kane_residual(ref.q, ref.qd, ref.qdd, ref.moments, ref.contact_force_n, params, **base)
    r1 = kane_residual(ref.q, ref.qd, ref.qdd, moments, ref.contact_force_n, params, **base)
    diff = (r1 - r0).numpy()
    np.testing.assert_allclose(diff[:, 4], -1.0, atol=1e-9)
    np.testing.assert_allclose(np.delete(diff, 4, axis=1), 0.0, atol=1e-9)


def test_force_application_point_matters_only_for_rotations(ref) -> None:
    """At the foot-fixed points (not the reference's contact elements) the translations
    still balance exactly, the rotations differ by the small couple (r_c - r_p) x F."""
    params = ref.body_parameters(tf.float64)
    res = kane_residual(
        ref.q, ref.qd, ref.qdd, ref.moments, ref.contact_force_n, params, air_drag=True
    ).numpy()
    assert np.max(np.abs(res[:, :2])) <= 1e-5
    assert 1e-3 < np.max(np.abs(res[:, 2:])) < 0.05
    kin = forward_kinematics(ref.q, ref.qd, ref.qdd, params)
    gap = np.abs(kin.contact_pos.numpy() - ref.contact_pos)
    assert np.max(gap) < 0.01  # elements sit within the 1e5 N/m spring deflection


def test_grf_per_foot_is_sum_of_points(ref) -> None:
    grf = grf_per_foot(ref.contact_force_bw).numpy()
    np.testing.assert_allclose(grf, ref.grf_bw, atol=1e-8)


def test_batched_time_series_and_batched_parameters(ref) -> None:
    """(B, T, 9) inputs give the row-wise results; per-sample parameters (B,) too."""
    params = ref.body_parameters(tf.float64)
    idx = np.stack([np.arange(10), np.arange(40, 50)])  # (2, 10)
    args = (ref.q[idx], ref.qd[idx], ref.qdd[idx], ref.moments[idx], ref.contact_force_n[idx])
    res = kane_residual(*args, params, contact_points=ref.contact_pos[idx], air_drag=True)
    assert res.shape == (2, 10, 9) and float(tf.reduce_max(tf.abs(res))) <= 1e-5
    imu = virtual_imu(ref.q[idx], ref.qd[idx], ref.qdd[idx], params, SENSORS, ref.sensor_positions)
    np.testing.assert_allclose(imu.numpy(), ref.imu[idx], atol=1e-6)
    # two bodies in one batch: the second is a scaled 1.6 m / 60 kg body
    both = BodyParameters.from_height_mass([1.8, 1.6], [75.0, 60.0], dtype=tf.float64)
    small = BodyParameters.from_height_mass(1.6, 60.0, dtype=tf.float64)
    rb = kane_residual(*args, both)
    r1 = kane_residual(*[a[1] for a in args], small)
    np.testing.assert_allclose(rb.numpy()[1], r1.numpy(), rtol=1e-12, atol=1e-9)
    nb = normalise_residual(rb, both).numpy()
    np.testing.assert_allclose(nb[1, :, 1], rb.numpy()[1, :, 1] / (60 * 9.81), rtol=1e-12)
    positions = np.stack([ref.sensor_positions, ref.sensor_positions + 0.01])  # (2, 7, 2)
    ib = virtual_imu(ref.q[idx], ref.qd[idx], ref.qdd[idx], params, SENSORS, positions)
    i1 = virtual_imu(ref.q[idx[1]], ref.qd[idx[1]], ref.qdd[idx[1]], params, SENSORS, positions[1])
    np.testing.assert_allclose(ib.numpy()[1], i1.numpy(), atol=1e-12)
