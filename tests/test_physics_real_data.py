"""Real data: the model's segment angular velocities from P01's ground-truth joint angles
against the recorded gyroscopes (docs/body-model.md: 0.85-0.97 expected)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from edge.recording import read_recording
from train.physics import SENSORS, BodyParameters, virtual_imu

LEG_SENSORS = ("femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l")


def spectral_derivative(x: np.ndarray, dt: float, order: int) -> np.ndarray:
    """Exact derivative of a periodic band-limited signal sampled over one period."""
    n = x.shape[0]
    k = 2.0 * np.pi * np.fft.fftfreq(n, d=dt)
    factor = (1j * k) ** order
    if n % 2 == 0:
        factor[n // 2] = 0.0  # Nyquist bin has no sign: drop it
    return np.real(np.fft.ifft(np.fft.fft(x) * factor))


@pytest.fixture(scope="module")
def correlations(p01_walking_csv: Path) -> dict[str, float]:
    rec = read_recording(p01_walking_csv)
    n, dt = rec.n_samples, rec.meta.sample_period_s
    assert rec.is_mean_cycle and n == 100
    half = n // 2  # left leg = right leg half a cycle later (L_HS at sample 50)
    q, qd, qdd = (np.zeros((n, 9)) for _ in range(3))
    for j, joint in enumerate(("hip_flexion", "knee_angle", "ankle_angle")):
        right = rec.truth[f"{joint}_r"]
        for col, signal in ((3 + j, right), (6 + j, np.roll(right, half))):
            q[:, col] = signal
            qd[:, col] = spectral_derivative(signal, dt, 1)
            qdd[:, col] = spectral_derivative(signal, dt, 2)
    speed = rec.meta.speed_m_s
    q[:, 0], qd[:, 0] = speed * rec.time_s, speed  # pelvis moves at the trial speed
    q[:, 1] = 0.9  # height and pelvis tilt (0) do not affect the gyroscopes
    params = BodyParameters.from_height_mass(
        rec.meta.participant.height_m, rec.meta.participant.mass_kg, dtype=tf.float64
    )
    positions = np.array([rec.meta.sensors[s].position_m[:2] for s in SENSORS])
    imu = virtual_imu(q, qd, qdd, params, SENSORS, positions).numpy()
    recorded = rec.planar_imu()
    return {
        s: float(
            np.corrcoef(imu[:, SENSORS.index(s), 2], recorded[:, rec.sensors.index(s), 2])[0, 1]
        )
        for s in LEG_SENSORS
    }


def test_virtual_gyro_correlates_with_recorded_gyro(correlations: dict[str, float]) -> None:
    # measured: femur_r 0.899, tibia_r 0.982, foot_r 0.967, femur_l 0.832, tibia_l 0.974,
    # foot_l 0.939; mean 0.932
    assert min(correlations.values()) >= 0.8, correlations
    assert np.mean(list(correlations.values())) >= 0.9, correlations


def test_a_sign_error_would_be_caught(p01_walking_csv: Path) -> None:
    """Negative control: the recorded gyro does NOT correlate with the negated or the
    unshifted-left-leg model signal (so the test above can fail)."""
    rec = read_recording(p01_walking_csv)
    dt = rec.meta.sample_period_s
    hip = rec.truth["hip_flexion_r"]
    thigh_rate = spectral_derivative(hip, dt, 1)
    gyr_l = rec.channel("femur_l", "gyr_z")
    assert np.corrcoef(-np.roll(thigh_rate, 50), gyr_l)[0, 1] < -0.5
    assert np.corrcoef(thigh_rate, gyr_l)[0, 1] < 0.0
