"""Analytic derivatives: GradientTape vs central finite differences (float64), and the
model's exact velocities / accelerations vs finite differences along a trajectory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import tensorflow as tf

from train.physics import (
    SENSORS,
    forward_kinematics,
    kane_residual,
    load_reference,
    physics_loss_terms,
    point_kinematics,
    unit_weight_total,
    virtual_imu,
)

H = 1e-6  # finite-difference step (inputs are O(0.1 .. 1000))
# The loss is O(1) with gradients down to ~1e-6 w.r.t. moments and forces (normalised by
# BW·BH and BW): a larger step keeps the round-off (~1e-16 / h) well below 1e-4 of them;
# the loss is quadratic in those inputs (and in the sensor positions), so central
# differences have no truncation error there. q, q-dot, q-ddot keep the small step.
H_LOSS = 1e-4
REL_TOL = 1e-4


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    """A generic state: 3 reference rows with random perturbations (no symmetry)."""
    ref = load_reference()
    rng = np.random.default_rng(7)
    rows = [5, 38, 71]
    return {
        "q": ref.q[rows] + 0.05 * rng.standard_normal((3, 9)),
        "qd": ref.qd[rows] + 0.3 * rng.standard_normal((3, 9)),
        "qdd": ref.qdd[rows] + 2.0 * rng.standard_normal((3, 9)),
        "moments": ref.moments[rows] + 5.0 * rng.standard_normal((3, 6)),
        "forces": ref.contact_force_n[rows] + 20.0 * rng.standard_normal((3, 4, 2)),
        "positions": ref.sensor_positions + 0.02 * rng.standard_normal((7, 2)),
        "measured": ref.imu[rows] + rng.standard_normal((3, 7, 3)),
    }


@pytest.fixture(scope="module")
def params():
    return load_reference().body_parameters(tf.float64)


def _jacobian_check(
    fn: Callable[..., tf.Tensor], inputs: dict[str, np.ndarray], wrt: str, h: float = H
) -> float:
    """Max over the Jacobian of |J_tape - J_fd| / max|J_fd|, plus an elementwise check.

    All perturbed copies are evaluated in one batched call (the model is batched)."""
    x0 = inputs[wrt]
    xt = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = fn(**{**inputs, wrt: xt})
    jac = tape.jacobian(out, xt).numpy()
    jac = jac.reshape(int(np.prod(out.shape)), x0.size)

    n = x0.size
    eye = np.eye(n).reshape((n, *x0.shape))
    stacked = np.concatenate([x0[None] + h * eye, x0[None] - h * eye])  # (2n, *x.shape)
    batched = {}
    for name, value in inputs.items():
        if name == wrt:
            batched[name] = stacked
        elif name == "positions":  # (S, 2) broadcasts over any batch
            batched[name] = value
        else:
            batched[name] = np.broadcast_to(value, (2 * n, *value.shape))
    f = fn(**batched).numpy().reshape(2 * n, -1)
    fd = ((f[:n] - f[n:]) / (2 * h)).T  # (outputs, n)

    scale = np.max(np.abs(fd))
    assert scale > 0, f"no sensitivity to {wrt}: the check would be vacuous"
    err = np.abs(jac - fd)
    # elementwise: each entry relative to itself, floored at 1e-3 of the largest entry
    floor = np.maximum(np.abs(fd), 1e-3 * scale)
    assert np.max(err / floor) <= 10 * REL_TOL, (wrt, float(np.max(err / floor)))
    return float(np.max(err) / scale)


def _residual(params):
    def fn(q, qd, qdd, moments, forces, **_):
        return kane_residual(q, qd, qdd, moments, forces, params, air_drag=True)

    return fn


def _imu(params):
    def fn(q, qd, qdd, positions, **_):
        return virtual_imu(q, qd, qdd, params, SENSORS, positions)

    return fn


@pytest.mark.parametrize("wrt", ["q", "qd", "qdd", "moments", "forces"])
def test_residual_gradients_match_finite_differences(state, params, wrt: str) -> None:
    rel = _jacobian_check(_residual(params), state, wrt)
    assert rel <= REL_TOL, rel


@pytest.mark.parametrize("wrt", ["q", "qd", "qdd", "positions"])
def test_virtual_imu_gradients_match_finite_differences(state, params, wrt: str) -> None:
    rel = _jacobian_check(_imu(params), state, wrt)
    assert rel <= REL_TOL, rel


@pytest.mark.parametrize("wrt", ["q", "qd", "qdd", "moments", "forces", "positions"])
def test_physics_loss_gradient_matches_finite_differences(state, params, wrt: str) -> None:
    def fn(q, qd, qdd, moments, forces, positions, measured):
        # the loss is a scalar per batch element when evaluated with a leading batch axis
        def one(*args):
            total = unit_weight_total(
                physics_loss_terms(
                    *args[:5],
                    params,
                    sensor_segments=SENSORS,
                    sensor_positions=args[5],
                    measured_imu=args[6],
                )
            )
            return total

        q = tf.convert_to_tensor(q)
        if q.shape.rank == 2:
            return one(q, qd, qdd, moments, forces, positions, measured)[None]
        return tf.stack(
            [
                one(q[i], qd[i], qdd[i], moments[i], forces[i], positions, measured[i])
                for i in range(q.shape[0])
            ]
        )

    if wrt == "positions":
        # positions are shared by the batch in fn; perturb them one at a time instead
        base = dict(state)
        x0 = base["positions"]
        xt = tf.constant(x0)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = fn(**{**base, "positions": xt})[0]
        grad = tape.gradient(out, xt).numpy().ravel()
        fd = []
        for i in range(x0.size):
            e = np.zeros(x0.size)
            e[i] = H_LOSS
            plus = fn(**{**base, "positions": x0 + e.reshape(x0.shape)})[0]
            minus = fn(**{**base, "positions": x0 - e.reshape(x0.shape)})[0]
            fd.append(float(plus - minus) / (2 * H_LOSS))
        fd = np.array(fd)
        assert np.max(np.abs(fd)) > 0
        assert np.max(np.abs(grad - fd)) / np.max(np.abs(fd)) <= REL_TOL
        return
    small = {k: (v[:2] if k not in ("positions",) else v) for k, v in state.items()}
    rel = _jacobian_check(fn, small, wrt, h=H if wrt in ("q", "qd", "qdd") else H_LOSS)
    assert rel <= REL_TOL, rel


def test_velocities_and_accelerations_are_exact_time_derivatives(params) -> None:
    """Along q(t) = a + b sin(w t + phi) the model's velocities / accelerations of joint
    centres, CoMs, contact and sensor points equal finite differences of its positions."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 0.3, 9), rng.normal(0, 0.3, 9)
    w, phi = rng.uniform(2, 8, 9), rng.uniform(0, 6, 9)
    t = np.array([0.1, 0.37, 0.8])
    dt = 1e-5

    def state(tt):
        arg = w * tt[:, None] + phi
        return a + b * np.sin(arg), b * w * np.cos(arg), -b * w * w * np.sin(arg)

    kin = forward_kinematics(*state(t), params)
    kp = forward_kinematics(*state(t + dt), params)
    km = forward_kinematics(*state(t - dt), params)
    pos_local = np.array([[0.03, -0.1], [0.1, 0.02]])
    for name in ("origin", "com", "contact"):
        p0 = getattr(kin, f"{name}_pos").numpy()
        v0 = getattr(kin, f"{name}_vel").numpy()
        a0 = getattr(kin, f"{name}_acc").numpy()
        pp, pm = getattr(kp, f"{name}_pos").numpy(), getattr(km, f"{name}_pos").numpy()
        np.testing.assert_allclose(v0, (pp - pm) / (2 * dt), atol=1e-6 * max(1, np.abs(v0).max()))
        np.testing.assert_allclose(
            a0, (pp - 2 * p0 + pm) / dt**2, atol=2e-3 * max(1, np.abs(a0).max())
        )
        vp, vm = getattr(kp, f"{name}_vel").numpy(), getattr(km, f"{name}_vel").numpy()
        np.testing.assert_allclose(a0, (vp - vm) / (2 * dt), atol=1e-6 * max(1, np.abs(a0).max()))
    _, sv, sa = point_kinematics(kin, ["tibia_l", "foot_r"], pos_local)
    spp = point_kinematics(kp, ["tibia_l", "foot_r"], pos_local)
    spm = point_kinematics(km, ["tibia_l", "foot_r"], pos_local)
    np.testing.assert_allclose(sv, (spp[0] - spm[0]) / (2 * dt), atol=1e-6 * np.abs(sv).max())
    np.testing.assert_allclose(sa, (spp[1] - spm[1]) / (2 * dt), atol=1e-6 * np.abs(sa).max())
    # the virtual accelerometer is the sensor point's acceleration (plus g) in segment axes
    imu = virtual_imu(*state(t), params, ["tibia_l", "foot_r"], pos_local).numpy()
    theta = kin.angle.numpy()[:, [5, 3]]
    acc = sa.numpy() + np.array([0.0, 9.81])
    c, s = np.cos(theta), np.sin(theta)
    np.testing.assert_allclose(imu[..., 0], c * acc[..., 0] + s * acc[..., 1], atol=1e-10)
    np.testing.assert_allclose(imu[..., 1], -s * acc[..., 0] + c * acc[..., 1], atol=1e-10)
