"""``sspinn-adapt``: personal adaptation on a wearer's unlabelled recordings.

Fast: the CLI's one-line errors, turning / standing / gap detection on constructed
signals, recorder sessions, the adaptation's config. Slow: a quick model adapted for a
few steps on a held-out synthetic subject evaluates with ``sspinn-eval`` and converts
with ``sspinn-convert``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.recording import (
    SENSOR_NAMES,
    Recording,
    bundled_recording_path,
    read_recording,
    write_recording,
)
from edge.recording.timebase import tile_cycles
from train.adapt import _lr_at, read_base
from train.adapt_cli import default_model
from train.adapt_cli import main as adapt_main
from train.adapt_data import (
    AdaptError,
    AdaptSettings,
    UserRecording,
    load_recordings,
    select_windows,
    standing_mask,
    turning_mask,
)

REPO = Path(__file__).resolve().parents[1]
RATE = 100.0


@pytest.fixture(scope="module")
def walking() -> Recording:
    """P01's walking tiled to 60 s at 100 Hz, truth dropped (a straight walk)."""
    rec = read_recording(bundled_recording_path("P01_walking"))
    return tile_cycles(rec, 50, rate_hz=RATE).without_truth()


def _with_imu(rec: Recording, imu: np.ndarray) -> Recording:
    return Recording(rec.time_s, rec.sensors, imu, rec.meta, {}, rec.path)


def _turned(rec: Recording, turns: list[tuple[float, float, float]]) -> Recording:
    """The recording with whole-body turns about the vertical added to every gyroscope:
    (start s, duration s, heading change deg), raised-cosine yaw-rate profiles."""
    t = rec.time_s - rec.time_s[0]
    omega = np.zeros_like(t)
    for t0, dur, deg in turns:
        inside = (t >= t0) & (t <= t0 + dur)
        peak = 2.0 * math.radians(deg) / dur
        omega[inside] += peak * 0.5 * (1.0 - np.cos(2.0 * np.pi * (t[inside] - t0) / dur))
    imu = rec.imu.copy()
    for k in range(len(rec.sensors)):
        up = np.nanmean(imu[:, k, :3], axis=0)
        up /= np.linalg.norm(up)
        imu[:, k, 3:] += omega[:, None] * up[None, :]
    return _with_imu(rec, imu)


def _write(rec: Recording, path: Path) -> Path:
    write_recording(rec, path)
    return path


# ------------------------------------------------------------------ CLI, fast errors


