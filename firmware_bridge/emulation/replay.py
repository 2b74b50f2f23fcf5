"""The data an emulated bus replays: segment-axis IMU arrays and a noise model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class ReplaySource:
    """IMU values to replay, one row per sample.

    Args:
        imu: (N, S, 6) float64 — acc_x, acc_y, acc_z (m/s², specific force, gravity
            included) and gyr_x, gyr_y, gyr_z (rad/s), in SEGMENT axes.
        names: S sensor names (recording column prefixes).
        rate_hz: sample rate of the rows (used when chips run on emulated time).
        loop: wrap around at the end (mean-cycle recordings are periodic).
    """

    def __init__(
        self, imu: np.ndarray, names: Sequence[str], rate_hz: float, loop: bool = True
    ) -> None:
        imu = np.asarray(imu, dtype=np.float64)
        if imu.ndim != 3 or imu.shape[2] != 6:
            raise ValueError(f"imu must be (N, S, 6), got {imu.shape}")
        if imu.shape[1] != len(names):
            raise ValueError(f"{imu.shape[1]} sensors in imu but {len(names)} names")
        if not np.isfinite(imu).all():
            raise ValueError("imu contains NaN/inf: an emulated chip cannot output those")
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        self.imu = imu
        self.names = tuple(names)
        self.rate_hz = float(rate_hz)
        self.loop = loop

    @property
    def n_rows(self) -> int:
        return self.imu.shape[0]

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"sensor {name!r} is not in the replayed data (have {', '.join(self.names)})"
            ) from None

    def row(self, k: int) -> int:
        """Row index of replay step ``k`` (wrapped or clamped)."""
        n = self.n_rows
        return k % n if self.loop else min(max(k, 0), n - 1)

    def row_at_time(self, t_s: float) -> int:
        """Row holding at time ``t_s`` (sample-and-hold, t = 0 is row 0)."""
        return self.row(int(np.floor(t_s * self.rate_hz + 1e-9)))


@dataclass(frozen=True, slots=True)
class ImuNoise:
    """The imusim-style chain's error terms, added in chip axes before quantisation.

    true value → + bias → + white noise (sd per sample) → ADC rounding/saturation.
    """

    acc_sd_m_s2: float = 0.0
    gyr_sd_rad_s: float = 0.0
    acc_bias_m_s2: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gyr_bias_rad_s: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def typical(cls, gyr_bias_rad_s: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> ImuNoise:
        """Roughly an MPU-6050 at 44 Hz bandwidth: 4 mg and 0.05 °/s rms."""
        return cls(acc_sd_m_s2=0.04, gyr_sd_rad_s=0.05 * np.pi / 180, gyr_bias_rad_s=gyr_bias_rad_s)

    def table(self, n: int, seed: int) -> np.ndarray:
        """(n, 6) additive error in SI units (deterministic for a seed)."""
        rng = np.random.default_rng(seed)
        out = np.empty((n, 6))
        out[:, :3] = rng.normal(0.0, 1.0, (n, 3)) * self.acc_sd_m_s2 + self.acc_bias_m_s2
        out[:, 3:] = rng.normal(0.0, 1.0, (n, 3)) * self.gyr_sd_rad_s + self.gyr_bias_rad_s
        return out
