"""Check the body model against a reference stride (``sspinn-physics verify``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from train.physics.constants import SENSORS
from train.physics.contact import ReferenceContactParameters, contact_equation_residual
from train.physics.dynamics import generalized_drag_force, kane_residual, normalise_residual
from train.physics.kinematics import forward_kinematics
from train.physics.reference import ReferenceStride, load_reference
from train.physics.virtual_imu import virtual_imu


@dataclass(frozen=True)
class Tolerance:
    """Maximum absolute errors accepted by ``verify`` for one dtype."""

    residual_n: float  # max |EOM residual|, N and N·m
    imu_acc: float  # max |virtual − reference| accelerometer, m/s²
    imu_gyr: float  # max |virtual − reference| gyroscope, rad/s


#: Documented tolerances (docs/physics.md). float32 terms are ~1000 N, so 0.5 N is a
#: relative 5e-4; measured errors are ~1e-4 N (float32) and ~5e-7 N (float64).
TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(residual_n=1e-3, imu_acc=1e-4, imu_gyr=1e-4),
    "float32": Tolerance(residual_n=0.5, imu_acc=1e-3, imu_gyr=1e-4),
}


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify_reference`; ``summary()`` is what ``--json`` prints."""

    rows: int
    max_residual_n: float
    max_residual_rel: float
    imu_acc_max_err: float
    imu_gyr_max_err: float
    dtype: str
    contact_equation_max_err_bw: float
    drag_max_err_n: float | None  # None when the file has no drag_gen_force_* columns
    tolerance: Tolerance
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, float | int | str]:
        return {
            "rows": self.rows,
            "max_residual_n": self.max_residual_n,
            "max_residual_rel": self.max_residual_rel,
            "imu_acc_max_err": self.imu_acc_max_err,
            "imu_gyr_max_err": self.imu_gyr_max_err,
            "dtype": self.dtype,
        }


def evaluate_reference(
    ref: ReferenceStride, dtype: tf.DType | str = tf.float64
) -> dict[str, np.ndarray]:
    """Model outputs on a reference stride, as NumPy arrays (float64 copies).

    Returns ``residual`` (N, 9) N / N·m (contact forces applied at the reference's contact
    elements, air drag on), ``residual_rel`` (N, 9) in BW / BW·BH, ``imu`` (N, 7, 3),
    ``contact_eq`` (N, 4, 2) BW, ``drag`` (N, 9) N / N·m.
    """
    dtype = tf.as_dtype(dtype)
    np_dtype = dtype.as_numpy_dtype
    params = ref.body_parameters(dtype)
    q, qd, qdd = (np.asarray(a, np_dtype) for a in (ref.q, ref.qd, ref.qdd))
    kin = forward_kinematics(q, qd, qdd, params)
    res = kane_residual(
        q,
        qd,
        qdd,
        ref.moments.astype(np_dtype),
        ref.contact_force_n.astype(np_dtype),
        params,
        contact_points=ref.contact_pos.astype(np_dtype),
        air_drag=True,
        kin=kin,
    )
    imu = virtual_imu(q, qd, qdd, params, SENSORS, ref.sensor_positions.astype(np_dtype), kin=kin)
    contact = contact_equation_residual(
        ref.contact_pos.astype(np_dtype),
        ref.contact_velocity_x().astype(np_dtype),
        ref.contact_force_bw.astype(np_dtype),
        ReferenceContactParameters.from_sidecar(ref.meta),
    )
    return {
        "residual": res.numpy().astype(np.float64),
        "residual_rel": normalise_residual(res, params).numpy().astype(np.float64),
        "imu": imu.numpy().astype(np.float64),
        "contact_eq": contact.numpy().astype(np.float64),
        "drag": generalized_drag_force(kin).numpy().astype(np.float64),
    }


def verify_reference(
    path: str | Path | None = None,
    dtype: str = "float64",
    tolerance: Tolerance | None = None,
) -> VerifyReport:
    """Evaluate the model on a reference stride and compare with the tolerances.

    Args:
        path: reference CSV (sidecar next to it); default the bundled stride.
        dtype: "float64" or "float32".
        tolerance: override of ``TOLERANCES[dtype]``.

    Raises:
        ReferenceFormatError: the file is missing or malformed.
        ValueError: unknown dtype.
    """
    if dtype not in TOLERANCES:
        raise ValueError(f"dtype must be one of {sorted(TOLERANCES)}, got {dtype!r}")
    tol = tolerance or TOLERANCES[dtype]
    ref = load_reference(path)
    out = evaluate_reference(ref, dtype)
    imu_err = np.abs(out["imu"] - ref.imu)
    report = VerifyReport(
        rows=ref.rows,
        max_residual_n=float(np.max(np.abs(out["residual"]))),
        max_residual_rel=float(np.max(np.abs(out["residual_rel"]))),
        imu_acc_max_err=float(np.max(imu_err[..., :2])),
        imu_gyr_max_err=float(np.max(imu_err[..., 2])),
        dtype=dtype,
        contact_equation_max_err_bw=float(np.max(np.abs(out["contact_eq"]))),
        drag_max_err_n=None
        if ref.drag_gen_force is None
        else float(np.max(np.abs(out["drag"] - ref.drag_gen_force))),
        tolerance=tol,
    )
    checks = [
        ("max_residual_n", report.max_residual_n, tol.residual_n),
        ("imu_acc_max_err", report.imu_acc_max_err, tol.imu_acc),
        ("imu_gyr_max_err", report.imu_gyr_max_err, tol.imu_gyr),
    ]
    for name, value, limit in checks:
        if not value <= limit:  # also catches NaN
            report.failures.append(f"{name} = {value:.3g} exceeds the tolerance {limit:.3g}")
    return report