def test_help_answers_without_tensorflow():
    code = (
        "import sys\nimport train.adapt_cli as c\n"
        "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('TF', 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert "--minutes" in out.stdout and "--data" in out.stdout
    assert "TF False" in out.stdout


def test_console_script_is_registered():
    text = (REPO / "pyproject.toml").read_text()
    assert 'sspinn-adapt = "train.adapt_cli:main"' in text


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_missing_model(tmp_path, capsys):
    rc = adapt_main(
        ["--model", str(tmp_path / "nope"), "--data", "bundled:P01_walking", "--out", "x"]
    )
    assert rc == 2
    assert "no such model" in _one_line_error(capsys)
    (tmp_path / "m.sspinn").write_bytes(b"x")
    rc = adapt_main(["--model", str(tmp_path / "m.sspinn"), "--data", "P01_walking", "--out", "x"])
    assert rc == 2
    assert "bundle cannot be adapted" in _one_line_error(capsys)
    (tmp_path / "empty").mkdir()
    rc = adapt_main(["--model", str(tmp_path / "empty"), "--data", "P01_walking", "--out", "x"])
    assert rc == 2
    assert "not a checkpoint" in _one_line_error(capsys)


def test_missing_and_unreadable_recordings(tmp_path, walking, capsys):
    out = str(tmp_path / "out")
    assert adapt_main(["--data", str(tmp_path / "none.csv"), "--out", out]) == 2
    assert "no such recording" in _one_line_error(capsys)
    assert adapt_main(["--data", "bundled:P99_jumping", "--out", out]) == 2
    assert "P99_jumping" in _one_line_error(capsys)
    bad = _write(walking, tmp_path / "bad.csv")
    lines = bad.read_text().splitlines()
    lines[5] = lines[5].replace(",", ",x", 1)
    bad.write_text("\n".join(lines) + "\n")
    assert adapt_main(["--data", str(bad), "--out", out]) == 2
    assert "line 6" in _one_line_error(capsys)
    nosidecar = tmp_path / "lonely.csv"
    nosidecar.write_text("time_s\n0\n")
    assert adapt_main(["--data", str(nosidecar), "--out", out]) == 2
    assert "sidecar" in _one_line_error(capsys)
    (tmp_path / "emptydir").mkdir()
    assert adapt_main(["--data", str(tmp_path / "emptydir"), "--out", out]) == 2
    assert "no recording" in _one_line_error(capsys)
    assert not Path(out).exists()


def test_wrong_sensors_and_rate(tmp_path, walking, capsys):
    out = str(tmp_path / "out")
    keep = [s for s in walking.sensors if s != "tibia_l"]
    idx = [walking.sensors.index(s) for s in keep]
    meta = walking.meta.model_copy(
        update={"sensors": {s: walking.meta.sensors[s] for s in keep}, "columns": None}
    )
    fewer = Recording(walking.time_s, tuple(keep), walking.imu[:, idx], meta, {}, None)
    path = _write(fewer, tmp_path / "six.csv")
    assert adapt_main(["--data", str(path), "--out", out]) == 2
    assert "lacks sensors ['tibia_l']" in _one_line_error(capsys)
    slow_meta = walking.meta.model_copy(update={"sample_period_s": 0.05, "columns": None})
    slow = Recording(
        walking.time_s[:200] * 5.0, walking.sensors, walking.imu[:200], slow_meta, {}, None
    )
    path = _write(slow, tmp_path / "slow.csv")
    assert adapt_main(["--data", str(path), "--out", out]) == 2
    assert "too slow" in _one_line_error(capsys)


def test_out_must_not_be_the_base_model_or_an_existing_checkpoint(tmp_path, capsys):
    rc = adapt_main(["--data", "P01_walking", "--out", str(default_model())])
    assert rc == 2
    assert "base model's folder" in _one_line_error(capsys)
    (tmp_path / "checkpoint.json").write_text("{}")
    assert adapt_main(["--data", "P01_walking", "--out", str(tmp_path)]) == 2
    assert "--force" in _one_line_error(capsys)


def test_bad_settings_are_one_line(capsys):
    assert adapt_main(["--data", "P01_walking", "--out", "x", "--replay-fraction", "1.5"]) == 2
    assert "--replay-fraction" in _one_line_error(capsys)


def test_nothing_usable_after_filtering(tmp_path, walking, capsys):
    from edge.mounting import Mounting

    # A stored mounting, so that a segment-axis model gets past the mounting to the windows.
    known = walking.meta.model_copy(
        update={"calibration": Mounting.zero(walking.sensors).to_sidecar()}
    )
    short = Recording(walking.time_s[:150], walking.sensors, walking.imu[:150], known, {}, None)
    path = _write(short, tmp_path / "short.csv")
    rc = adapt_main(["--data", str(path), "--out", str(tmp_path / "out"), "-q"])
    assert rc == 2
    err = _one_line_error(capsys)
    assert "nothing usable" in err and "shorter than one window" in err


# ------------------------------------------------------------------ stretches


def test_straight_walking_is_not_turning(walking):
    mask, info = turning_mask(walking)
    assert info["sensor"] == "pelvis"
    assert not mask.any()
    assert info["max_yaw_rate_deg_s"] < 10.0  # the stride's pelvis rotation averages out
    assert not standing_mask(walking).any()


def test_turns_are_found_where_they_are(walking):
    rec = _turned(walking, [(20.0, 2.0, 90.0), (40.0, 3.0, -180.0)])
    mask, info = turning_mask(rec)
    t = rec.time_s - rec.time_s[0]
    assert info["sensor"] == "pelvis"
    for t0, dur in ((20.0, 2.0), (40.0, 3.0)):
        mid = np.abs(t - (t0 + dur / 2)) < 0.5
        assert mask[mid].all()
    # Away from the turns (beyond the smoothing and the margin) nothing is flagged.
    far = (t < 17.0) | ((t > 26.0) & (t < 37.0)) | (t > 47.0)
    assert not mask[far].any()
    assert info["stretches"] == 2
    assert 240.0 <= info["turned_deg"] <= 300.0
    # A gentle drift (a 5 m radius curve at 1.3 m/s is 15°/s) below the threshold stays in.
    slow_curve = _turned(walking, [(10.0, 40.0, 16.0 * 40.0 / 2.0)])  # peak 16°/s
    m2, _ = turning_mask(slow_curve, AdaptSettings(turn_rate_deg_s=20.0))
    assert not m2.any()


def test_turning_from_another_sensor_or_not_at_all(walking):
    rec = _turned(walking, [(20.0, 2.0, 90.0)])
    imu = rec.imu.copy()
    imu[:, 0, 3:5] = np.nan  # the pelvis has only gyr_z
    imu[:, 0, 2] = np.nan
    mask, info = turning_mask(_with_imu(rec, imu))
    assert info["sensor"] == "femur_r"
    assert mask[np.abs(rec.time_s - rec.time_s[0] - 21.0) < 0.5].all()
    planar = rec.imu.copy()
    planar[:, :, [2, 3, 4]] = np.nan  # only acc_x, acc_y, gyr_z recorded
    mask, info = turning_mask(_with_imu(rec, planar))
    assert info["sensor"] is None and "cannot be detected" in info["note"]
    assert not mask.any()
    zeros = rec.imu.copy()
    zeros[:, :, [2, 3, 4]] = 0.0  # written as zeros instead of NaN: no information either
    assert turning_mask(_with_imu(rec, zeros))[1]["sensor"] is None


def _standing_then_walking(walking: Recording, stand_s: float) -> Recording:
    n = round(stand_s * RATE)
    imu = walking.imu.copy()
    rng = np.random.default_rng(0)
    still = np.nanmean(walking.imu[:, :, :3], axis=0)
    still = still / np.linalg.norm(still, axis=1, keepdims=True) * 9.81
    imu[:n, :, :3] = still[None] + rng.normal(0, 0.05, (n, len(walking.sensors), 3))
    imu[:n, :, 3:] = rng.normal(0, 0.01, (n, len(walking.sensors), 3))
    return _with_imu(walking, imu)


def _user(rec: Recording, settings: AdaptSettings | None = None) -> UserRecording:
    ur = UserRecording("test", rec, [])
    ur.standing = standing_mask(rec, settings)
    ur.turning, info = turning_mask(rec, settings, ur.standing)
    ur.turn_sensor = info["sensor"]
    return ur


def test_windows_left_out_for_turns_gaps_and_too_much_standing(walking):
    rec = _turned(_standing_then_walking(walking, 20.0), [(40.0, 2.0, 90.0)])
    imu = rec.imu.copy()
    imu[3000:3080, 2, :] = np.nan  # 0.8 s gap on tibia_r at 30 s
    imu[5000:5010, 5, :] = np.nan  # 0.1 s gap on tibia_l at 50 s: kept
    rec = _with_imu(rec, imu)
    ur = _user(rec)
    t = rec.time_s - rec.time_s[0]
    assert ur.standing[(t > 1.0) & (t < 19.0)].all()
    assert not ur.standing[t > 21.0].any()
    sel = select_windows([ur], list(SENSOR_NAMES), 256, 32, AdaptSettings())
    rep = sel.report
    starts = sel.starts[0]
    assert rep["windows"] == len(np.arange(0, rec.n_samples - 256 + 1, 32))
    # Kept windows hold at most 0.5 s of the gap, and none of the turn's core.
    assert (np.minimum(starts + 256, 3080) - np.maximum(starts, 3000)).max() <= 50
    assert not ((starts < 4200) & (starts + 256 > 4000)).any()
    assert rep["left_out_gaps"] >= 5 and rep["left_out_turning"] >= 10
    assert ((starts < 5010) & (starts + 256 > 5000)).any()  # a short gap trains
    assert rep["standing_share_before"] > 0.3
    assert rep["standing_share_used"] <= 0.25 + 1e-9
    assert rep["standing_windows"] - rep["standing_left_out"] > 0  # standing is kept, thinned
    assert rep["windows_used"] == len(starts)
    unlimited = select_windows(
        [ur], list(SENSOR_NAMES), 256, 32, AdaptSettings(max_standing_share=1)
    )
    assert unlimited.report["standing_left_out"] == 0


def test_nothing_left_names_the_reasons(walking):
    rec = _turned(walking, [(2.0 * k, 2.0, 90.0) for k in range(31)])  # turning all along
    with pytest.raises(AdaptError, match=r"nothing usable.*while turning"):
        select_windows([_user(rec)], list(SENSOR_NAMES), 256, 32)


# ------------------------------------------------------------------ recorder sessions


def test_recorder_session_folder_is_joined(tmp_path, walking):
    from edge.recorder import Recorder

    rec = walking
    with Recorder(
        tmp_path / "rec",
        device_id="belt-01",
        sidecar=rec.meta,
        sample_rate_hz=RATE,
        segment_s=20.0,
        fsync_interval_s=0.0,
    ) as recorder:
        session = recorder.start()
        for i in range(rec.n_samples):
            recorder.append(float(rec.time_s[i]), rec.imu[i])
        closed = recorder.stop()
    assert len(closed) == 4  # 60.7 s in 20 s segments
    (session / "belt-01_19700101T000000Z_00003.csv.part").write_text("time_s\n")
    loaded = load_recordings([str(session)], list(SENSOR_NAMES), RATE)
    assert len(loaded) == 1
    assert loaded[0].rec.n_samples == rec.n_samples
    assert sorted(loaded[0].files) == sorted(closed)
    np.testing.assert_allclose(loaded[0].rec.imu, rec.imu, rtol=1e-8, atol=1e-8)
    # A folder of sessions: one recording per session.
    two = load_recordings([str(tmp_path / "rec")], list(SENSOR_NAMES), RATE)
    assert len(two) == 1
    # A break in time starts a new recording.
    closed[1].unlink()
    closed[1].with_suffix(".json").unlink()
    parts = load_recordings([str(session)], list(SENSOR_NAMES), RATE)
    assert len(parts) == 2 and all("#" in p.label for p in parts)


def test_truth_columns_are_dropped(tmp_path):
    loaded = load_recordings(["bundled:P01_walking"], list(SENSOR_NAMES), RATE)
    assert loaded[0].rec.truth == {}
    assert loaded[0].label == "bundled:P01_walking"
    assert load_recordings(["P01_running"], list(SENSOR_NAMES), RATE)[0].rec.truth == {}


# ------------------------------------------------------------------ configuration


def test_adaptation_settings():
    s = AdaptSettings()
    assert s.replay_fraction == 0.5
    assert s.minutes * 60 <= 540  # the whole command within 10 min, 1 min to spare
    assert s.learning_rate < 2e-3 and s.final_learning_rate < s.learning_rate
    assert s.warmup_steps <= 50
    # Warmup, then cosine from the peak to the final rate over the budget.
    assert _lr_at(s, 0, 0.0) == pytest.approx(s.learning_rate / s.warmup_steps)
    assert _lr_at(s, s.warmup_steps, 0.0) == pytest.approx(s.learning_rate)
    assert _lr_at(s, 1000, 1.0) == pytest.approx(s.final_learning_rate)
    with pytest.raises(ValueError):
        AdaptSettings(surprise=1)


def test_base_config_is_the_checkpoints_own(tmp_path):
    from train.adapt import base_training_config
    from train.checkpoint import read_checkpoint_meta
    from train.train_cli import bundled_config

    base = read_base(default_model())
    assert base.input_axes == read_checkpoint_meta(default_model()).input_axes
    assert base.sensors == list(SENSOR_NAMES)
    cfg = base_training_config(base)
    assert cfg.losses.eom == 1000.0  # the shipped config's, not the LossWeights default
    assert cfg.network.model_dump() == base.raw["network"]
    assert cfg.data.rate_hz == base.sample_rate_hz
    meta = json.loads((default_model() / "checkpoint.json").read_text())
    del meta["provenance"]["config"]
    (tmp_path / "checkpoint.json").write_text(json.dumps(meta))
    bare = read_base(tmp_path)
    with pytest.raises(AdaptError, match="--config"):
        base_training_config(bare)
    assert base_training_config(bare, bundled_config("quick")).name == "quick"


def test_segment_axis_checkpoints_get_the_mounting_undone(walking):
    from dataclasses import replace

    from edge.mounting import from_segment_axes
    from train.adapt import base_training_config, prepare
    from train.inputs import in_segment_axes

    base = read_base(default_model())
    cfg = base_training_config(base)
    beta = np.zeros(len(walking.sensors))
    beta[2] = np.radians(12.0)
    tilted = _with_imu(walking, from_segment_axes(walking.imu, beta))
    ur = UserRecording("tilted", tilted, [])
    prepare([ur], replace(base, input_axes="segment"), cfg)
    expected, _ = in_segment_axes(tilted)
    np.testing.assert_allclose(ur.rec.imu, expected.imu)
    assert any("mounting undone" in n for n in ur.notes)
    ur2 = UserRecording("tilted", tilted, [])
    prepare([ur2], replace(base, input_axes="sensor"), cfg)
    np.testing.assert_array_equal(ur2.rec.imu, tilted.imu)  # a sensor-axis model: as recorded


def test_old_checkpoints_stay_readable(tmp_path):
    from train.checkpoint import read_checkpoint_meta

    meta = read_checkpoint_meta(default_model())
    assert meta.adapted_from is None


# ------------------------------------------------------------------ end to end


@pytest.mark.slow
def test_adapt_a_quick_model_then_eval_and_convert(tmp_path, capsys):
    from converters.cli import main as convert_main
    from train.checkpoint import read_checkpoint_meta
    from train.config import load_train_config
    from train.data.synthetic import posture_heldout_specs, synthesize
    from train.eval_cli import main as eval_main
    from train.train_cli import bundled_config
    from train.trainer import Trainer

    cfg = load_train_config(bundled_config("quick"))
    cfg.data.real_cycles = 8
    cfg.optim.steps = 10
    base = Trainer(cfg, tmp_path / "base").train(progress=False)

    _, spec = posture_heldout_specs()[6]  # a small, slow walker the model has not seen
    labelled = synthesize(spec)
    truth_csv = _write(labelled, tmp_path / "subject_truth.csv")
    mine = _turned(labelled.without_truth(), [(15.0, 2.0, 90.0)])
    user_csv = _write(mine, tmp_path / "subject.csv")
    out = tmp_path / "adapted"
    capsys.readouterr()
    rc = adapt_main(
        ["--model", str(base), "--data", str(user_csv), "--out", str(out), "--steps", "6", "-q"]
    )
    assert rc == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out.split("\ncheckpoint:")[0])
    assert summary["steps"] == 6 and summary["left_out_turning"] > 0

    report = json.loads((out / "adaptation.json").read_text())
    assert report["steps"] == 6 and report["stopped_by"] == "steps"
    assert report["labels_used"] is False
    assert set(report["loss_before"]) == {"user", "base_data"}
    for when in ("loss_before", "loss_after"):
        assert math.isfinite(report[when]["user"]["loss"])
    assert report["data"]["windows_used"] < report["data"]["windows"]
    assert report["replay"]["fraction"] == 0.5
    meta = read_checkpoint_meta(out)
    assert meta.adapted_from is not None
    assert meta.adapted_from.model == str(base) and meta.adapted_from.steps == 6
    assert meta.adapted_from.recordings[0]["files"] == [str(user_csv)]
    assert meta.step == 10 + 6 and meta.input_axes == "sensor"
    assert meta.norm_mean == read_checkpoint_meta(base).norm_mean  # the base's input scaling
    assert meta.provenance["labels_used"] is False

    assert eval_main(["--model", str(out), "--data", str(truth_csv), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert math.isfinite(metrics["angle_rmse_deg"]["mean"])
    bundle = tmp_path / "adapted.sspinn"
    rc = convert_main(
        [str(out), "--quantize", "float32", "--out", str(bundle), "--data", str(truth_csv)]
    )
    assert rc == 0
    assert bundle.stat().st_size > 10_000
