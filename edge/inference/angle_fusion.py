"""Joint angles from the sensors' gravity-anchored orientations, the network as fallback.

In the planar model every joint angle is the difference of two absolute segment angles
(``body-model.md``: thigh = pelvis + hip, shank = thigh + knee, foot = shank + ankle), and
the pelvis tilt is the trunk's own angle. Each sensor's world orientation ψ is measured
directly (:mod:`edge.inference.segment_orientation`: the gyroscope's integral, its
constant and drift fixed by gravity in the stride-averaged specific force), and the
segment's angle is θ = ψ − β once its mounting β is known (``edge.mounting``: a standing
capture, or the functional calibration from gait). So::

    hip_r = θ(femur_r) − θ(pelvis),   pelvis_tilt = θ(pelvis),   ...

Neither the posture the network learned nor its stride-rate shape errors enter: the
angles are as good as the mounting and the sensors. On the bundled and held-out data
this is 2.6° RMSE where the network's own angles give 5–13° (docs/calibration.md §6).

The network still matters: while a sensor's sample is missing (NaN), its orientation
turns by the network's estimate of that segment's rotation, so the published angles
stay continuous through a gap and gravity takes over again when the sensor returns; a
sensor that has never delivered a sample leaves its joints to the network.

One definition, used by the device (:class:`edge.inference.Estimator`), the evaluation
and the converter's parity check (:func:`fuse_angles`). NumPy only.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Sequence

import numpy as np

from edge.inference.segment_orientation import SegmentOrientation
from edge.output_spec import ANGLE_CHANNELS

#: Default time constant (s) of the orientation loop; 0 or None switches the fusion
#: off (the network's angles). It settles in about 3τ of gait.
DEFAULT_TAU_S = 2.5

#: For each published angle channel: (distal sensor, proximal sensor or None).
ANGLE_SENSORS: dict[str, tuple[str, str | None]] = {
    "pelvis_tilt": ("pelvis", None),
    "hip_flexion_r": ("femur_r", "pelvis"),
    "knee_angle_r": ("tibia_r", "femur_r"),
    "ankle_angle_r": ("foot_r", "tibia_r"),
    "hip_flexion_l": ("femur_l", "pelvis"),
    "knee_angle_l": ("tibia_l", "femur_l"),
    "ankle_angle_l": ("foot_l", "tibia_l"),
}

_DEG = 180.0 / math.pi


class AngleFusion:
    """Streaming joint angles from the sensors' orientations.

    Args:
        sensors: the (S,) sensor names of the IMU rows given to :meth:`step`.
        sample_rate_hz: the step rate (Hz).
        tau_s: time constant (s) of the orientation loop; must be > 0.
        mounting_rad: (S,) the mounting β still in the rows (rad, ``sensors`` order;
            rows in segment axes: None, zeros).

    Raises:
        ValueError: a sensor an angle needs is not in ``sensors``, or ``tau_s`` ≤ 0.
    """

    def __init__(
        self,
        sensors: Sequence[str],
        sample_rate_hz: float,
        tau_s: float,
        mounting_rad: np.ndarray | Sequence[float] | None = None,
    ) -> None:
        if not tau_s > 0 or not math.isfinite(tau_s):
            raise ValueError(f"angle fusion time constant must be > 0 s, got {tau_s}")
        sensors = list(sensors)
        missing = sorted(
            {s for pair in ANGLE_SENSORS.values() for s in pair if s and s not in sensors}
        )
        if missing:
            raise ValueError(f"angle fusion needs the sensors {missing}")
        n_s, n_a = len(sensors), len(ANGLE_CHANNELS)
        self.orientation = SegmentOrientation(n_s, sample_rate_hz, tau_s)
        self.tau_s = float(tau_s)
        distal = [sensors.index(ANGLE_SENSORS[c][0]) for c in ANGLE_CHANNELS]
        # the proximal segment's slot; slot S holds the phasor 1 (angle 0: the pelvis tilt)
        proximal = [
            n_s if ANGLE_SENSORS[c][1] is None else sensors.index(ANGLE_SENSORS[c][1])
            for c in ANGLE_CHANNELS
        ]
        self._pairs = list(zip(distal, proximal, strict=True))
        # segment angle (rad) = chain @ published angles (deg): pelvis + hip + knee + ...
        # (ANGLE_CHANNELS lists every proximal joint before its distal ones)
        chain = np.zeros((n_s + 1, n_a))
        for j in range(n_a):
            chain[distal[j]] = chain[proximal[j]] + np.eye(n_a)[j]
        self._chain = chain[:n_s] / _DEG
        self._n_s = n_s
        self._beta = np.zeros(n_s)
        self._eb: list[complex] = [1.0 + 0.0j] * n_s
        self.set_mounting(mounting_rad)
        self._zs: list[complex] = [1.0 + 0.0j] * (n_s + 1)
        self._net_prev: list[float] | None = None

    def set_mounting(self, mounting_rad: np.ndarray | Sequence[float] | None) -> None:
        """The (S,) mounting β (rad) still in the rows from the next step on (None: 0)."""
        n = self._n_s
        beta = np.zeros(n) if mounting_rad is None else np.asarray(mounting_rad, np.float64)
        if beta.shape != (n,):
            raise ValueError(f"mounting has {beta.shape} angles for {n} sensors")
        self._beta = beta.copy()
        self._eb = [cmath.exp(-1j * float(b)) for b in beta]  # replaced as one reference

    @property
    def mounting_phasors(self) -> list[complex]:
        """(S,) e^{−iβ} of the mounting being subtracted (segment θ = ψ − β)."""
        return self._eb

    @property
    def bias_deg_s(self) -> np.ndarray:
        """(S,) the learnt gyroscope z rate bias of each sensor (deg/s)."""
        return self.orientation.bias_rad_s * _DEG

    def reset(self) -> None:
        """Forget the state: orientations start again from the next samples."""
        self.orientation.reset()
        self._net_prev = None

    def step(
        self, angles_deg: np.ndarray, imu_row: np.ndarray, row_finite: bool | None = None
    ) -> np.ndarray:
        """Publish one step's angles in place.

        Args:
            angles_deg: (7,) the network's angles (deg); overwritten with the published ones.
            imu_row: (S, 6) acc (m/s²) and gyro (rad/s) of each sensor, NaN when missing,
                in the axes :meth:`set_mounting` describes.
            row_finite: True when every value of ``imu_row`` is known to be finite (the
                feature assembler's check); otherwise each sensor is checked.

        Returns:
            ``angles_deg``.
        """
        orient = self.orientation
        net = angles_deg.tolist()
        if row_finite is True and orient.all_started:
            z = orient.step(imu_row, True)
        else:
            net_now = np.asarray(net, dtype=np.float64)
            delta = seed = None
            if self._net_prev is not None:
                delta = self._chain @ (net_now - np.asarray(self._net_prev))
            if not orient.all_started:  # the network's segment angles plus the mounting
                seed = self._chain @ net_now + self._beta
            z = orient.step(imu_row, row_finite, delta, seed)
        self._net_prev = net
        zs, eb = self._zs, self._eb
        for k in range(self._n_s):
            zs[k] = z[k] * eb[k]
        out = [
            math.atan2(q.imag, q.real) * _DEG
            for q in (zs[d] * zs[p].conjugate() for d, p in self._pairs)
        ]
        if not orient.all_started:  # joints of a sensor that never delivered: the network's
            started = [*orient._started, True]
            out = [
                o if started[d] and started[p] else n
                for o, n, (d, p) in zip(out, net, self._pairs, strict=True)
            ]
        angles_deg[:] = out
        return angles_deg


def fuse_angles(
    angles_deg: np.ndarray,
    imu: np.ndarray,
    sensors: Sequence[str],
    sample_rate_hz: float,
    tau_s: float | None = DEFAULT_TAU_S,
    mounting_rad: np.ndarray | Sequence[float] | None = None,
) -> np.ndarray:
    """The published angles of a whole sequence, streamed from a reset state.

    Args:
        angles_deg: (N, 7) the network's published angles (deg).
        imu: (N, S, 6) acc (m/s²) and gyro (rad/s) per sensor, ``sensors`` order.
        tau_s: time constant (s); None or 0 returns a copy of ``angles_deg``.
        mounting_rad: (S,) the mounting still in ``imu`` (rad); None: segment axes.

    Returns:
        (N, 7) angles (deg), a new float32 array (the device's precision).
    """
    out = np.array(angles_deg, dtype=np.float32, copy=True)
    if not tau_s:
        return out
    fusion = AngleFusion(sensors, sample_rate_hz, tau_s, mounting_rad)
    rows = np.asarray(imu, dtype=np.float64)
    for i in range(out.shape[0]):
        fusion.step(out[i], rows[i])
    return out
