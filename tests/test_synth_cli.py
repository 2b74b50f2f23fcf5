"""``sspinn-synth``: writes readable recordings, reproducibly; clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.recording import TRUTH_COLUMNS, read_recording
from train.data.synth_cli import main


def test_cli_writes_readable_reproducible_recordings(tmp_path, capsys):
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert main(["--out", str(out_a), "--minutes", "0.2", "--seed", "4", "--quiet"]) == 0
    assert "wrote 1 recordings, 0.2 min at 100 Hz" in capsys.readouterr().out
    csvs = sorted(out_a.glob("*.csv"))
    assert [p.name for p in csvs] == ["synthetic_4_000.csv"]
    rec = read_recording(csvs[0])
    assert rec.n_samples == 1200 and rec.sample_rate_hz == pytest.approx(100.0)
    assert rec.truth and set(rec.truth) <= set(TRUTH_COLUMNS)
    sidecar = json.loads(csvs[0].with_suffix(".json").read_text())
    assert sidecar["synthetic"]["spec"]["seed"] > 0
    truth = sidecar["truth_mounting_rad"]
    assert set(truth) == set(rec.sensors) and 0.0 < max(map(abs, truth.values())) <= 0.2618
    assert set(sidecar["synthetic"]["truth_mounting"]) == set(rec.sensors)
    assert sidecar.get("calibration") is None  # truth is not a calibration a user has
    assert main(["--out", str(out_b), "--minutes", "0.2", "--seed", "4", "--quiet"]) == 0
    assert (out_b / csvs[0].name).read_bytes() == csvs[0].read_bytes()


def test_cli_rate_and_speeds(tmp_path):
    args = ["--out", str(tmp_path), "--minutes", "0.15", "--seed", "1", "--quiet"]
    assert main([*args, "--rate", "50", "--speeds", "3.5", "--no-mounting"]) == 0
    rec = read_recording(next(tmp_path.glob("*.csv")))
    assert set(rec.meta.truth_mounting_rad.values()) == {0.0}
    assert rec.sample_rate_hz == pytest.approx(50.0)
    moving = rec.truth["speed_m_s"][rec.truth["speed_m_s"] > 2.0]
    assert moving.size and np.median(moving) == pytest.approx(3.5, rel=0.08)


@pytest.mark.parametrize(
    "argv",
    [
        ["--minutes", "1", "--seed", "0"],  # no --out
        ["--out", "x", "--minutes", "-1", "--seed", "0"],
        ["--out", "x", "--minutes", "abc", "--seed", "0"],
        ["--out", "x", "--minutes", "1", "--seed", "0", "--speeds", "9"],
    ],
)
def test_cli_rejects_bad_arguments(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_cli_reports_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc = main(["--out", str(blocker / "sub"), "--minutes", "0.1", "--seed", "0", "--quiet"])
    assert rc == 2
    assert "cannot write" in capsys.readouterr().err
