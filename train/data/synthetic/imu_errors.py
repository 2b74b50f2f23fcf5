"""IMU error model (imusim-style chain) applied to ideal sensor signals.

For each sensor, in its own (mounted) frame, both triads (accelerometer m/s²,
gyroscope rad/s) go through:

    true → scale and cross-axis error → + bias (constant + random walk) → + white noise
         → saturation at the full-scale range → ADC quantisation (2^bits codes over ±range)

Default parameters are typical datasheet values of MEMS IMUs used in wearables (TDK
InvenSense MPU-6050 and ICM-20948, ST LSM6DSOX); the table with every source value is in
``docs/synthetic-data.md``:

* noise density: accelerometer 150 µg/√Hz (MPU-6050 400, ICM-20948 230, LSM6DSOX 70),
  gyroscope 0.01 °/s/√Hz (MPU-6050 0.005, ICM-20948 0.015, LSM6DSOX 0.0038);
* constant bias, std: accelerometer 20 mg (zero-g offset ±50 / ±25 / ±20 mg), gyroscope
  0.3 °/s left after the static gyro calibration the edge device applies (raw zero-rate
  offset ±20 / ±5 / ±1 °/s);
* bias drift (random walk): 0.1 mg/√s and 0.01 °/s/√s, i.e. the temperature coefficients
  (±0.15 mg/°C LSM6DSOX, ±0.05 °/s/°C ICM-20948) over a few °C within minutes;
* scale error 1 % and cross-axis sensitivity 1 % std (±3 % / ±0.5-1.5 % and ±2 %);
* range ±16 g and ±2000 °/s, 16-bit: steps of range / 32768 (0.49 mg, 0.061 °/s).

White-noise standard deviation per sample is ``density · sqrt(rate / 2)`` (the band up
to Nyquist). The drifts are random walks whose standard deviation grows as
``rate_of_walk · sqrt(t)``.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

#: Standard gravity used to convert g and mg, m/s².
G0 = 9.80665
_DEG = np.pi / 180.0


class ImuErrorModel(BaseModel):
    """Error parameters of every sensor (each sensor draws its own random errors)."""

    model_config = ConfigDict(extra="forbid")

    acc_noise_density_ug_rthz: float = Field(150.0, ge=0.0, description="µg/√Hz")
    gyr_noise_density_dps_rthz: float = Field(0.01, ge=0.0, description="°/s/√Hz")
    acc_bias_mg: float = Field(20.0, ge=0.0, description="std of the constant bias, mg")
    gyr_bias_dps: float = Field(0.3, ge=0.0, description="std of the constant bias, °/s")
    acc_bias_walk_mg_rts: float = Field(0.1, ge=0.0, description="bias random walk, mg/√s")
    gyr_bias_walk_dps_rts: float = Field(0.01, ge=0.0, description="bias random walk, °/s/√s")
    scale_error_pct: float = Field(1.0, ge=0.0, description="std of the scale error, %")
    cross_axis_pct: float = Field(1.0, ge=0.0, description="std of the cross-axis terms, %")
    acc_range_g: float = Field(16.0, gt=0.0, description="full-scale range ±, g")
    gyr_range_dps: float = Field(2000.0, gt=0.0, description="full-scale range ±, °/s")
    adc_bits: int = Field(16, ge=2, le=32, description="ADC resolution, bits")
    quantise: bool = True

    @classmethod
    def ideal(cls) -> ImuErrorModel:
        """No error at all (still saturates at the range; no quantisation)."""
        return cls(
            acc_noise_density_ug_rthz=0.0,
            gyr_noise_density_dps_rthz=0.0,
            acc_bias_mg=0.0,
            gyr_bias_dps=0.0,
            acc_bias_walk_mg_rts=0.0,
            gyr_bias_walk_dps_rts=0.0,
            scale_error_pct=0.0,
            cross_axis_pct=0.0,
            quantise=False,
        )

    @property
    def acc_range_m_s2(self) -> float:
        return self.acc_range_g * G0

    @property
    def gyr_range_rad_s(self) -> float:
        return self.gyr_range_dps * _DEG

    def acc_step_m_s2(self) -> float:
        """Quantisation step of the accelerometer, m/s² (range / 2^(bits-1))."""
        return self.acc_range_m_s2 / 2 ** (self.adc_bits - 1)

    def gyr_step_rad_s(self) -> float:
        """Quantisation step of the gyroscope, rad/s (range / 2^(bits-1))."""
        return self.gyr_range_rad_s / 2 ** (self.adc_bits - 1)

    def noise_std(self, rate_hz: float) -> tuple[float, float]:
        """White-noise std per sample: accelerometer (m/s²), gyroscope (rad/s)."""
        band = np.sqrt(rate_hz / 2.0)
        return (
            self.acc_noise_density_ug_rthz * 1e-6 * G0 * band,
            self.gyr_noise_density_dps_rthz * _DEG * band,
        )


def _triad(
    rng: np.random.Generator,
    true: np.ndarray,
    dt: float,
    scale_pct: float,
    cross_pct: float,
    bias: float,
    walk: float,
    noise: float,
    full_range: float,
    step: float | None,
) -> np.ndarray:
    """(N, 3) measured triad from (N, 3) true values (all in the triad's SI unit)."""
    n = true.shape[0]
    m = np.eye(3) + np.diag(rng.normal(0.0, scale_pct / 100.0, 3))
    off = rng.normal(0.0, cross_pct / 100.0, (3, 3))
    m += off - np.diag(np.diag(off))
    out = true @ m.T
    out += rng.normal(0.0, bias, 3) if bias > 0 else 0.0
    if walk > 0:
        out += np.cumsum(rng.normal(0.0, walk * np.sqrt(dt), (n, 3)), axis=0)
    if noise > 0:
        out += rng.normal(0.0, noise, (n, 3))
    out = np.clip(out, -full_range, full_range)
    if step is not None:
        out = np.clip(np.round(out / step) * step, -full_range, full_range - step)
    return out


def apply_imu_errors(
    true: np.ndarray, rate_hz: float, model: ImuErrorModel, rng: np.random.Generator
) -> np.ndarray:
    """Measured (N, S, 6) from true (N, S, 6) signals: acc x, y, z (m/s²), gyr x, y, z
    (rad/s) in each sensor's frame; every sensor draws its own errors from ``rng``."""
    dt = 1.0 / rate_hz
    acc_noise, gyr_noise = model.noise_std(rate_hz)
    out = np.empty_like(true)
    for s in range(true.shape[1]):
        out[:, s, :3] = _triad(
            rng,
            true[:, s, :3],
            dt,
            model.scale_error_pct,
            model.cross_axis_pct,
            model.acc_bias_mg * 1e-3 * G0,
            model.acc_bias_walk_mg_rts * 1e-3 * G0,
            acc_noise,
            model.acc_range_m_s2,
            model.acc_step_m_s2() if model.quantise else None,
        )
        out[:, s, 3:] = _triad(
            rng,
            true[:, s, 3:],
            dt,
            model.scale_error_pct,
            model.cross_axis_pct,
            model.gyr_bias_dps * _DEG,
            model.gyr_bias_walk_dps_rts * _DEG,
            gyr_noise,
            model.gyr_range_rad_s,
            model.gyr_step_rad_s() if model.quantise else None,
        )
    return out
