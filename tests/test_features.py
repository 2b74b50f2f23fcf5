"""One feature definition: training (tf.data through tf.experimental.numpy), evaluation
and the device's per-step assembler give the same network input, missing samples
included; training on a recording with NaN gaps works."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow.experimental.numpy as tnp

from edge.features import (
    FeatureAssembler,
    feature_names,
    model_features,
    planar_channels,
    static_features,
)
from edge.recording import SENSOR_NAMES, bundled_recording_path, read_recording, write_recording
from edge.recording.timebase import tile_cycles
from train.config import load_train_config
from train.data.windows import make_dataset, window_bank
from train.inputs import normalise, recording_features
from train.train_cli import bundled_config
from train.trainer import Trainer

S = len(SENSOR_NAMES)


def _inputs(seed: int = 3, n: int = 200):
    rng = np.random.default_rng(seed)
    imu = rng.normal(0.0, 4.0, (n, S, 6))
    imu[10, 2, :] = np.nan  # one sensor's sample missing
    imu[20:35, 5, 0] = np.nan  # a gap in one channel
    imu[40, :, :] = np.nan  # a whole sample missing
    imu[50, 1, 5] = np.inf  # a broken value
    static = static_features(1.72, 68.0, rng.normal(0, 0.1, (S, 3)))
    n_feat = len(feature_names(SENSOR_NAMES))
    mean = rng.normal(0, 1, n_feat)
    std = rng.uniform(0.5, 3.0, n_feat)
    return imu, static, mean, std


def test_device_assembler_equals_the_definition_nan_included() -> None:
    imu, static, mean, std = _inputs()
    reference = model_features(planar_channels(imu), static, mean, std)
    assert reference.shape == (imu.shape[0], len(feature_names(SENSOR_NAMES)))
    assert np.all(np.isfinite(reference))
    asm = FeatureAssembler(S, static, mean, std)
    rows = np.stack([asm.assemble(row)[0].copy() for row in imu])
    np.testing.assert_allclose(rows, reference, rtol=2e-5, atol=2e-5)
    # missing values are the feature mean (0 after normalisation), others are not
    n_imu = 3 * S
    assert np.all(rows[40, :n_imu] == 0.0)
    np.testing.assert_allclose(rows[40, n_imu:], reference[0, n_imu:], rtol=1e-6)
    assert rows[50, 3 * 1 + 2] == 0.0  # gyr_z of femur_r was inf
    assert np.count_nonzero(rows[:, :n_imu] == 0.0) == 3 + 15 + n_imu + 1


def test_training_pipeline_equals_the_definition_nan_included() -> None:
    imu, static, mean, std = _inputs()
    planar = planar_channels(imu).astype(np.float32)
    via_tf = model_features(
        tf.constant(planar), tf.constant(static, tf.float32), mean, std, xp=tnp
    ).numpy()
    reference = model_features(planar_channels(imu), static, mean, std)
    np.testing.assert_allclose(via_tf, reference, rtol=2e-5, atol=2e-5)
    # the evaluation path (whole recordings) is the same function
    np.testing.assert_allclose(
        normalise(np.concatenate([planar.reshape(len(imu), -1), np.tile(static, (len(imu), 1))], 1),
                  mean, std),
        reference, rtol=2e-5, atol=2e-5,
    )  # fmt: skip


@pytest.fixture(scope="module")
def gapped_recording(tmp_path_factory):
    """P01 walking as a continuous 30 s recording with sensor dropouts (NaN)."""
    rec = tile_cycles(read_recording(bundled_recording_path("P01_walking")), 27, rate_hz=100.0)
    rec = rec.without_truth()
    imu = rec.imu.copy()
    imu[300:345, SENSOR_NAMES.index("tibia_r"), :] = np.nan  # 0.45 s dropout
    imu[1200, :, :] = np.nan  # one lost sample on every sensor
    imu[2000:2100, SENSOR_NAMES.index("foot_l"), 3:] = np.nan  # gyro dropout
    rec.imu[...] = imu
    folder = tmp_path_factory.mktemp("gapped")
    path = folder / "gapped_walk.csv"
    write_recording(rec, path)
    back = read_recording(path)
    assert np.isnan(back.imu).sum() == np.isnan(imu).sum() > 0
    return path


def test_windows_with_gaps_give_finite_features(gapped_recording) -> None:
    rec = read_recording(gapped_recording)
    raw = recording_features(rec, list(SENSOR_NAMES))
    mean, std = np.nanmean(raw, 0), np.nanstd(raw, 0) + 0.1
    bank = window_bank([rec], SENSOR_NAMES, window=256, stride=64)
    assert np.isnan(bank.arrays["imu"]).any()
    ds = make_dataset(
        [bank], [1.0], batch_size=8, norm_mean=mean, norm_std=std,
        acc_noise=0.05, gyr_noise=0.01, seed=0,
    )  # fmt: skip
    seen_gap = False
    for batch in ds.take(6):
        feats = batch["features"].numpy()
        assert np.all(np.isfinite(feats))
        gap = np.isnan(batch["imu"].numpy())
        seen_gap |= bool(gap.any())
        # where the measurement is missing the feature is exactly the mean (0)
        planar_feats = feats[..., : 3 * S].reshape(gap.shape)
        assert np.all(planar_feats[gap] == 0.0)
    assert seen_gap


@pytest.mark.slow
def test_training_on_a_recording_with_gaps(gapped_recording, tmp_path) -> None:
    cfg = load_train_config(bundled_config("quick"))
    cfg.data.real_recordings = [str(gapped_recording)]
    cfg.optim.steps = 40
    cfg.optim.physics_warmup_steps = 10
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.train(progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 4
    for row in history:
        assert all(np.isfinite(v) for v in row.values()), row
    assert history[-1]["imu_gyr"] < history[0]["imu_gyr"]
