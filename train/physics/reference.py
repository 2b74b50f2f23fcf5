"""Read a reference stride (``gait2dc_walking_reference.csv`` + JSON sidecar) into arrays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from train.physics.constants import (
    CONTACT_POINTS,
    COORDINATES,
    FEET,
    JOINTS,
    SENSORS,
)
from train.physics.parameters import BodyParameters

_BUNDLED = Path(__file__).resolve().parent.parent / "reference_data" / "physics"


class ReferenceFormatError(ValueError):
    """A reference stride file is missing or malformed (the message says what and where)."""


def bundled_reference_path() -> Path:
    """Path of the reference stride shipped with the project."""
    return _BUNDLED / "gait2dc_walking_reference.csv"


_GRF_COLUMNS = [f"grf_{a}_{s}" for s in ("r", "l") for a in ("x", "y")]
_DRAG_COLUMNS = [f"drag_gen_force_{c}" for c in COORDINATES]


def reference_columns() -> list[str]:
    """Every CSV column the reader needs. Optional columns: ``time_s``, ``grf_*``,
    ``drag_gen_force_*`` and ``eom_residual_max``; a file may carry more."""
    cols = list(COORDINATES)
    cols += [f"{c}_vel" for c in COORDINATES] + [f"{c}_acc" for c in COORDINATES]
    cols += [f"{j}_moment" for j in JOINTS]
    for p in CONTACT_POINTS:
        cols += [f"{p}_x", f"{p}_y", f"{p}_fx_bw", f"{p}_fy_bw"]
    for s in SENSORS:
        cols += [f"{s}_acc_x", f"{s}_acc_y", f"{s}_gyr_z"]
    return cols


@dataclass(frozen=True, eq=False)
class ReferenceStride:
    """One periodic reference stride (N rows), float64 NumPy arrays, SI unless named _bw.

    Attributes:
        path: the CSV read.
        meta: the parsed sidecar.
        time_s: (N,) s.
        q, qd, qdd: (N, 9) coordinates, velocities (states), accelerations (backward
            differences), ``COORDINATES`` order.
        moments: (N, 6) net joint moments incl. passive, N·m, ``JOINTS`` order.
        contact_pos: (N, 4, 2) contact element positions (x, y), ground frame, m.
        contact_force_bw: (N, 4, 2) contact forces on the feet, BW.
        grf_bw: (N, 2, 2) ground reaction force per foot (``FEET``), BW, or None if absent.
        drag_gen_force: (N, 9) generalized air-drag force, N / N·m, or None if absent.
        imu: (N, 7, 3) acc_x, acc_y (m/s²), gyr_z (rad/s) per sensor (``SENSORS``).
        sensor_positions: (7, 2) sensor positions in their segment frames, m.
        eom_residual_max: (N,) the reference's own max |residual| per row, N / N·m, or
            None if the column is absent.
    """

    path: Path
    meta: dict[str, Any]
    time_s: np.ndarray
    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray
    moments: np.ndarray
    contact_pos: np.ndarray
    contact_force_bw: np.ndarray
    grf_bw: np.ndarray | None
    drag_gen_force: np.ndarray | None
    imu: np.ndarray
    sensor_positions: np.ndarray
    eom_residual_max: np.ndarray | None

    @property
    def rows(self) -> int:
        return int(self.q.shape[0])

    @property
    def body_weight_n(self) -> float:
        body = self.meta["body"]
        return float(body["mass_kg"]) * float(body.get("gravity", 9.81))

    @property
    def contact_force_n(self) -> np.ndarray:
        """(N, 4, 2) contact forces, N."""
        return self.contact_force_bw * self.body_weight_n

    def body_parameters(self, dtype: tf.DType | str = tf.float64) -> BodyParameters:
        """The sidecar's explicit model parameters."""
        return BodyParameters.from_sidecar(self.meta, dtype=dtype)

    def contact_velocity_x(self) -> np.ndarray:
        """(N, 4) horizontal velocity of the contact elements, m/s.

        The elements' positions are states of the reference solution; their velocity is
        the periodic backward difference (the row before the first is the last row moved
        back by speed x duration), the convention under which its contact equations hold.
        """
        x = self.contact_pos[..., 0]
        prev = np.roll(x, 1, axis=0)
        prev[0] -= float(self.meta["speed_m_s"]) * float(self.meta["duration_s"])
        return (x - prev) / float(self.meta["h_s"])


