"""The in-memory recording: time, IMU channels per sensor, optional ground truth, sidecar."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.recording.schema import IMU_CHANNELS, PLANAR_CHANNEL_INDEX, Sidecar, imu_column


@dataclass(frozen=True, eq=False)
class Recording:
    """One recording.

    Attributes:
        time_s: (N,) sample times in s, strictly increasing.
        sensors: names of the S sensors present, in column order.
        imu: (N, S, 6) float64; per sensor acc_x, acc_y, acc_z (m/s², specific force,
            gravity included) and gyr_x, gyr_y, gyr_z (rad/s), in segment axes.
            NaN marks a missing sample.
        truth: ground-truth columns, name -> (N,) float64 (units in ``schema.TRUTH_COLUMNS``).
        meta: the sidecar.
        path: the CSV this was read from, if any.
    """

    time_s: np.ndarray
    sensors: tuple[str, ...]
    imu: np.ndarray
    meta: Sidecar
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        n = self.time_s.shape[0]
        if self.time_s.ndim != 1:
            raise ValueError(f"time_s must be (N,), got {self.time_s.shape}")
        if self.imu.shape != (n, len(self.sensors), len(IMU_CHANNELS)):
            raise ValueError(f"imu must be (N={n}, S={len(self.sensors)}, 6), got {self.imu.shape}")
        for name, values in self.truth.items():
            if values.shape != (n,):
                raise ValueError(f"truth {name!r} must be ({n},), got {values.shape}")
        missing = [s for s in self.sensors if s not in self.meta.sensors]
        if missing:
            raise ValueError(f"sensors {missing} have no placement in the sidecar")

    @property
    def n_samples(self) -> int:
        return int(self.time_s.shape[0])

    @property
    def sample_rate_hz(self) -> float:
        return self.meta.sample_rate_hz

    @property
    def is_mean_cycle(self) -> bool:
        """True for a one-mean-gait-cycle file (periodic: tile it before use)."""
        return self.meta.samples_per_cycle is not None and self.meta.samples_per_cycle == len(
            self.time_s
        )

    @property
    def columns(self) -> list[str]:
        """CSV header for this recording."""
        cols = ["time_s"]
        cols += [imu_column(s, c) for s in self.sensors for c in IMU_CHANNELS]
        cols += list(self.truth)
        return cols

    def planar_imu(self) -> np.ndarray:
        """(N, S, 3) float64: acc_x, acc_y (m/s²) and gyr_z (rad/s) per sensor."""
        return self.imu[:, :, list(PLANAR_CHANNEL_INDEX)]

    def channel(self, sensor: str, channel: str) -> np.ndarray:
        """(N,) one IMU channel, e.g. ``rec.channel("foot_r", "gyr_z")``."""
        return self.imu[:, self.sensors.index(sensor), IMU_CHANNELS.index(channel)]

    def without_truth(self) -> Recording:
        """The same recording with every ground-truth column removed (what training sees)."""
        return Recording(self.time_s, self.sensors, self.imu, self.meta, {}, self.path)
