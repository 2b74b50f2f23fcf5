"""Planar joint centres (cue 2 of :mod:`edge.mounting.functional`; Seel, Raisch &
Schauer 2014): R(ψ₁)(a₁ + K₁ r₁) = R(ψ₂)(a₂ + K₂ r₂), solved for r₁, r₂ by ridge least
squares over the good strides.

NumPy only. Every array is float64; angles in rad; time in s.
"""

from __future__ import annotations

import numpy as np

from edge.mounting.gait import GaitOrientation, _moving_average, _rot


def _k_matrix(omega: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(N, 2, 2) K with K r = α ẑ × r − ω² r."""
    k = np.empty((omega.shape[0], 2, 2))
    k[:, 0, 0] = -(omega**2)
    k[:, 0, 1] = -alpha
    k[:, 1, 0] = alpha
    k[:, 1, 1] = -(omega**2)
    return k


def joint_centre(
    go: GaitOrientation, i: int, j: int, ridge: float = 1e-4, smooth: int = 1
) -> tuple[np.ndarray, np.ndarray, float]:
    """Joint centre between sensors i and j in each sensor's frame (linear LS).

    ``smooth`` (odd, samples) is a moving average applied to acc, ω and α of both
    sensors before the fit (1: none).

    Returns:
        r_i: (2,) joint centre relative to sensor i, sensor-i axes, m.
        r_j: (2,) the same for sensor j.
        rms: residual RMS of the specific-force mismatch, m/s².
    """
    rows_a, rows_b = [], []
    om = _moving_average(go.omega[:, [i, j]], smooth)
    al = _moving_average(go.alpha[:, [i, j]], smooth)
    ac = _moving_average(go.acc[:, [i, j]], smooth)
    for i0, i1 in go.strides:
        sl = slice(i0, i1)
        ki = _k_matrix(om[sl, 0], al[sl, 0])
        kj = _k_matrix(om[sl, 1], al[sl, 1])
        pi, pj = go.psi[sl, i], go.psi[sl, j]
        # R(ψ) K columns, by rotating each column
        ai = np.stack([_rot(pi, ki[:, :, q]) for q in range(2)], -1)  # (m, 2, 2)
        aj = np.stack([_rot(pj, kj[:, :, q]) for q in range(2)], -1)
        rows_a.append(np.concatenate([ai, -aj], -1).reshape(-1, 4))
        rows_b.append((_rot(pj, ac[sl, 1]) - _rot(pi, ac[sl, 0])).reshape(-1))
    a = np.concatenate(rows_a)
    b = np.concatenate(rows_b)
    ata = a.T @ a
    lam = ridge * np.trace(ata) / 4.0
    x = np.linalg.solve(ata + lam * np.eye(4), a.T @ b)
    rms = float(np.sqrt(np.mean((a @ x - b) ** 2)))
    return x[:2], x[2:], rms
