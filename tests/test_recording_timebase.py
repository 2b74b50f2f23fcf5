"""Tiling mean gait cycles and band-limited resampling."""

from __future__ import annotations

import numpy as np
import pytest

from edge.recording import interpolate_at, read_recording, resample, tile_cycles
from edge.recording.timebase import fourier_interpolate_periodic, sinc_interpolate


def _signals(rec) -> np.ndarray:
    n = rec.n_samples
    return np.concatenate([rec.imu.reshape(n, -1), *[v[:, None] for v in rec.truth.values()]], 1)


def _rel_rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-column RMS error relative to the column's RMS about its mean."""
    return np.sqrt(np.mean((a - b) ** 2, 0)) / np.sqrt(np.mean((a - a.mean(0)) ** 2, 0))


def test_tile_ten_cycles_keeps_values_and_events(p01_walking_csv):
    rec = read_recording(p01_walking_csv)
    tiled = tile_cycles(rec, 10)
    assert tiled.n_samples == 1000
    assert not tiled.is_mean_cycle
    np.testing.assert_array_equal(tiled.imu[300:400], rec.imu)
    assert tiled.time_s[-1] == pytest.approx(999 * rec.meta.sample_period_s)
    assert tiled.meta.cycle_duration_s == pytest.approx(1.2135)
    assert [i for lab, i in tiled.meta.events if lab == "R_HS"] == list(range(0, 1000, 100))


def test_tile_then_resample_to_100hz_within_1pct_at_original_times(p01_walking_csv):
    """Acceptance: 10 cycles, resampled to 100 Hz, within 1 % RMS at the original times."""
    rec = read_recording(p01_walking_csv)
    tiled = tile_cycles(rec, 10)
    at100 = resample(tiled, 100.0)
    assert at100.sample_rate_hz == pytest.approx(100.0)
    assert at100.n_samples == 1213
    t_orig = tiled.time_s[tiled.time_s <= at100.time_s[-1]]
    back = interpolate_at(at100, t_orig)
    err = _rel_rms(_signals(tiled)[: len(t_orig)], _signals(back))
    assert err.max() < 0.01, f"worst channel {err.max():.4f}"


def test_tile_at_rate_matches_tile_then_resample(p01_walking_csv):
    rec = read_recording(p01_walking_csv)
    direct = tile_cycles(rec, 10, rate_hz=100.0)
    assert direct.n_samples == 1213
    t_orig = np.arange(900) * rec.meta.sample_period_s
    back = interpolate_at(direct, t_orig)
    err = _rel_rms(_signals(tile_cycles(rec, 10))[:900], _signals(back))
    assert err.max() < 0.01
    # Exact at the shared instants: t = 0 and every 100 ms * k that falls on a sample.
    np.testing.assert_allclose(direct.imu[0], rec.imu[0], atol=1e-9)


def test_fourier_interpolation_is_exact_for_band_limited_periodic():
    n = 64
    t = np.arange(n)
    x = np.stack([np.sin(2 * np.pi * 3 * t / n + 0.3), np.cos(2 * np.pi * 7 * t / n)], 1)
    u = np.linspace(0, 3 * n, 500)
    want = np.stack([np.sin(2 * np.pi * 3 * u / n + 0.3), np.cos(2 * np.pi * 7 * u / n)], 1)
    np.testing.assert_allclose(fourier_interpolate_periodic(x, u), want, atol=1e-12)


def test_sinc_has_no_phase_shift_and_antialiases():
    fs = 200.0
    t = np.arange(2000) / fs
    slow = np.sin(2 * np.pi * 5.0 * t)
    fast = np.sin(2 * np.pi * 80.0 * t)  # above the 50 Hz Nyquist of the 100 Hz output
    x = np.stack([slow, fast], 1)
    u = np.arange(0, 1999, 2.0) + 0.5  # half-sample offsets
    y = sinc_interpolate(x, u, cutoff=0.45)
    interior = slice(50, -50)
    want = np.sin(2 * np.pi * 5.0 * u / fs)
    assert np.max(np.abs(y[interior, 0] - want[interior])) < 2e-3  # no delay, no gain error
    assert np.max(np.abs(y[interior, 1])) < 2e-3  # the 80 Hz tone is removed


def test_downsample_keeps_duration_and_events(p01_walking_csv):
    tiled = tile_cycles(read_recording(p01_walking_csv), 5)
    down = resample(tiled, 50.0)
    assert down.time_s[0] == 0.0
    assert down.time_s[-1] <= tiled.time_s[-1] + 1e-12
    assert [i for lab, i in down.meta.events if lab == "R_HS"][:2] == [0, round(1.2135 * 50)]


def test_nan_stays_local(p01_walking_csv):
    tiled = tile_cycles(read_recording(p01_walking_csv), 5)
    tiled.imu[200, 2, :] = np.nan
    out = resample(tiled, 100.0)
    bad = np.isnan(out.imu[:, 2, 0])
    assert bad.any()
    assert bad.sum() < 60  # only samples whose kernel touches the gap
    assert np.isfinite(out.imu[:, 1]).all()  # other sensors untouched


def test_mean_cycle_resample_is_refused(p01_walking_csv):
    with pytest.raises(ValueError, match="tile_cycles"):
        resample(read_recording(p01_walking_csv), 100.0)
