"""Speed programs (standing, walking, running, and the transitions between them) and the
cadence (stride duration) as a function of speed and body height.

A program is a list of :class:`Segment` (movement, speed, duration); consecutive segments
are joined by smooth (quintic, C2) ramps of ``ramp_s`` seconds, centred on the boundary, in
speed, in the walk-run blend and in the gait amplitude (0 standing, 1 walking/running).

Cadence (stride duration T, s): power laws through the reference data, with the usual
dynamic-similarity height scaling T ∝ sqrt(H):

* walking: ``T = 1.2135 (v / 1.2919)^-0.58 (H / 1.73)^0.5`` — through P01 (1.29 m/s,
  1.2135 s); gives 1.50 s at 0.9 m/s and 1.05 s at 1.65 m/s, within the ranges reported
  for slow and fast walking (stride frequency ∝ v^0.4..0.6, stride length ∝ v^0.42 in
  Grieve & Gear 1966; Dean 1965); Winter (1.62 m, 1.325 m/s) is predicted at 1.16 s vs
  1.14 s recorded.
* running: ``T = 0.72 (v / 3.5)^-0.2 (H / 1.75)^0.5`` — through RBDS (3.5 m/s, ≈0.70 s)
  and P01 running (3.47 m/s, 0.73 s); stride frequency rises slowly with speed in
  endurance running (Cavanagh & Kram 1989), 0.67 s at 4.9 m/s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["stand", "walk", "run"]

#: Speed range of the random training population (m/s): walking from MIN_SPEED_M_S to
#: :func:`walk_max_m_s`, running from RUN_MIN_M_S to MAX_SPEED_M_S (uniform, so 40 % of
#: the running bouts are at 2.0-3.0 m/s).
MIN_SPEED_M_S = 0.8
MAX_SPEED_M_S = 4.5
#: Fastest walking generated, m/s, for a body of REFERENCE_HEIGHT_M (scaled with
#: sqrt(height), equal Froude number: :func:`walk_max_m_s`). Faster steps are longer than
#: this planar leg (no pelvic rotation, no toes) can make without the hip dropping
#: several centimetres in double support or the stance being cut short (measured in
#: docs/synthetic-data.md); the preferred walk-run transition is about 2.0 m/s
#: (Thorstensson & Roberthson 1987, Hreljac 1993); the random population runs from 2.0 m/s.
WALK_MAX_M_S = 1.65
#: Slowest running of the random population, m/s.
RUN_MIN_M_S = 2.0
REFERENCE_HEIGHT_M = 1.75
#: Stride frequency ∝ v^WALK_CADENCE_EXPONENT in walking (stride length ∝ v^0.42: Grieve
#: & Gear 1966).
WALK_CADENCE_EXPONENT = 0.58


class Segment(BaseModel):
    """One part of a speed program."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode
    speed_m_s: float = Field(0.0, ge=0.0, le=6.0, description="Target speed (0 for stand)")
    duration_s: float = Field(gt=0.0, description="Duration including half of each ramp")


def walking_stride_s(speed_m_s: np.ndarray, height_m: float) -> np.ndarray:
    """Walking stride duration (s) at ``speed_m_s`` (clipped to 0.6..2.6 m/s)."""
    v = np.clip(speed_m_s, 0.6, 2.6)
    return 1.2135 * (v / 1.2919) ** -WALK_CADENCE_EXPONENT * np.sqrt(height_m / 1.73)


def running_stride_s(speed_m_s: np.ndarray, height_m: float) -> np.ndarray:
    """Running stride duration (s) at ``speed_m_s`` (clipped to 1.8..6 m/s)."""
    v = np.clip(speed_m_s, 1.8, 6.0)
    return 0.72 * (v / 3.5) ** -0.2 * np.sqrt(height_m / 1.75)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Quintic ramp 0 -> 1 on [0, 1] (zero first and second derivative at both ends)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (10.0 + x * (-15.0 + 6.0 * x))


def smoothstep_derivative(x: np.ndarray) -> np.ndarray:
    """d smoothstep / dx."""
    inside = (x > 0.0) & (x < 1.0)
    x = np.clip(x, 0.0, 1.0)
    return np.where(inside, 30.0 * x * x * (1.0 - x) ** 2, 0.0)


@dataclass(frozen=True)
class ProgramSignals:
    """A program evaluated on a time grid (all (n,) arrays on ``time_s``).

    Attributes:
        time_s: s.
        speed_m_s: target forward speed, m/s.
        accel_m_s2: its time derivative, m/s².
        run_blend: 0 walking .. 1 running.
        amplitude: 0 standing .. 1 walking/running (gait amplitude).
        gait_speed_m_s: the speed whose gait pattern is used (the segment speed, also
            while ramping from or to standing), m/s.
    """

    time_s: np.ndarray
    speed_m_s: np.ndarray
    accel_m_s2: np.ndarray
    run_blend: np.ndarray
    amplitude: np.ndarray
    gait_speed_m_s: np.ndarray


