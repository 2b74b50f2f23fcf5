"""The shipped default model and bundle: reports are current, the paper's bar holds,
and the bundle (int8 weights, float activations) stays within its accuracy budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.bundle import read_bundle
from edge.recording import bundled_recording_path
from train.checkpoint import read_checkpoint_meta
from train.evaluation import evaluate, load_model
from train.inputs import at_model_rate

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "train" / "models" / "default"
BUNDLE = ROOT / "edge" / "models" / "default.sspinn"
#: SSPINNpose paper, causal LSTM, P01-type lab data.
PAPER = {
    "angle_rmse_deg": 8.7,
    "moment_rmse_bwbh": 4.9,
    "grf_rmse_bw_pct": 16.4,
    "speed_abs_err_m_s": 0.19,
}


@pytest.fixture(scope="module")
def walking():
    ckpt = evaluate(load_model(CHECKPOINT), bundled_recording_path("P01_walking")).metrics
    bundle = evaluate(load_model(BUNDLE), bundled_recording_path("P01_walking")).metrics
    return ckpt, bundle


def _mean(m: dict, key: str) -> float:
    v = m[key]
    return v["mean"] if isinstance(v, dict) else v


def test_shipped_report_is_what_the_checkpoint_produces(walking):
    report = json.loads((CHECKPOINT / "eval" / "report.json").read_text())
    saved = report["results"]["P01_walking"]
    for key in PAPER:
        assert _mean(saved, key) == pytest.approx(_mean(walking[0], key), rel=1e-5, abs=1e-6)
    assert (CHECKPOINT / "eval" / "P01_walking.png").stat().st_size > 10_000


def test_beats_the_paper_on_p01_walking_without_labels(walking):
    ckpt, bundle = walking
    for m in (ckpt, bundle):
        for key, bar in PAPER.items():
            assert _mean(m, key) <= bar, (key, _mean(m, key), bar)
    meta = read_checkpoint_meta(CHECKPOINT)
    assert meta.provenance["labels_used"] is False


def test_running_speed_and_flight_phase():
    m = evaluate(load_model(CHECKPOINT), bundled_recording_path("P01_running")).metrics
    assert 3.0 <= m["speed_estimate_m_s"] <= 4.0  # true 3.47 m/s
    assert m["flight_fraction"] > 0.2  # near-zero total vertical GRF for part of the cycle
    for side in ("r", "l"):
        stance = m["stance"][side]
        assert stance["phases"] >= 3
        assert 0.2 <= stance["fraction"] <= 0.45, (side, stance)
        assert 150 <= stance["peak_vertical_grf_bw_pct"] <= 400, (side, stance)


def test_bundle_size_and_accuracy_budget(walking):
    ckpt, bundle = walking
    verified = read_bundle(BUNDLE)
    assert verified.manifest.quantization == "dynamic"  # int8 weights, float activations
    assert verified.manifest.input_axes == read_checkpoint_meta(CHECKPOINT).input_axes
    assert BUNDLE.stat().st_size <= 300_000
    assert _mean(bundle, "angle_rmse_deg") - _mean(ckpt, "angle_rmse_deg") <= 0.2
    assert _mean(bundle, "moment_rmse_bwbh") - _mean(ckpt, "moment_rmse_bwbh") <= 0.1
    assert _mean(bundle, "grf_rmse_bw_pct") - _mean(ckpt, "grf_rmse_bw_pct") <= 0.5
    # The bundle comes from the shipped checkpoint (same inputs and normalisation).
    meta = read_checkpoint_meta(CHECKPOINT)
    assert verified.manifest.input_features == meta.input_features
    assert verified.manifest.normalisation.mean == pytest.approx(meta.norm_mean)


def test_bundle_report_is_current(walking):
    report = json.loads((ROOT / "edge" / "models" / "default.report.json").read_text())
    saved = report["accuracy"]["P01_walking"]["bundle"]
    for key in ("angle_rmse_deg", "moment_rmse_bwbh", "grf_rmse_bw_pct"):
        assert saved[key] == pytest.approx(_mean(walking[1], key), rel=1e-5, abs=1e-6)
    assert report["bundle_bytes"] == BUNDLE.stat().st_size


def test_bundle_resolves_fine_steps_like_the_float_model():
    """The shipped bundle's outputs are not quantised to coarse levels (a full-int8 output
    took ~0.6° steps): on P01 walking every published angle and force channel takes
    distinct values almost every frame, the gaps between its sorted distinct values are
    below 0.05° and 0.002 BW (median), and the payload rounding keeps that resolution."""
    from edge.mqtt.payloads import ROUND_DIGITS

    rec = bundled_recording_path("P01_walking")
    out = load_model(BUNDLE).run(at_model_rate(rec, 100.0))
    for key, fine in (("angles_deg", 0.05), ("grf_bw", 0.002)):
        values = out[key][100:]
        for ch in range(values.shape[1]):
            levels = np.unique(values[:, ch])
            assert len(levels) > 0.9 * len(values), (key, ch, len(levels))
            assert np.median(np.diff(levels)) < fine, (key, ch, np.median(np.diff(levels)))
        assert 10.0 ** -ROUND_DIGITS[key] <= fine
