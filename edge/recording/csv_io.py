"""Read and write recordings (CSV + JSON sidecar), all-or-nothing.

Reading validates the whole file before returning anything: a malformed file raises
:class:`RecordingError` naming the file, line and column, and nothing is half-read.
Writing is atomic: both files are written to temporaries, fsync'd, then renamed, so a
reader never sees a half-written recording.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from edge.recording.errors import RecordingError
from edge.recording.recording import Recording
from edge.recording.schema import IMU_CHANNELS, TRUTH_COLUMNS, Sidecar, imu_column

log = logging.getLogger(__name__)

#: Relative tolerance between the median time step and the sidecar's sample period.
SAMPLE_PERIOD_RTOL = 0.05


def sidecar_path(csv_path: str | Path) -> Path:
    """The JSON sidecar that belongs to a recording CSV (same stem, ``.json``)."""
    return Path(csv_path).with_suffix(".json")


def read_sidecar(path: str | Path) -> Sidecar:
    """Read and validate a sidecar JSON file.

    Raises:
        RecordingError: missing file, invalid JSON (with line), or invalid fields
            (with the field path, e.g. ``participant.mass_kg``).
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingError(
            path, "sidecar missing: every recording CSV needs a JSON sidecar of the same stem"
        )
    text = path.read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordingError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from exc
    if not isinstance(raw, dict):
        raise RecordingError(path, "the sidecar must be a JSON object")
    try:
        return Sidecar.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise RecordingError(path, f"{err['msg']}{more}", field=field) from exc


def _split_header(
    path: Path, header: list[str], meta: Sidecar
) -> tuple[tuple[str, ...], list[str]]:
    """Check the CSV header; return (sensors in column order, truth column names)."""
    if not header or header[0] != "time_s":
        raise RecordingError(path, "the first column must be 'time_s'", line=1)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise RecordingError(path, "duplicate column", line=1, column=name)
        seen.add(name)
    sensors: list[str] = []
    truth: list[str] = []
    i = 1
    while i < len(header):
        name = header[i]
        sensor = next((s for s in meta.sensors if name.startswith(f"{s}_")), None)
        if sensor is not None and name[len(sensor) + 1 :] in IMU_CHANNELS:
            expected = [imu_column(sensor, c) for c in IMU_CHANNELS]
            got = header[i : i + len(IMU_CHANNELS)]
            if got != expected:
                bad = next(
                    (e for e, g in zip(expected, [*got, *[None] * 6], strict=False) if e != g),
                    expected[0],
                )
                raise RecordingError(
                    path,
                    f"sensor {sensor!r} needs its six channels in the order {expected}",
                    line=1,
                    column=bad,
                )
            if truth:
                raise RecordingError(
                    path, "IMU columns must come before ground-truth columns", line=1, column=name
                )
            sensors.append(sensor)
            i += len(IMU_CHANNELS)
            continue
        if name in TRUTH_COLUMNS:
            truth.append(name)
            i += 1
            continue
        raise RecordingError(
            path,
            "unknown column: expected '<sensor>_<acc|gyr>_<x|y|z>' for a sensor in the sidecar "
            f"({', '.join(meta.sensors)}) or a ground-truth column ({', '.join(TRUTH_COLUMNS)})",
            line=1,
            column=name,
        )
    if not sensors:
        raise RecordingError(path, "no IMU columns found", line=1)
    return tuple(sensors), truth


def _locate_bad_cell(path: Path, lines: list[str], header: list[str]) -> RecordingError:
    """Scan data lines cell by cell and describe the first problem (slow path)."""
    for offset, text in enumerate(lines):
        line_no = offset + 2
        if not text.strip():
            return RecordingError(path, "empty line inside the data", line=line_no)
        cells = next(csv.reader([text]))
        if len(cells) < len(header):
            return RecordingError(
                path,
                f"truncated row: {len(cells)} of {len(header)} cells",
                line=line_no,
                column=header[len(cells)],
            )
        if len(cells) > len(header):
            return RecordingError(
                path, f"row has {len(cells)} cells, the header has {len(header)}", line=line_no
            )
        for name, cell in zip(header, cells, strict=True):
            try:
                value = float(cell)
            except ValueError:
                reason = "empty cell" if not cell.strip() else f"not a number: {cell!r}"
                return RecordingError(path, reason, line=line_no, column=name)
            if math.isinf(value):
                return RecordingError(path, f"infinite value {cell!r}", line=line_no, column=name)
            if math.isnan(value) and name == "time_s":
                return RecordingError(path, "time_s must not be NaN", line=line_no, column=name)
    return RecordingError(path, "could not parse the data rows")


