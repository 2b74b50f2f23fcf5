"""End to end: the quick config trains without labels, every loss term goes down, the
checkpoint evaluates and resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from train.config import load_train_config
from train.eval_cli import main as eval_main
from train.train_cli import bundled_config
from train.train_cli import main as train_main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    assert train_main(["--quick", "--out", str(out), "--quiet", "--no-eval"]) == 0
    return out


def test_every_loss_term_decreases(quick_run):
    """Each term's mean over the last 20 % of logged steps is below its mean over the first
    20 %, unless its weighted value stays negligible (< 1 % of the total loss) throughout."""
    history = json.loads((quick_run / "history.json").read_text())
    cfg = load_train_config(bundled_config("quick"))
    weights = {t: w for t, w in cfg.losses.model_dump().items() if w > 0}  # 0: not computed
    k = max(1, len(history) // 5)
    first = {t: np.mean([r[t] for r in history[:k]]) for t in weights}
    last = {t: np.mean([r[t] for r in history[-k:]]) for t in weights}
    total_last = np.mean([r["loss"] for r in history[-k:]])
    report = {t: (round(first[t], 5), round(last[t], 5)) for t in weights}
    for term, w in weights.items():
        negligible = w * max(first[term], last[term]) < 0.01 * total_last
        assert last[term] < first[term] or negligible, (term, report)
    # The terms that carry the method really improve.
    for term in ("imu_acc", "imu_gyr", "eom", "penetration"):
        assert last[term] < 0.7 * first[term], (term, report)
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]


def test_checkpoint_evaluates_with_json_keys(quick_run, capsys):
    assert (
        eval_main(
            ["--model", str(quick_run / "checkpoint"), "--data", "bundled:P01_walking", "--json"]
        )
        == 0
    )
    metrics = json.loads(capsys.readouterr().out)
    for key in ("angle_rmse_deg", "moment_rmse_bwbh", "grf_rmse_bw_pct"):
        assert set(metrics[key]) >= {"mean"} and len(metrics[key]) >= 3
    assert {"hip_flexion_r", "knee_angle_r", "ankle_angle_r"} <= set(metrics["angle_rmse_deg"])
    assert metrics["speed_abs_err_m_s"] >= 0
    assert "pearson_r" in metrics
    # A few hundred steps already track the real knee angle (r > 0.8) without labels.
    assert metrics["pearson_r"]["knee_angle_r"] > 0.8, metrics["pearson_r"]


def test_resume_continues_from_saved_step(quick_run):
    before = json.loads((quick_run / "history.json").read_text())[-1]["step"]
    cfg = load_train_config(bundled_config("quick"))
    assert before == cfg.optim.steps
    rc = train_main(
        [
            "--quick",
            "--out",
            str(quick_run),
            "--resume",
            "--steps",
            str(before + 20),
            "--quiet",
            "--no-eval",
        ]
    )
    assert rc == 0
    history = json.loads((quick_run / "history.json").read_text())
    assert history[-1]["step"] == before + 20
    steps = [r["step"] for r in history]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)


def test_eval_plot_and_errors(quick_run, tmp_path, capsys):
    png = tmp_path / "walk.png"
    assert (
        eval_main(
            [
                "--model",
                str(quick_run / "checkpoint"),
                "--data",
                "bundled:P01_walking",
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    assert png.stat().st_size > 10_000
    assert "angle_rmse_deg: mean" in capsys.readouterr().out
    assert eval_main(["--model", str(tmp_path / "none"), "--data", "bundled:P01_walking"]) == 2
    assert "neither a checkpoint" in capsys.readouterr().err


def test_same_config_and_seed_give_identical_weights(tmp_path):
    """What makes the shipped model reproducible: op determinism + fixed seeds."""
    from train.checkpoint import load_checkpoint

    weights = []
    for run in ("a", "b"):
        out = tmp_path / run
        rc = train_main(["--quick", "--out", str(out), "--steps", "40", "--quiet", "--no-eval"])
        assert rc == 0
        model, _ = load_checkpoint(out / "checkpoint")
        weights.append([w.copy() for w in model.get_weights()])
    for wa, wb in zip(*weights, strict=True):
        np.testing.assert_array_equal(wa, wb)