def _read_sidecar(csv_path: Path) -> dict[str, Any]:
    side = csv_path.with_suffix(".json")
    if not side.is_file():
        raise ReferenceFormatError(f"{csv_path}: sidecar {side.name} not found next to the CSV")
    try:
        meta = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReferenceFormatError(f"{side}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise ReferenceFormatError(f"{side}: expected a JSON object")
    needed = [
        "body",
        "segments",
        "contact_points",
        "imu_positions_m",
        "speed_m_s",
        "duration_s",
        "h_s",
    ]
    missing = [k for k in needed if k not in meta]
    if missing:
        raise ReferenceFormatError(f"{side}: missing keys {missing}")
    body_missing = [k for k in ("height_m", "mass_kg") if k not in meta["body"]]
    if body_missing:
        raise ReferenceFormatError(f"{side}: 'body' lacks {body_missing}")
    pos_missing = [s for s in SENSORS if s not in meta["imu_positions_m"]]
    if pos_missing:
        raise ReferenceFormatError(f"{side}: 'imu_positions_m' lacks {pos_missing}")
    return meta


def load_reference(path: str | Path | None = None) -> ReferenceStride:
    """Read a reference stride CSV and its JSON sidecar (same stem).

    Args:
        path: the CSV; default :func:`bundled_reference_path`.

    Raises:
        ReferenceFormatError: file or sidecar missing, columns missing, non-numeric or
            non-finite values, no rows, or sidecar entries missing.
    """
    csv_path = Path(path) if path is not None else bundled_reference_path()
    if not csv_path.is_file():
        raise ReferenceFormatError(f"{csv_path}: reference CSV not found")
    meta = _read_sidecar(csv_path)
    try:
        with csv_path.open() as fh:
            header = fh.readline().strip().split(",")
            data = np.loadtxt(fh, delimiter=",", ndmin=2, dtype=np.float64)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReferenceFormatError(f"{csv_path}: malformed numeric data ({exc})") from exc
    if data.size == 0 or data.shape[0] == 0:
        raise ReferenceFormatError(f"{csv_path}: no data rows")
    if data.shape[1] != len(header):
        raise ReferenceFormatError(
            f"{csv_path}: {data.shape[1]} values per row but {len(header)} header columns"
        )
    index = {name: i for i, name in enumerate(header)}
    missing = [c for c in reference_columns() if c not in index]
    if missing:
        raise ReferenceFormatError(f"{csv_path}: missing columns {missing}")
    bad = ~np.isfinite(data[:, [index[c] for c in reference_columns()]])
    if bad.any():
        row, col = np.argwhere(bad)[0]
        column = reference_columns()[col]
        raise ReferenceFormatError(
            f"{csv_path}: non-finite value in column {column!r}, data row {row + 1}"
        )

    def cols(names: list[str]) -> np.ndarray:
        return data[:, [index[n] for n in names]]

    n = data.shape[0]
    time_s = data[:, index["time_s"]] if "time_s" in index else np.arange(n) * float(meta["h_s"])
    contact_pos = cols([f"{p}_{a}" for p in CONTACT_POINTS for a in ("x", "y")]).reshape(n, 4, 2)
    forces = cols([f"{p}_{a}_bw" for p in CONTACT_POINTS for a in ("fx", "fy")]).reshape(n, 4, 2)

    def optional(names: list[str]) -> np.ndarray | None:
        return cols(names) if all(c in index for c in names) else None

    grf = optional(_GRF_COLUMNS)
    if grf is not None:
        grf = grf.reshape(n, len(FEET), 2)
    imu = cols([f"{s}_{c}" for s in SENSORS for c in ("acc_x", "acc_y", "gyr_z")]).reshape(n, 7, 3)
    try:
        positions = np.array([meta["imu_positions_m"][s][:2] for s in SENSORS], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ReferenceFormatError(
            f"{csv_path}: bad imu_positions_m in the sidecar ({exc})"
        ) from exc
    return ReferenceStride(
        path=csv_path,
        meta=meta,
        time_s=time_s,
        q=cols(list(COORDINATES)),
        qd=cols([f"{c}_vel" for c in COORDINATES]),
        qdd=cols([f"{c}_acc" for c in COORDINATES]),
        moments=cols([f"{j}_moment" for j in JOINTS]),
        contact_pos=contact_pos,
        contact_force_bw=forces,
        grf_bw=grf,
        drag_gen_force=optional(_DRAG_COLUMNS),
        imu=imu,
        sensor_positions=positions,
        eom_residual_max=data[:, index["eom_residual_max"]]
        if "eom_residual_max" in index
        else None,
    )
