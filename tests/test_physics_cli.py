"""``sspinn-physics verify``: JSON output, exit codes, error messages."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from train.physics import bundled_reference_path
from train.physics_cli import EXIT_ERROR, EXIT_OK, EXIT_TOLERANCE, main

KEYS = {
    "rows",
    "max_residual_n",
    "max_residual_rel",
    "imu_acc_max_err",
    "imu_gyr_max_err",
    "dtype",
}


def _copy_reference(tmp_path: Path, edit=None, name: str = "ref.csv") -> Path:
    """Copy the bundled stride (+ sidecar) to tmp_path, optionally editing its rows."""
    src = bundled_reference_path()
    dst = tmp_path / name
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    with src.open() as fh:
        rows = list(csv.reader(fh))
    if edit is not None:
        rows = edit(rows)
    with dst.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return dst


def _json(capsys) -> tuple[dict, str]:
    """The one JSON line on stdout, and stderr."""
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    assert len(out) == 1, out
    return json.loads(out[0]), captured.err


@pytest.mark.parametrize(("dtype", "limit"), [("float64", 1e-3), ("float32", 0.5)])
def test_verify_bundled_reference(capsys, dtype: str, limit: float) -> None:
    code = main(["verify", "--json", "--dtype", dtype])
    report, err = _json(capsys)
    assert code == EXIT_OK, err
    assert set(report) == KEYS
    assert report["rows"] == 100 and report["dtype"] == dtype
    assert 0.0 < report["max_residual_n"] <= limit
    assert 0.0 < report["max_residual_rel"] < 1e-6
    assert report["imu_acc_max_err"] <= (1e-4 if dtype == "float64" else 1e-3)
    assert report["imu_gyr_max_err"] <= 1e-4


def test_verify_human_readable(capsys) -> None:
    assert main(["verify"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "max |residual|" in out and "contact equations" in out and out.strip().endswith("OK")


def test_altered_moment_exceeds_tolerance(tmp_path: Path, capsys) -> None:
    def edit(rows):
        col = rows[0].index("knee_angle_r_moment")
        rows[10][col] = repr(float(rows[10][col]) + 2.0)  # +2 N·m in one data row
        return rows

    path = _copy_reference(tmp_path, edit)
    code = main(["verify", "--reference", str(path), "--json"])
    report, err = _json(capsys)
    assert code == EXIT_TOLERANCE
    assert report["max_residual_n"] == pytest.approx(2.0, abs=1e-5)
    assert "max_residual_n = 2 exceeds the tolerance 0.001" in err


def test_altered_imu_column_exceeds_tolerance(tmp_path: Path, capsys) -> None:
    def edit(rows):
        col = rows[0].index("foot_l_gyr_z")
        rows[50][col] = repr(float(rows[50][col]) + 0.01)
        return rows

    code = main(["verify", "--reference", str(_copy_reference(tmp_path, edit)), "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_TOLERANCE
    assert json.loads(captured.out)["imu_gyr_max_err"] == pytest.approx(0.01, rel=1e-4)
    assert "imu_gyr_max_err" in captured.err and "exceeds the tolerance" in captured.err


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["verify", "--reference", str(missing), "--json"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nope.csv" in captured.err and "not found" in captured.err


def test_missing_sidecar_missing_column_and_garbage(tmp_path: Path, capsys) -> None:
    no_sidecar = _copy_reference(tmp_path, name="a.csv")
    no_sidecar.with_suffix(".json").unlink()
    assert main(["verify", "--reference", str(no_sidecar)]) == EXIT_ERROR
    assert "sidecar a.json not found" in capsys.readouterr().err

    def drop(rows):
        col = rows[0].index("ankle_angle_l_moment")
        return [r[:col] + r[col + 1 :] for r in rows]

    assert main(["verify", "--reference", str(_copy_reference(tmp_path, drop, "b.csv"))]) == 2
    assert "missing columns ['ankle_angle_l_moment']" in capsys.readouterr().err

    def garbage(rows):
        rows[3][5] = "abc"
        return rows

    assert main(["verify", "--reference", str(_copy_reference(tmp_path, garbage, "c.csv"))]) == 2
    assert "malformed numeric data" in capsys.readouterr().err


def test_no_subcommand_prints_usage(capsys) -> None:
    assert main([]) == EXIT_ERROR
    assert "verify" in capsys.readouterr().err


def test_console_script_subprocess() -> None:
    script = Path(sys.executable).with_name("sspinn-physics")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "train.physics_cli"]
    proc = subprocess.run(
        [*cmd, "verify", "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(report) == KEYS and report["rows"] == 100
    assert report["max_residual_n"] <= 1e-3


def test_optional_columns_may_be_absent(tmp_path: Path, capsys) -> None:
    """GRF, drag and the reference's own residual column are not needed to verify."""

    def drop(rows):
        keep = [
            i
            for i, name in enumerate(rows[0])
            if not name.startswith(("grf_", "drag_gen_force_")) and name != "eom_residual_max"
        ]
        return [[r[i] for i in keep] for r in rows]

    path = _copy_reference(tmp_path, drop, "slim.csv")
    assert main(["verify", "--reference", str(path), "--json"]) == EXIT_OK
    report, _ = _json(capsys)
    assert report["max_residual_n"] <= 1e-5