def evaluate_program(
    segments: Sequence[Segment], time_s: np.ndarray, ramp_s: float = 1.5
) -> ProgramSignals:
    """Evaluate a program on ``time_s`` (starting at 0). Ramps are centred on the segment
    boundaries and shortened to fit short segments."""
    if not segments:
        raise ValueError("a speed program needs at least one segment")
    n = time_s.shape[0]
    bounds = np.cumsum([0.0] + [s.duration_s for s in segments])
    speed = np.full(n, _speed(segments[0]))
    accel = np.zeros(n)
    run = np.full(n, 1.0 if segments[0].mode == "run" else 0.0)
    amp = np.full(n, 0.0 if segments[0].mode == "stand" else 1.0)
    gait_v = np.full(n, _gait_speed(segments, 0))
    for i in range(1, len(segments)):
        prev, cur = segments[i - 1], segments[i]
        ramp = min(ramp_s, prev.duration_s, cur.duration_s)
        x = (time_s - (bounds[i] - 0.5 * ramp)) / ramp
        s, ds = smoothstep(x), smoothstep_derivative(x) / ramp
        dv = _speed(cur) - _speed(prev)
        speed += dv * s
        accel += dv * ds
        run += ((1.0 if cur.mode == "run" else 0.0) - (1.0 if prev.mode == "run" else 0.0)) * s
        amp += ((0.0 if cur.mode == "stand" else 1.0) - (0.0 if prev.mode == "stand" else 1.0)) * s
        gait_v += (_gait_speed(segments, i) - _gait_speed(segments, i - 1)) * s
    return ProgramSignals(time_s, speed, accel, np.clip(run, 0, 1), np.clip(amp, 0, 1), gait_v)


def _speed(seg: Segment) -> float:
    return 0.0 if seg.mode == "stand" else seg.speed_m_s


def _gait_speed(segments: Sequence[Segment], i: int) -> float:
    """Pattern speed of segment i; a standing segment borrows its nearest moving neighbour's."""
    seg = segments[i]
    if seg.mode != "stand":
        return seg.speed_m_s
    for j in [*range(i + 1, len(segments)), *range(i - 1, -1, -1)]:
        if segments[j].mode != "stand":
            return segments[j].speed_m_s
    return 1.2


def walk_max_m_s(height_m: float) -> float:
    """Fastest walking speed generated for a body of ``height_m`` (m), m/s."""
    return WALK_MAX_M_S * float(np.sqrt(height_m / REFERENCE_HEIGHT_M))


def mode_for_speed(speed_m_s: float, height_m: float = REFERENCE_HEIGHT_M) -> Mode:
    """Walk up to :func:`walk_max_m_s`, run above."""
    return "walk" if speed_m_s <= walk_max_m_s(height_m) else "run"


def random_program(
    rng: np.random.Generator,
    duration_s: float,
    speeds: Sequence[float] | None = None,
    *,
    height_m: float = REFERENCE_HEIGHT_M,
    stand_probability: float = 0.15,
) -> list[Segment]:
    """A varied program of about ``duration_s``: standing starts and stops, walking and
    running bouts of 6-30 s, changes of speed and walk-run transitions.

    Args:
        rng: random generator.
        duration_s: total duration, s.
        speeds: if given, bout speeds are drawn from these values (m/s) with a ±5 %
            jitter, walked up to :func:`walk_max_m_s` and run above; otherwise half the
            bouts walk at 0.8 m/s to :func:`walk_max_m_s`, half run at 2.0-4.5 m/s.
        height_m: body height (m), for the fastest walk.
        stand_probability: chance that a bout is followed by standing still.
    """
    segs: list[Segment] = []
    if rng.random() < 0.5:
        segs.append(Segment(mode="stand", duration_s=float(rng.uniform(2.0, 5.0))))
    total = sum(s.duration_s for s in segs)
    while total < duration_s:
        if speeds:
            v = float(rng.choice(np.asarray(speeds)) * rng.uniform(0.95, 1.05))
            v = float(np.clip(v, 0.5, 6.0))
        elif rng.random() < 0.5:
            v = float(rng.uniform(MIN_SPEED_M_S, walk_max_m_s(height_m)))
        else:
            v = float(rng.uniform(RUN_MIN_M_S, MAX_SPEED_M_S))
        dur = float(min(rng.uniform(6.0, 30.0), max(duration_s - total, 3.0)))
        segs.append(Segment(mode=mode_for_speed(v, height_m), speed_m_s=v, duration_s=dur))
        total += dur
        if total < duration_s - 4.0 and rng.random() < stand_probability:
            stand = float(rng.uniform(2.0, 5.0))
            segs.append(Segment(mode="stand", duration_s=stand))
            total += stand
    return segs
