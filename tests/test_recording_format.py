"""Reading, validating and writing the recording format (CSV + JSON sidecar)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.recording import (
    IMU_CHANNELS,
    SENSOR_NAMES,
    RecordingError,
    bundled_recording_names,
    read_recording,
    write_recording,
)


def test_p01_walking_shape_and_participant(p01_walking_csv):
    rec = read_recording(p01_walking_csv)
    assert rec.n_samples == 100
    assert rec.meta.samples_per_cycle == 100
    assert rec.is_mean_cycle
    assert rec.sensors == SENSOR_NAMES
    assert rec.imu.shape == (100, 7, 6)
    assert len(rec.truth) == 8
    assert rec.meta.participant.height_m == pytest.approx(1.73)
    assert rec.meta.participant.mass_kg == pytest.approx(73.0)
    assert rec.sample_rate_hz == pytest.approx(1 / 0.012135)
    # Values land in the right place: the first row's foot_r acc_x is -23.81 in the CSV.
    assert rec.channel("foot_r", "acc_x")[0] == pytest.approx(-23.81)
    assert rec.truth["grf_y_r"][0] == pytest.approx(0.0214592)
    # Gravity is in the specific force: mean acc_y over the cycle is close to g.
    assert 9.0 < float(np.mean(rec.channel("pelvis", "acc_y"))) < 10.5


def test_p01_running_has_no_truth(p01_running_csv):
    rec = read_recording(p01_running_csv)
    assert rec.truth == {}
    assert rec.imu.shape == (100, 7, 6)
    assert rec.meta.speed_m_s == pytest.approx(3.4745)


def test_bundled_names():
    assert {"P01_walking", "P01_running"} <= set(bundled_recording_names())


def test_write_read_round_trip_keeps_everything(tmp_path, p01_walking_csv):
    rec = read_recording(p01_walking_csv)
    out = write_recording(rec, tmp_path / "sub" / "copy.csv")
    back = read_recording(out)
    np.testing.assert_allclose(back.imu, rec.imu, rtol=1e-9, atol=0)
    np.testing.assert_allclose(back.time_s, rec.time_s, rtol=1e-9)
    assert list(back.truth) == list(rec.truth)
    for k in rec.truth:
        np.testing.assert_allclose(back.truth[k], rec.truth[k], rtol=1e-9)
    # Extra sidecar keys (source, reference) survive; columns now match the header.
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["source"].startswith("BioMAC-Sim-Toolbox")
    assert side["columns"] == rec.columns
    assert not list(out.parent.glob("*.tmp"))


def test_nan_marks_missing_samples(tmp_path, p01_walking_csv):
    rec = read_recording(p01_walking_csv)
    rec.imu[10:15, 3, :] = np.nan
    out = write_recording(rec, tmp_path / "gap.csv")
    back = read_recording(out)
    assert np.isnan(back.imu[10:15, 3]).all()
    assert np.isfinite(back.imu[:10]).all()


def _copy(tmp_path: Path, src: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


def _edit_csv(path: Path, line_no: int, edit) -> None:
    lines = path.read_text().split("\n")
    lines[line_no - 1] = edit(lines[line_no - 1])
    path.write_text("\n".join(lines))


def test_missing_column_named(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    # Drop tibia_r_acc_y from the header and every row.
    lines = path.read_text().split("\n")
    idx = lines[0].split(",").index("tibia_r_acc_y")
    lines = [
        ",".join(c for j, c in enumerate(ln.split(",")) if j != idx) if ln else ln for ln in lines
    ]
    path.write_text("\n".join(lines))
    side = json.loads(path.with_suffix(".json").read_text())
    side.pop("columns")
    path.with_suffix(".json").write_text(json.dumps(side))
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert err.value.path == path and err.value.line == 1
    assert err.value.column == "tibia_r_acc_y"
    assert "tibia_r" in str(err.value)


def test_non_numeric_cell_named(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    _edit_csv(
        path, 42, lambda ln: ",".join(["abc" if j == 5 else c for j, c in enumerate(ln.split(","))])
    )
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert (err.value.line, err.value.column) == (42, "pelvis_gyr_y")
    assert "not a number: 'abc'" in str(err.value)
    assert str(path) in str(err.value)


def test_empty_cell_named(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    _edit_csv(
        path, 7, lambda ln: ",".join(["" if j == 1 else c for j, c in enumerate(ln.split(","))])
    )
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert (err.value.line, err.value.column, err.value.reason) == (7, "pelvis_acc_x", "empty cell")


def test_truncated_row_named(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    _edit_csv(path, 30, lambda ln: ",".join(ln.split(",")[:20]))
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert err.value.line == 30
    assert "truncated row: 20 of 51 cells" in str(err.value)


def test_power_cut_tail_fails_or_is_dropped_on_request(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    text = path.read_text()
    path.write_text(text[: len(text) - 300])  # cut inside the last row, no final newline
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert err.value.line == 101
    side = json.loads(path.with_suffix(".json").read_text())
    side.pop("samples_per_cycle")
    side.pop("cycle_duration_s")
    path.with_suffix(".json").write_text(json.dumps(side))
    rec = read_recording(path, drop_truncated_tail=True)
    assert rec.n_samples == 99


def test_missing_csv_is_no_such_file(tmp_path):
    with pytest.raises(RecordingError) as err:
        read_recording(tmp_path / "absent.csv")
    assert str(err.value) == f"{tmp_path / 'absent.csv'}: no such file"


def test_sidecar_missing(tmp_path, p01_walking_csv):
    path = tmp_path / "lonely.csv"
    shutil.copy(p01_walking_csv, path)
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert err.value.path == path.with_suffix(".json")
    assert "sidecar missing" in str(err.value)


@pytest.mark.parametrize(
    ("edit", "where", "words"),
    [
        (
            lambda s: s["participant"].pop("mass_kg"),
            ("field", "participant.mass_kg"),
            "Field required",
        ),
        (
            lambda s: s.__setitem__("sample_period_s", 0.01),
            ("field", "sample_period_s"),
            "median time step",
        ),
        (
            lambda s: s.__setitem__("samples_per_cycle", 50),
            ("field", "samples_per_cycle"),
            "100 rows",
        ),
        (lambda s: s["sensors"].pop("foot_l"), ("column", "foot_l_acc_x"), "unknown column"),
        (
            lambda s: s["sensors"]["femur_r"].__setitem__("segment", "arm"),
            ("field", "sensors.femur_r.segment"),
            "Input should be",
        ),
        (
            lambda s: s["columns"].__setitem__(3, "oops"),
            ("field", "columns"),
            "disagrees with the CSV header",
        ),
    ],
)
def test_inconsistent_sidecar_named(tmp_path, p01_walking_csv, edit, where, words):
    path = _copy(tmp_path, p01_walking_csv)
    side = json.loads(path.with_suffix(".json").read_text())
    edit(side)
    path.with_suffix(".json").write_text(json.dumps(side, indent=1))
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    kind, name = where
    assert getattr(err.value, kind) == name
    assert f"{kind} {name!r}" in str(err.value)
    if kind == "field":  # a sidecar key is a field, never a "column"
        assert err.value.column is None and ", column " not in str(err.value)
    assert words in str(err.value)


def test_unknown_participant_keys_are_kept(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    side = json.loads(path.with_suffix(".json").read_text())
    side["participant"]["note"] = "left knee brace"
    path.with_suffix(".json").write_text(json.dumps(side))
    rec = read_recording(path)
    assert rec.meta.participant.model_dump()["note"] == "left knee brace"
    out = tmp_path / "again.csv"
    write_recording(rec, out)
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["participant"]["note"] == "left knee brace"


def test_sidecar_with_extra_sensor_is_inconsistent(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    side = json.loads(path.with_suffix(".json").read_text())
    side["sensors"]["spare"] = {"segment": "pelvis", "position_m": [0, 0, 0]}
    path.with_suffix(".json").write_text(json.dumps(side))
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert err.value.field == "sensors" and "spare" in str(err.value)


def test_bad_json_names_line(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    text = path.with_suffix(".json").read_text().split("\n")
    text[5] = text[5] + " ,,"
    path.with_suffix(".json").write_text("\n".join(text))
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert err.value.line == 6


def test_time_must_increase(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    _edit_csv(
        path, 20, lambda ln: ",".join(["0.1" if j == 0 else c for j, c in enumerate(ln.split(","))])
    )
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert err.value.column == "time_s" and err.value.line in (20, 21)


def test_channels_constant():
    assert IMU_CHANNELS == ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")


def test_cycle_duration_must_match(tmp_path, p01_walking_csv):
    path = _copy(tmp_path, p01_walking_csv)
    side = json.loads(path.with_suffix(".json").read_text())
    side["cycle_duration_s"] = 1.3
    path.with_suffix(".json").write_text(json.dumps(side))
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert err.value.field == "cycle_duration_s"