def read_recording(path: str | Path, *, drop_truncated_tail: bool = False) -> Recording:
    """Read a recording from its CSV (the sidecar ``<stem>.json`` must sit beside it).

    Args:
        path: the CSV file (a ``.json`` path or a bare stem is accepted too).
        drop_truncated_tail: a file cut off by a power loss ends without a newline; with
            this set, that incomplete last line is dropped with a warning instead of
            failing (the recorder uses it to recover its open segment).

    Raises:
        RecordingError: anything malformed, naming file, line and column.
    """
    path = Path(path)
    csv_path = path.with_suffix(".csv")
    if not csv_path.is_file():
        if not sidecar_path(csv_path).is_file():
            raise RecordingError(path, "no such file")
        raise RecordingError(csv_path, "recording CSV missing (its sidecar exists)")
    meta = read_sidecar(sidecar_path(csv_path))
    text = csv_path.read_text(encoding="utf-8")
    if not text.strip():
        raise RecordingError(csv_path, "empty file", line=1)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    elif drop_truncated_tail:
        log.warning("%s: dropping the incomplete last line %d", csv_path, len(lines))
        lines.pop()
    header = next(csv.reader([lines[0]]))
    header = [h.strip() for h in header]
    sensors, truth_names = _split_header(csv_path, header, meta)
    if meta.columns is not None and meta.columns != header:
        diff = next(
            (f"{a!r} vs {b!r}" for a, b in zip(meta.columns, header, strict=False) if a != b),
            f"{len(meta.columns)} vs {len(header)} columns",
        )
        raise RecordingError(
            sidecar_path(csv_path),
            f"'columns' disagrees with the CSV header ({diff})",
            field="columns",
        )
    unplaced = [s for s in meta.sensors if s not in sensors]
    if unplaced:
        raise RecordingError(
            sidecar_path(csv_path),
            f"sensors {unplaced} are in the sidecar but have no columns in the CSV",
            field="sensors",
        )
    body = lines[1:]
    if not body:
        raise RecordingError(csv_path, "no data rows", line=2)
    try:
        with np.errstate(all="ignore"):
            data = np.loadtxt(
                io.StringIO("\n".join(body)), delimiter=",", dtype=np.float64, ndmin=2
            )
        ok = data.shape == (len(body), len(header)) and not np.isinf(data).any()
        ok = ok and not np.isnan(data[:, 0]).any()
    except ValueError:
        ok = False
    if not ok:
        raise _locate_bad_cell(csv_path, body, header)

    time_s = data[:, 0].copy()
    steps = np.diff(time_s)
    if steps.size and (steps <= 0).any():
        k = int(np.argmax(steps <= 0))
        raise RecordingError(csv_path, "time_s must increase strictly", line=k + 3, column="time_s")
    if steps.size:
        median = float(np.median(steps))
        if abs(median - meta.sample_period_s) > SAMPLE_PERIOD_RTOL * meta.sample_period_s:
            raise RecordingError(
                sidecar_path(csv_path),
                f"sample_period_s {meta.sample_period_s} disagrees with the CSV's median time "
                f"step {median:.6g} s",
                field="sample_period_s",
            )
    if meta.samples_per_cycle is not None and meta.samples_per_cycle != len(body):
        raise RecordingError(
            sidecar_path(csv_path),
            f"samples_per_cycle is {meta.samples_per_cycle} but the CSV has {len(body)} rows "
            "(a mean-cycle file holds exactly one cycle)",
            field="samples_per_cycle",
        )
    if meta.samples_per_cycle is not None and meta.cycle_duration_s is not None:
        expected = meta.samples_per_cycle * meta.sample_period_s
        if abs(expected - meta.cycle_duration_s) > 1e-6 * expected:
            raise RecordingError(
                sidecar_path(csv_path),
                f"cycle_duration_s {meta.cycle_duration_s} != samples_per_cycle × "
                f"sample_period_s = {expected:.9g}",
                field="cycle_duration_s",
            )
    n_imu = len(sensors) * len(IMU_CHANNELS)
    imu = data[:, 1 : 1 + n_imu].reshape(len(body), len(sensors), len(IMU_CHANNELS)).copy()
    truth = {name: data[:, 1 + n_imu + j].copy() for j, name in enumerate(truth_names)}
    return Recording(time_s, sensors, imu, meta, truth, csv_path)


def atomic_write(path: Path, chunks: Iterable[str]) -> None:
    """Write text chunks to ``path`` via a fsync'd temporary in the same folder + rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(directory: Path) -> None:
    """fsync a folder so a rename in it survives a power cut (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def format_rows(rows: np.ndarray) -> str:
    """CSV text of a (n, C) float array, 10 significant digits, ``nan`` for missing."""
    buf = io.StringIO()
    np.savetxt(buf, rows, delimiter=",", fmt="%.10g")
    return buf.getvalue()


def write_recording(rec: Recording, path: str | Path) -> Path:
    """Write ``rec`` atomically as ``<path>.csv`` + ``<path>.json``; returns the CSV path.

    The sidecar's ``columns`` is set to the CSV header.
    """
    csv_path = Path(path).with_suffix(".csv")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    header = rec.columns
    meta = rec.meta.model_copy(update={"columns": header})
    n = rec.n_samples
    rows = np.concatenate(
        [
            rec.time_s[:, None],
            rec.imu.reshape(n, -1),
            *[v[:, None] for v in rec.truth.values()],
        ],
        axis=1,
    )
    sidecar_text = json.dumps(meta.model_dump(mode="json", exclude_none=True), indent=2) + "\n"
    atomic_write(sidecar_path(csv_path), [sidecar_text])
    atomic_write(csv_path, [",".join(header) + "\n", format_rows(rows)])
    fsync_dir(csv_path.parent)
    return csv_path
