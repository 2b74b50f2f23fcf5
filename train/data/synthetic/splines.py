"""Uniform quintic B-splines fitted by penalised least squares.

Every generated trajectory (coordinates, centre of mass) is one of these splines, so its
first and second time derivatives are exact (the derivatives of the same piecewise
polynomial), never finite differences of samples.

A spline of degree ``k`` on uniform knots ``t0 + j h`` has coefficients ``c_j``; the
value at time ``t`` is ``sum_j c_j B_k((t - t0) / h - j)`` with the cardinal B-spline
``B_k`` (support [0, k + 1]). Least-squares rows constrain value, first or second
derivative at given times; a penalty on the ``order``-th differences of the coefficients
(a P-spline) keeps the fit smooth where rows are sparse or weak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb, factorial

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

#: Spline degree (quintic: the second derivative is C2, so accelerations are smooth).
DEGREE = 5


def _cardinal(s: np.ndarray, k: int) -> np.ndarray:
    """Cardinal B-spline of degree ``k`` at ``s`` (support [0, k + 1]), any shape."""
    out = np.zeros_like(s)
    for i in range(k + 2):
        out += (-1) ** i * comb(k + 1, i) * np.clip(s - i, 0.0, None) ** k
    out /= factorial(k)
    out[(s < 0) | (s > k + 1)] = 0.0
    return out


def _cardinal_derivative(s: np.ndarray, k: int, nu: int) -> np.ndarray:
    """``nu``-th derivative of the cardinal B-spline of degree ``k`` w.r.t. ``s``."""
    out = np.zeros_like(s)
    for i in range(nu + 1):
        out += (-1) ** i * comb(nu, i) * _cardinal(s - i, k - nu)
    return out


@dataclass(frozen=True)
class UniformSpline:
    """Knot grid of a uniform B-spline covering [start_s, end_s].

    Attributes:
        start_s: first time covered, s.
        spacing_s: knot spacing h, s.
        n_coef: number of coefficients.
    """

    start_s: float
    spacing_s: float
    n_coef: int

    @classmethod
    def covering(cls, start_s: float, end_s: float, spacing_s: float) -> UniformSpline:
        """A grid whose spline is fully defined on [start_s, end_s]."""
        n_int = int(np.ceil((end_s - start_s) / spacing_s - 1e-9)) + 1
        return cls(start_s - DEGREE * spacing_s, spacing_s, n_int + DEGREE)

    def basis(self, t: np.ndarray, nu: int = 0) -> sp.csr_matrix:
        """(len(t), n_coef) sparse matrix mapping coefficients to the ``nu``-th derivative
        (unit: per s^nu) at times ``t`` (s)."""
        t = np.asarray(t, dtype=np.float64)
        u = (t - self.start_s) / self.spacing_s
        base = np.floor(u).astype(np.int64)
        base = np.clip(base, DEGREE, self.n_coef - 1)
        cols = base[:, None] - np.arange(DEGREE + 1)[None, ::-1]  # (n, k+1)
        s = u[:, None] - cols
        if nu == 0:
            w = _cardinal(s, DEGREE)
        else:
            w = _cardinal_derivative(s, DEGREE, nu) / self.spacing_s**nu
        rows = np.repeat(np.arange(t.shape[0]), DEGREE + 1)
        return sp.csr_matrix((w.ravel(), (rows, cols.ravel())), shape=(t.shape[0], self.n_coef))

    def evaluate(self, coef: np.ndarray, t: np.ndarray, nu: int = 0) -> np.ndarray:
        """(len(t), ...) ``nu``-th derivative at ``t`` of the spline(s) with ``coef``
        (n_coef, ...)."""
        b = self.basis(t, nu)
        flat = coef.reshape(coef.shape[0], -1)
        return np.asarray(b @ flat).reshape((t.shape[0], *coef.shape[1:]))

    def difference_times(self, order: int) -> np.ndarray:
        """(n_coef - order,) times (s) the rows of :meth:`difference_penalty` refer to."""
        centre = np.arange(self.n_coef - order) + 0.5 * (order + DEGREE + 1)
        return self.start_s + centre * self.spacing_s

    def difference_penalty(self, order: int) -> sp.csr_matrix:
        """(n_coef - order, n_coef) ``order``-th difference operator, scaled to the
        ``order``-th derivative (divided by h^order)."""
        d = sp.eye(self.n_coef, format="csr")
        for _ in range(order):
            d = d[1:] - d[:-1]
        return d / self.spacing_s**order


@dataclass
class Rows:
    """Least-squares rows ``sqrt(w) * (B c - target)``.

    Attributes:
        matrix: (n, n_coef) sparse design rows.
        target: (n,) or (n, m) targets (m independent right-hand sides).
        weight: (n,) non-negative weights.
    """

    matrix: sp.csr_matrix
    target: np.ndarray
    weight: np.ndarray


def solve(
    grid: UniformSpline,
    rows: Sequence[Rows],
    *,
    smooth_order: int = 3,
    smooth_weight: float | np.ndarray = 0.0,
    ridge: float = 1e-12,
) -> np.ndarray:
    """Coefficients minimising ``sum w (B c - y)^2 + sum smooth_weight (D c)^2``.

    The smoothness term penalises the ``smooth_order``-th derivative (P-spline); its
    weight is a scalar or one value per difference row (n_coef - smooth_order,), e.g. to
    smooth less where the motion is faster. A tiny ridge keeps the system definite.
    Returns (n_coef,) or (n_coef, m).
    """
    n = grid.n_coef
    lhs = sp.csr_matrix((n, n))
    rhs = None
    for r in rows:
        wb = r.matrix.multiply(r.weight[:, None]).tocsr()
        lhs = lhs + (r.matrix.T @ wb)
        contrib = r.matrix.T @ (r.weight.reshape((-1,) + (1,) * (r.target.ndim - 1)) * r.target)
        rhs = contrib if rhs is None else rhs + contrib
    if np.any(np.asarray(smooth_weight) > 0):
        d = grid.difference_penalty(smooth_order)
        weight = np.broadcast_to(np.asarray(smooth_weight, dtype=np.float64), (d.shape[0],))
        lhs = lhs + d.T @ d.multiply(weight[:, None]).tocsr()
    scale = float(lhs.diagonal().max()) if lhs.nnz else 1.0
    lhs = lhs + ridge * scale * sp.eye(n)
    return np.asarray(spla.spsolve(lhs.tocsc(), np.asarray(rhs)))
