"""IMU error model: saturation, quantisation, noise, bias, drift and scale, with numbers."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from train.data.synthetic import ImuErrorModel, apply_imu_errors
from train.data.synthetic.imu_errors import G0
from train.data.synthetic.placement import PlacementJitter, sample_placement, to_sensor_frame

RATE = 100.0


def _only(**kw) -> ImuErrorModel:
    """The ideal model with some parameters switched on."""
    return ImuErrorModel.ideal().model_copy(update=kw)


def test_ideal_model_is_identity_within_range():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 5, (500, 7, 6))  # well inside ±157 m/s² and ±34.9 rad/s
    out = apply_imu_errors(true, RATE, ImuErrorModel.ideal(), rng)
    np.testing.assert_array_equal(out, true)


def test_saturation_clips_at_the_full_scale_range():
    m = _only(quantise=False)
    true = np.zeros((4, 1, 6))
    true[:, 0, 0] = [-400.0, -100.0, 100.0, 400.0]  # m/s²: ±16 g = ±156.9
    true[:, 0, 5] = [-50.0, -10.0, 10.0, 50.0]  # rad/s: ±2000 °/s = ±34.9
    out = apply_imu_errors(true, RATE, m, np.random.default_rng(0))
    np.testing.assert_allclose(out[:, 0, 0], [-16 * G0, -100, 100, 16 * G0])
    np.testing.assert_allclose(out[:, 0, 5], [-np.radians(2000), -10, 10, np.radians(2000)])


def test_quantisation_step_is_range_over_32768():
    m = ImuErrorModel.ideal().model_copy(update={"quantise": True})
    assert m.acc_step_m_s2() == pytest.approx(16 * G0 / 32768)  # 0.488 mg
    assert m.gyr_step_rad_s() == pytest.approx(np.radians(2000) / 32768)  # 0.061 °/s
    rng = np.random.default_rng(1)
    true = rng.uniform(-50, 50, (2000, 2, 6))
    out = apply_imu_errors(true, RATE, m, rng)
    codes_acc = out[..., :3] / m.acc_step_m_s2()
    codes_gyr = out[..., 3:] / m.gyr_step_rad_s()
    np.testing.assert_allclose(codes_acc, np.round(codes_acc), atol=1e-6)
    np.testing.assert_allclose(codes_gyr, np.round(codes_gyr), atol=1e-6)
    assert np.abs(out[..., :3] - true[..., :3]).max() <= 0.5 * m.acc_step_m_s2() + 1e-12
    # 16-bit two's complement: the most positive code is 32767.
    big = np.full((1, 1, 6), 1e4)
    assert apply_imu_errors(big, RATE, m, rng)[0, 0, 0] == pytest.approx(32767 * m.acc_step_m_s2())


def test_white_noise_std_as_configured():
    m = _only(acc_noise_density_ug_rthz=150.0, gyr_noise_density_dps_rthz=0.01)
    acc_std, gyr_std = m.noise_std(RATE)
    assert acc_std == pytest.approx(150e-6 * G0 * np.sqrt(50.0))  # 0.0104 m/s²
    assert gyr_std == pytest.approx(np.radians(0.01) * np.sqrt(50.0))  # 0.00123 rad/s
    true = np.zeros((20000, 7, 6))
    out = apply_imu_errors(true, RATE, m, np.random.default_rng(2))
    assert out[..., :3].std() == pytest.approx(acc_std, rel=0.02)
    assert out[..., 3:].std() == pytest.approx(gyr_std, rel=0.02)
    assert abs(out.mean()) < 1e-4


def test_bias_is_constant_per_sensor_with_the_configured_spread():
    m = _only(acc_bias_mg=20.0, gyr_bias_dps=0.3)
    true = np.zeros((50, 400, 6))  # 400 sensors
    out = apply_imu_errors(true, RATE, m, np.random.default_rng(3))
    np.testing.assert_allclose(out.std(axis=0), 0.0, atol=1e-12)  # constant in time
    assert out[0, :, :3].std() == pytest.approx(20e-3 * G0, rel=0.1)
    assert out[0, :, 3:].std() == pytest.approx(np.radians(0.3), rel=0.1)


def test_bias_drift_grows_like_a_random_walk():
    m = _only(gyr_bias_walk_dps_rts=0.01)
    true = np.zeros((6001, 300, 6))  # 60 s, 300 sensors
    out = apply_imu_errors(true, RATE, m, np.random.default_rng(4))
    spread_60s = out[-1, :, 3:].std()
    assert spread_60s == pytest.approx(np.radians(0.01) * np.sqrt(60.0), rel=0.1)
    assert out[0, :, 3:].std() < 0.05 * spread_60s


def test_scale_and_cross_axis_errors():
    m = _only(scale_error_pct=1.0, cross_axis_pct=1.0)
    true = np.zeros((1, 500, 6))
    true[0, :, 1] = 10.0  # 10 m/s² on acc_y of 500 sensors
    out = apply_imu_errors(true, RATE, m, np.random.default_rng(5))
    assert (out[0, :, 1] / 10.0 - 1.0).std() == pytest.approx(0.01, rel=0.15)
    assert (out[0, :, 0] / 10.0).std() == pytest.approx(0.01, rel=0.15)


def test_error_model_is_strict():
    with pytest.raises(ValidationError):
        ImuErrorModel(acc_noise=1.0)
    with pytest.raises(ValidationError):
        ImuErrorModel(acc_range_g=-1.0)


def test_mounting_rotation_leaks_planar_signals_out_of_plane():
    rng = np.random.default_rng(6)
    place = sample_placement(1.75, PlacementJitter(out_of_plane_deg=5.0, in_plane_deg=5.0), rng)
    planar = np.zeros((1, 7, 3))
    planar[0, :, 1] = 9.81
    planar[0, :, 2] = 3.0
    six = to_sensor_frame(planar, place.rotation)
    # Rotations preserve magnitude; out-of-plane channels get a few percent.
    np.testing.assert_allclose(np.linalg.norm(six[0, :, :3], axis=1), 9.81)
    np.testing.assert_allclose(np.linalg.norm(six[0, :, 3:], axis=1), 3.0)
    assert 0.0 < np.abs(six[0, :, 2]).max() < 0.25 * 9.81
    none = sample_placement(1.75, PlacementJitter.none(), rng)
    np.testing.assert_allclose(to_sensor_frame(planar, none.rotation)[0, :, [2, 3, 4]], 0.0)
