"""Forward speed from the foot IMUs: zero-velocity stride integration (planar ZUPT).

Once per stride a foot stands on the ground, in mid-stance (Foxlin 2005, shoe-mounted
inertial navigation). Between two mid-stances of one foot the sagittal motion of its
sensor is integrated; the stride's length over its duration is the speed:

1. **Mid-stance** (causal): the stillness score |ω| + 2·| |a| − g | / g of
   :func:`edge.mounting.gait._mid_stances`, both terms averaged over ``still_window_s``.
   After a swing (averaged |gyr_z| above ``swing_rate_rad_s``) the foot's stillest
   sample that is at most ``max_still_score`` and at most ``other_foot_ratio`` times
   the other foot's score (at a mid-stance the other foot swings; a still instant early
   or late in a swing has the other foot on the ground), confirmed once no stiller one
   came for ``confirm_s``, then for ``confirm_stride_fraction`` × the shortest of the
   last three strides (a false still instant of the swing is at most ~0.6 of a stride
   before the true mid-stance; the next mid-stance a stride after it).
2. **Orientation**: ψ₀ = atan2(a_x, a_y) at the first mid-stance (a still sensor's
   specific force is (0, g) in the world), ψ = ψ₀ + ∫ gyr_z dt (trapezoidal), less the
   gyroscope's bias: the foot is back at the same angle at its next mid-stance, so the
   gyroscope's angle minus the accelerometer's change of ψ₀, per second, averaged over
   this foot's last ``bias_strides`` strides, is the bias.
3. **Velocity**: the specific force (a_x, a_y) turned into the world by R(ψ),
   integrated, and the linear drift removed so that it is zero at both mid-stances
   (gravity, a constant accelerometer bias and a constant error of ψ₀ are such a drift).
4. **Length**: D = ∫ v dt. A constant error of ψ₀ (the accelerations of a foot that is
   not quite still, the strap's sagittal mounting) only turns D, and on level ground the
   true displacement is horizontal, so the stride length is |D|. The foot rolls over its
   contact point at mid-stance: a sensor ``sensor_height_m`` above the ground moves
   forward at −ω·h there, which adds −h·(ω₀ + ω₁)/2·T to the length.

Strides are skipped when they last less than ``min_stride_s`` or more than
``max_stride_s``, hold a missing sample (NaN) of the foot, turn (|stride-mean pelvis
gyr_y| > ``max_yaw_rate_rad_s``, with a pelvis sensor), when their mean specific force is
not g within ``max_gravity_error`` (a bad mid-stance), or when the displacement leaves
the level (the stride-mean specific force's normal) by more than ``max_tilt_deg``:
stairs, steep slopes, walking backwards. A treadmill belt is an inertial frame: the
method measures the belt speed there.

Published (:attr:`StrideSpeed.speed_m_s`): None until a stride is accepted; then the
median of the last ``strides_averaged`` accepted strides of both feet; 0.0 once every
foot sensor is present and none has swung for ``standing_s`` (standing; the strides are
forgotten, walking off starts afresh); None again when the latest accepted stride is
older than ``max_age_s`` without standing (sensors missing, a long turn), so that the
caller falls back to its own estimate.

One definition: :func:`stride_speeds` streams a recording through :class:`StrideSpeed`.
NumPy and ``math`` only; per step a handful of scalar operations per foot and one row
copy into a preallocated ring; the integration runs once per stride.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

log = logging.getLogger(__name__)

#: Gravity, m/s² (as :mod:`edge.mounting.settings`).
G = 9.81
#: Foot sensors, by the recording's sensor names.
FEET: tuple[str, ...] = ("foot_r", "foot_l")
#: Sensor whose gyr_y (the trunk's long axis) is the turning rate.
PELVIS = "pelvis"
#: Why a stride was skipped ("ok": accepted), the keys of :attr:`StrideSpeed.counts`.
REASONS: tuple[str, ...] = (
    "ok",
    "too short",
    "too long",
    "missing samples",
    "turning",
    "mean force not g",
    "not level",
)
#: Bounds of the confirmation delay of a mid-stance, s.
CONFIRM_BOUNDS_S = (0.2, 1.5)


class StrideSpeedSettings(BaseModel):
    """Thresholds of :class:`StrideSpeed` (SI units)."""

    model_config = ConfigDict(extra="forbid")

    still_window_s: float = Field(
        0.1, gt=0.0, description="averaging of |gyr_z| and of the stillness score"
    )
    swing_rate_rad_s: float = Field(
        3.0, gt=0.0, description="averaged |gyr_z| above this: the foot swings"
    )
    max_still_score: float = Field(
        10.0, gt=0.0, description="a mid-stance's stillness score is at most this"
    )
    other_foot_ratio: float = Field(
        0.6, gt=0.0, description="a mid-stance's score is at most this times the other foot's"
    )
    confirm_s: float = Field(
        0.45, gt=0.0, description="no stiller sample within this after a mid-stance (at first)"
    )
    confirm_stride_fraction: float = Field(
        0.65,
        gt=0.0,
        lt=1.0,
        description="then: no stiller sample within this × the shortest of the last 3 strides",
    )
    min_stride_s: float = Field(0.4, gt=0.0, description="shorter strides are skipped")
    max_stride_s: float = Field(2.2, gt=0.0, description="longer strides are skipped")
    max_yaw_rate_rad_s: float = Field(
        0.35, ge=0.0, description="|stride-mean pelvis gyr_y| above this: turning, skipped"
    )
    max_gravity_error: float = Field(
        0.15, gt=0.0, description="stride-mean specific force within this fraction of g"
    )
    max_tilt_deg: float = Field(
        20.0, gt=0.0, le=90.0, description="stride displacement off level, at most (deg)"
    )
    bias_strides: int = Field(
        8, ge=0, description="gyr_z bias: mean angle closure of the last strides (0: off)"
    )
    sensor_height_m: float = Field(
        0.07, ge=0.0, description="foot sensor above the ground at mid-stance (rolling)"
    )
    strides_averaged: int = Field(4, ge=1, description="published: median of the last strides")
    standing_s: float = Field(
        2.5, gt=0.0, description="no foot swung for this long (sensors present): speed 0"
    )
    max_age_s: float = Field(
        6.0, gt=0.0, description="latest accepted stride older than this: None (not standing)"
    )

    @model_validator(mode="after")
    def _stride_limits(self) -> StrideSpeedSettings:
        if self.min_stride_s >= self.max_stride_s:
            raise ValueError(
                f"min_stride_s ({self.min_stride_s}) must be below max_stride_s "
                f"({self.max_stride_s})"
            )
        return self


@dataclass(frozen=True)
class StrideRecord:
    """One judged stride: ``speed_m_s`` None when skipped, ``reason`` one of
    :data:`REASONS`; ``tilt_deg`` its displacement off level, ``gravity_ratio`` its mean
    specific force / g, ``yaw_rate_rad_s`` its mean pelvis gyr_y (NaN: not computed)."""

    foot: str
    start_s: float
    duration_s: float
    speed_m_s: float | None
    reason: str
    tilt_deg: float = math.nan
    gravity_ratio: float = math.nan
    yaw_rate_rad_s: float = math.nan


def _odd(n: float) -> int:
    """The odd integer ≥ 1 nearest to ``n``."""
    return max(1, round(n) | 1)


class _MovingMean:
    """Mean of the last ``width`` values, NaN until full or while the window holds a NaN
    (Python scalars: cheaper than NumPy for one value)."""

    __slots__ = ("_bad", "_i", "_n", "_ring", "_sum", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self.reset()

    def reset(self) -> None:
        self._ring = [0.0] * self.width
        self._i = 0
        self._n = 0  # values seen, up to width
        self._sum = 0.0
        self._bad = 0  # NaNs in the window

    def push(self, x: float) -> float:
        old = self._ring[self._i]
        if old != old:
            self._bad -= 1
        else:
            self._sum -= old
        self._ring[self._i] = x
        if x != x:
            self._bad += 1
        else:
            self._sum += x
        self._i = (self._i + 1) % self.width
        if self._n < self.width:
            self._n += 1
            if self._n < self.width:
                return math.nan
        return math.nan if self._bad else self._sum / self.width


class _Foot:
    """Mid-stance detection state of one foot sensor."""

    __slots__ = (
        "anchor",
        "armed",
        "cand",
        "cand_score",
        "closures",
        "col",
        "last_swing",
        "name",
        "now",
        "other",
        "rate",
        "spin",
        "wobble",
    )

    def __init__(self, name: str, col: int, width: int, bias_strides: int) -> None:
        self.name = name
        self.col = col
        self.spin = _MovingMean(width)  # |gyr_z|, rad/s
        self.wobble = _MovingMean(width)  # | |a| − g |, m/s²
        self.closures: deque[float] = deque(maxlen=max(1, bias_strides))  # rad/s
        self.other: _Foot = self
        self.reset()

    def reset(self) -> None:
        self.spin.reset()
        self.wobble.reset()
        self.closures.clear()
        self.anchor: int | None = None  # sample index of the last mid-stance
        self.armed = False  # a swing since the last mid-stance: look for the next
        self.cand = -1  # stillest sample since then
        self.cand_score = math.inf
        self.last_swing = -1
        self.now = math.nan  # stillness score, averaged, of the sample ``lag`` steps ago
        self.rate = math.nan  # |gyr_z| averaged likewise, rad/s


class StrideSpeed:
    """Streaming stride speed of one wearer (see the module doc).

    Args:
        sensors: the (S,) sensor names of the IMU rows given to :meth:`step`; at least
            one of ``foot_r``, ``foot_l``; ``pelvis`` (optional) for the turning check.
        sample_rate_hz: the step rate (Hz).
        settings: thresholds; None: the defaults.

    Attributes:
        counts: strides judged per reason (:data:`REASONS`).
        last: the latest judged stride, or None.
        on_stride: called with each judged :class:`StrideRecord` (diagnostics), or None.

    Raises:
        ValueError: no foot sensor, or a sample rate ≤ 0.
    """

    def __init__(
        self,
        sensors: Sequence[str],
        sample_rate_hz: float,
        settings: StrideSpeedSettings | None = None,
    ) -> None:
        sensors = list(sensors)
        if not sample_rate_hz > 0 or not math.isfinite(sample_rate_hz):
            raise ValueError(f"stride speed needs a sample rate > 0 Hz, got {sample_rate_hz}")
        cfg = settings or StrideSpeedSettings()
        self.settings = cfg
        self.sample_rate_hz = float(sample_rate_hz)
        rate = self.sample_rate_hz
        width = _odd(cfg.still_window_s * rate)
        self._lag = width // 2  # the averages belong to the sample this far back
        self._feet = [
            _Foot(name, sensors.index(name), width, cfg.bias_strides)
            for name in FEET
            if name in sensors
        ]
        if not self._feet:
            raise ValueError(f"stride speed needs a foot sensor ({' or '.join(FEET)})")
        if len(self._feet) == 2:  # with one foot it is its own other: the test is void
            self._feet[0].other, self._feet[1].other = self._feet[1], self._feet[0]
        self._pelvis = sensors.index(PELVIS) if PELVIS in sensors else None
        # the ring holds a stride, the confirmation delay after it and the averages' lag
        confirm_max = math.ceil(CONFIRM_BOUNDS_S[1] * rate)
        self._cap = math.ceil(cfg.max_stride_s * rate) + confirm_max + self._lag + 4
        self._ring = np.full((self._cap, len(sensors), 6), np.nan)
        self._t = np.arange(self._cap) / rate  # s
        self._standing_n = max(1, round(cfg.standing_s * rate))
        self._max_age_n = max(1, round(cfg.max_age_s * rate))
        self._min_n = cfg.min_stride_s * rate
        self._max_n = cfg.max_stride_s * rate
        self.on_stride: Callable[[StrideRecord], None] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget everything: :attr:`speed_m_s` is None until the next accepted stride."""
        self._k = 0  # samples seen
        self._ring.fill(np.nan)
        for foot in self._feet:
            foot.reset()
        self._still_run = 0  # consecutive samples with every foot present and not swinging
        self._strides: deque[float] = deque(maxlen=self.settings.strides_averaged)
        self._durations: deque[int] = deque(maxlen=3)  # of plausible strides, samples
        self._confirm = max(1, round(self.settings.confirm_s * self.sample_rate_hz))
        self._last_stride_k: int | None = None
        self._speed: float | None = None
        self._standing = False
        self.counts: dict[str, int] = dict.fromkeys(REASONS, 0)
        self.last: StrideRecord | None = None

    @property
    def speed_m_s(self) -> float | None:
        """Published forward speed (m/s): None before the first accepted stride and when
        the latest is older than ``max_age_s``; 0.0 when standing."""
        return self._speed

    @property
    def standing(self) -> bool:
        """Every foot sensor present and not swinging for ``standing_s``."""
        return self._standing

    def step(self, imu_row: np.ndarray) -> float | None:
        """One (S, 6) sample [acc x, y, z m/s², gyro x, y, z rad/s] in the sensors' own
        axes (NaN for missing); returns :attr:`speed_m_s`."""
        k = self._k
        self._ring[k % self._cap] = imu_row
        cfg = self.settings
        for foot in self._feet:
            ax, ay, az, _, _, wz = imu_row[foot.col].tolist()
            foot.rate = foot.spin.push(abs(wz))
            wobble = foot.wobble.push(abs(math.sqrt(ax * ax + ay * ay + az * az) - G))
            foot.now = foot.rate + (2.0 / G) * wobble  # NaN from any missing channel
        all_still = True
        for foot in self._feet:
            score = foot.now
            if foot.rate > cfg.swing_rate_rad_s:
                foot.armed = True
                foot.last_swing = k
                all_still = False
            elif foot.rate != foot.rate:
                all_still = False  # missing: not known to stand
            elif (
                foot.armed
                and score < foot.cand_score
                and score <= cfg.max_still_score
                and not score > cfg.other_foot_ratio * foot.other.now
            ):
                foot.cand, foot.cand_score = k - self._lag, score
            if foot.cand >= 0 and k - foot.cand >= self._confirm:
                m = foot.cand
                foot.cand, foot.cand_score = -1, math.inf
                foot.armed = foot.last_swing > m  # a swing since: the next search is on
                self._mid_stance(foot, m, k)
            if foot.anchor is not None and k - foot.anchor >= self._cap - 1:
                foot.anchor = None  # too long ago: the ring no longer holds it
        self._still_run = self._still_run + 1 if all_still else 0
        self._k = k + 1
        if self._still_run >= self._standing_n:
            if not self._standing:
                self._standing = True
                self._strides.clear()
                self._last_stride_k = None
            self._speed = 0.0
        else:
            self._standing = False
            if self._last_stride_k is None or k - self._last_stride_k > self._max_age_n:
                self._speed = None
        return self._speed

    def _mid_stance(self, foot: _Foot, m: int, k: int) -> None:
        """A confirmed mid-stance ``m`` of ``foot`` (now ``k``): judge the stride since
        the foot's previous one and make ``m`` the next stride's start."""
        a, foot.anchor = foot.anchor, m
        if a is None:
            return
        h = 1.0 / self.sample_rate_hz
        n = m - a
        if n < self._min_n:
            rec = StrideRecord(foot.name, a * h, n * h, None, "too short")
        elif n > self._max_n:
            rec = StrideRecord(foot.name, a * h, n * h, None, "too long")
        else:
            self._durations.append(n)
            lo, hi = CONFIRM_BOUNDS_S
            frac = self.settings.confirm_stride_fraction
            confirm_s = min(max(frac * min(self._durations) * h, lo), hi)
            self._confirm = max(1, round(confirm_s * self.sample_rate_hz))
            rec = self._integrate(foot, a, m)
        self.counts[rec.reason] += 1
        self.last = rec
        if self.on_stride is not None:
            self.on_stride(rec)
        if rec.speed_m_s is None:
            log.debug("stride of %s at %.2f s skipped: %s", foot.name, a * h, rec.reason)
            return
        self._strides.append(rec.speed_m_s)
        self._last_stride_k = k
        self._speed = statistics.median(self._strides)

    def _integrate(self, foot: _Foot, a: int, m: int) -> StrideRecord:
        """The stride [a, m] (sample indices) of ``foot`` integrated and judged."""
        cfg = self.settings
        h = 1.0 / self.sample_rate_hz
        n = m - a + 1
        t_s = (n - 1) * h
        start, stop = a % self._cap, m % self._cap + 1
        if start < stop:  # a view of the ring
            s = self._ring[start:stop]
        else:  # wrapped around its end
            s = np.concatenate([self._ring[start:], self._ring[:stop]])
        ax, ay, wz = s[:, foot.col, 0], s[:, foot.col, 1], s[:, foot.col, 5]
        tilt = gravity_ratio = yaw_rate = math.nan

        def judged(speed: float | None, reason: str) -> StrideRecord:
            return StrideRecord(foot.name, a * h, t_s, speed, reason, tilt, gravity_ratio, yaw_rate)

        if not math.isfinite(float(ax.sum() + ay.sum() + wz.sum())):
            return judged(None, "missing samples")
        if self._pelvis is not None:
            yaw = s[:, self._pelvis, 4]
            yaw_rate = float(yaw.sum()) / n
            if yaw_rate != yaw_rate:  # a pelvis sample missing: the ones there are
                yaw = yaw[np.isfinite(yaw)]
                yaw_rate = float(yaw.mean()) if yaw.size else math.nan
            if abs(yaw_rate) > cfg.max_yaw_rate_rad_s:
                return judged(None, "turning")
        t = self._t[:n]  # 0, h, 2h, ... s
        psi = np.empty(n)
        psi[0] = math.atan2(ax[0], ay[0])  # a still sensor: specific force (0, g)
        np.cumsum(0.5 * h * (wz[1:] + wz[:-1]), out=psi[1:])
        psi[1:] += psi[0]
        if cfg.bias_strides:
            # the foot is back at the same angle: the gyroscope's angle beyond the
            # accelerometer's, per second, is its bias (averaged over strides)
            closure = psi[-1] - math.atan2(ax[-1], ay[-1])
            foot.closures.append(((closure + math.pi) % (2.0 * math.pi) - math.pi) / t_s)
            psi -= (sum(foot.closures) / len(foot.closures)) * t
        c, sn = np.cos(psi), np.sin(psi)
        v = np.empty(n)
        v[0] = 0.0
        disp, mean_f = [], []
        for f in (c * ax - sn * ay, sn * ax + c * ay):  # world specific force (x, y)
            np.cumsum(0.5 * h * (f[1:] + f[:-1]), out=v[1:])
            end_v = float(v[-1])
            mean_f.append(end_v / t_s)
            # v − end_v·t/T is zero at both mid-stances (gravity, biases, ψ₀'s error);
            # its trapezoidal integral
            disp.append(h * (float(v.sum()) - 0.5 * end_v) - 0.5 * end_v * t_s)
        dx, dy = disp
        # level: the stride-mean specific force is (0, g) in the world (the foot moves at
        # the same velocity at both mid-stances); in the ψ₀ frame it points up
        up = math.atan2(dy, dx) + math.atan2(mean_f[0], mean_f[1])
        tilt = math.degrees((up + math.pi) % (2.0 * math.pi) - math.pi)
        gravity_ratio = math.hypot(*mean_f) / G
        if abs(gravity_ratio - 1.0) > cfg.max_gravity_error:
            return judged(None, "mean force not g")
        if abs(tilt) > cfg.max_tilt_deg:
            return judged(None, "not level")
        rolling = -cfg.sensor_height_m * 0.5 * (float(wz[0]) + float(wz[-1])) * t_s
        return judged((math.hypot(dx, dy) + rolling) / t_s, "ok")


def stride_speeds(
    imu: np.ndarray,
    sensors: Sequence[str],
    sample_rate_hz: float,
    settings: StrideSpeedSettings | None = None,
) -> np.ndarray:
    """What :class:`StrideSpeed` publishes at each sample of a recording.

    Args:
        imu: (N, S, 6) IMU samples [acc m/s², gyro rad/s] in the sensors' own axes.
        sensors: the (S,) sensor names. sample_rate_hz: rate of the samples (Hz).

    Returns:
        (N,) speed, m/s; NaN where it is None.
    """
    est = StrideSpeed(sensors, sample_rate_hz, settings)
    out = np.full(imu.shape[0], np.nan)
    for i in range(imu.shape[0]):
        v = est.step(imu[i])
        if v is not None:
            out[i] = v
    return out
