"""Where on the host clock a chip's FIFO samples were taken (one estimator per chip).

A chip samples at its own oscillator: sample ``k`` (0 = first sample in the FIFO since it
was enabled) is taken at host time ``t_k = a + b·k + c`` (ns), with ``b`` the chip's
sample period measured on the host clock (nominal period × (1 − drift)) and ``c`` a small
phase correction. Each FIFO drain gives one observation: the level register read between
host times ``t_pre`` and ``t_post`` showed ``k`` as the newest sample, so

    t_k ≤ t_post   and   t_{k+1} > t_pre.

- ``a``, ``b``: exponentially weighted least squares (time constant ``tau_s``) of the
  drain mid-time minus half a period against ``k`` (weighted Welford updates, O(1) per
  drain, numerically stable for hours). This follows drift of any size (a 1 % oscillator
  error as well as ±200 ppm) and slow changes with temperature.
- ``c``: the two bounds above, taken relative to the fitted line, are intersected over
  time (the interval is widened by ``relax_ns_per_s`` per second so that it follows the
  line's wander); the estimate is the middle of the interval. Its width says how well the
  phase is known; drains that fall at different phases of the chip period narrow it to
  about the time of the level read.
- :meth:`newest_index` answers "which sample was the newest at this level read?" from
  the model alone, or ``None`` when the phase interval leaves two candidates: how an
  overflow's lost samples are counted exactly (see :mod:`firmware_bridge.fifo_acquisition`).
"""

from __future__ import annotations

import math
from collections import deque


class ChipClock:
    """Host time of a chip's samples from FIFO level observations.

    The period comes from *anchors*: every ``ANCHOR_EVERY_S`` of host time, when the
    phase interval is narrower than a quarter period, the time of the newest sample is
    stored; the period is the time between the oldest (≤ ``tau_s`` old) and the newest
    anchor over the samples between them. Unlike the least-squares slope this is not
    biased when the drains fall at a fixed phase of the chip's period.

    Args:
        nominal_period_ns: the configured output data period (ns).
        tau_s: forgetting time constant of the period fit (s).
        relax_ns_per_s: how fast the phase interval widens without new evidence.
    """

    ANCHOR_EVERY_S = 1.0
    ANCHOR_SPAN = 200  # samples between anchors before their period is used

    def __init__(
        self, nominal_period_ns: float, tau_s: float = 60.0, relax_ns_per_s: float = 50_000.0
    ) -> None:
        self.nominal_period_ns = float(nominal_period_ns)
        self.tau_ns = tau_s * 1e9
        self.relax = relax_ns_per_s * 1e-9
        self.reset()

    def reset(self) -> None:
        """Forget everything (the chip restarted: a new oscillator phase)."""
        self.n = 0
        self._w = 0.0
        self._mx = 0.0
        self._my = 0.0
        self._cxx = 0.0
        self._cxy = 0.0
        self._last_t = 0.0
        self._lo = -math.inf  # phase interval relative to the fitted line (ns)
        self._hi = math.inf
        self._anchors: deque[tuple[int, float, float]] = deque()  # (k, t_k ns, host ns)
        self._period = self.nominal_period_ns

    # ---- model --------------------------------------------------------------------------
    @property
    def period_ns(self) -> float:
        """Chip sample period on the host clock (ns) (updated by :meth:`observe`)."""
        return self._period

    def _fit_period(self) -> float:
        """From the two most distant anchors (sample times pinned by a narrow phase
        interval) once they are ``ANCHOR_SPAN`` samples apart, else the least-squares
        slope, else nominal."""
        a = self._anchors
        if len(a) >= 2 and a[-1][0] - a[0][0] >= self.ANCHOR_SPAN:
            return (a[-1][1] - a[0][1]) / (a[-1][0] - a[0][0])
        if self.n < 8 or self._cxx <= 0.0 or self._cxx < 100.0 * self._w:
            return self.nominal_period_ns
        return self._cxy / self._cxx

    @property
    def drift_ppm(self) -> float:
        """How much faster than nominal the chip runs (ppm)."""
        return (self.nominal_period_ns / self.period_ns - 1.0) * 1e6

    def _line(self, k: float) -> float:
        return self._my + self._period * (k - self._mx)

    @property
    def phase_width_ns(self) -> float:
        """Width of the phase interval (ns); inf before two consistent observations."""
        return self._hi - self._lo

    def _phase(self) -> float:
        if math.isfinite(self._lo) and math.isfinite(self._hi):
            return 0.5 * (self._lo + self._hi)
        return 0.0

    def time_ns(self, k: float) -> float:
        """Host time (ns) at which sample ``k`` was taken."""
        return self._line(k) + self._phase()

    # ---- observations -------------------------------------------------------------------
    def observe(self, k: int, t_pre_ns: int, t_post_ns: int) -> None:
        """The level read between ``t_pre_ns`` and ``t_post_ns`` had ``k`` as newest."""
        t_mid = 0.5 * (t_pre_ns + t_post_ns)
        y = t_mid - 0.5 * self.period_ns
        before = self._line(k) if self.n else 0.0
        if self.n:
            lam = math.exp(-(t_mid - self._last_t) / self.tau_ns)
            grow = self.relax * (t_mid - self._last_t)
            self._lo -= grow
            self._hi += grow
        else:
            lam = 0.0
        self._last_t = t_mid
        # weighted Welford with old weights scaled by lam (West 1979)
        w = lam * self._w + 1.0
        dx = k - self._mx
        dy = y - self._my
        self._mx += dx / w
        self._my += dy / w
        self._cxx = lam * self._cxx + dx * (k - self._mx)
        self._cxy = lam * self._cxy + dx * (y - self._my)
        self._w = w
        self.n += 1
        self._period = self._fit_period()
        # keep the phase interval's absolute meaning at k while the line moves
        shift = self._line(k) - before if self.n > 1 else 0.0
        self._lo -= shift
        self._hi -= shift
        # phase bounds relative to the (new) line
        hi = t_post_ns - self._line(k)
        lo = t_pre_ns - self._line(k + 1)
        width = self._hi - self._lo
        if lo > self._hi:  # the line moved (drift re-estimated): shift, keep the width
            self._lo, self._hi = lo, min(hi, lo + width)
        elif hi < self._lo:
            self._lo, self._hi = max(lo, hi - width), hi
        else:
            self._lo = max(self._lo, lo)
            self._hi = min(self._hi, hi)
        if self._hi - self._lo < 0.25 * self.period_ns:
            anchors = self._anchors
            if not anchors or t_mid - anchors[-1][2] >= self.ANCHOR_EVERY_S * 1e9:
                anchors.append((k, self.time_ns(k), t_mid))
                while t_mid - anchors[0][2] > self.tau_ns and len(anchors) > 2:
                    anchors.popleft()
                self._period = self._fit_period()

    def newest_index(self, t_pre_ns: int, t_post_ns: int) -> int | None:
        """The newest sample index at a level read in [t_pre, t_post], when the model
        leaves exactly one candidate; None when ambiguous (or no phase yet)."""
        if not (math.isfinite(self._lo) and math.isfinite(self._hi)) or self.n < 2:
            return None
        b = self.period_ns
        # t_k = my + b (k − mx) + c with c in [lo, hi]: t_k ≤ t_post, t_{k+1} > t_pre
        k_max = math.floor((t_post_ns - self._my - self._lo) / b + self._mx)
        k_min = math.floor((t_pre_ns - self._my - self._hi) / b + self._mx)
        return k_max if k_max == k_min else None
