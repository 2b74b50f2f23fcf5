"""Training inputs: varied tiling, window banks, the tf.data pipeline, and no labels."""

from __future__ import annotations

import numpy as np
import pytest

from edge.features import feature_names
from edge.recording import SENSOR_NAMES, read_recording
from train.config import ConfigError, DataConfig, TrainConfig, load_train_config
from train.data.augment import varied_tiling
from train.data.windows import WINDOW_KEYS, make_dataset, window_bank
from train.inputs import recording_features
from train.normalisation import compute_normalisation
from train.sources import real_sources


def test_varied_tiling_is_continuous_and_varied(p01_walking_csv):
    rec = read_recording(p01_walking_csv)
    rng = np.random.default_rng(0)
    tiled = varied_tiling(rec, 20, 100.0, rng, time_warp=0.03, amplitude_jitter=0.03)
    assert tiled.truth == {} and tiled.sample_rate_hz == pytest.approx(100.0)
    assert tiled.n_samples == int(20 * 1.2135 * 100)
    gyr = tiled.channel("tibia_r", "gyr_z")
    # Continuous: no sample-to-sample jump larger than in the original cycle at 82 Hz.
    orig_jump = np.abs(
        np.diff(np.r_[rec.channel("tibia_r", "gyr_z"), rec.channel("tibia_r", "gyr_z")[0]])
    ).max()
    assert np.abs(np.diff(gyr)).max() < orig_jump
    # Varied: stride peaks differ by a few percent, not more than ~10 %.
    peaks = [gyr[int(i * 121.35) : int((i + 1) * 121.35)].max() for i in range(1, 18)]
    spread = (max(peaks) - min(peaks)) / np.mean(peaks)
    assert 0.005 < spread < 0.15
    # Zero jitter reproduces the exact tiling.
    exact = varied_tiling(
        rec, 5, 1 / rec.meta.sample_period_s, rng, time_warp=0, amplitude_jitter=0
    )
    np.testing.assert_allclose(exact.imu[100:200], rec.imu, atol=1e-9)


def test_window_bank_refuses_truth(p01_walking_csv):
    rec = read_recording(p01_walking_csv)
    from edge.recording import tile_cycles

    with pytest.raises(ValueError, match="must not carry truth"):
        window_bank([tile_cycles(rec, 5)], SENSOR_NAMES, 64, 16)


def test_truth_never_reaches_the_training_batch(p01_walking_csv, tmp_path):
    """Changing every truth column changes nothing the training step receives."""
    cfg = DataConfig(real_recordings=[str(p01_walking_csv)], real_cycles=6, window=64, stride=32)
    recs_a = real_sources(cfg, seed=3)
    # Same file with truth scrambled.
    rec = read_recording(p01_walking_csv)
    for k in rec.truth:
        rec.truth[k][:] = np.random.default_rng(1).normal(size=rec.n_samples) * 100
    from edge.recording import write_recording

    scrambled = write_recording(rec, tmp_path / "scrambled.csv")
    recs_b = real_sources(cfg.model_copy(update={"real_recordings": [str(scrambled)]}), seed=3)
    bank_a = window_bank(recs_a, SENSOR_NAMES, 64, 32)
    bank_b = window_bank(recs_b, SENSOR_NAMES, 64, 32)
    assert set(bank_a.arrays) == set(WINDOW_KEYS)
    for key in WINDOW_KEYS:
        np.testing.assert_array_equal(bank_a.arrays[key], bank_b.arrays[key])
    names = feature_names(SENSOR_NAMES)
    mean, std = compute_normalisation(
        [recording_features(r, SENSOR_NAMES) for r in recs_a], names, 7
    )
    ds = make_dataset(
        [bank_a],
        [1.0],
        batch_size=4,
        norm_mean=mean,
        norm_std=std,
        acc_noise=0.0,
        gyr_noise=0.0,
        seed=0,
    )
    batch = next(iter(ds))
    assert set(batch) == {*WINDOW_KEYS, "features"}
    assert batch["features"].shape == (4, 64, 37)
    # Features are exactly the normalised measured IMU + static inputs.
    imu = batch["imu"].numpy()
    np.testing.assert_allclose(
        batch["features"].numpy()[..., :21],
        (imu.reshape(4, 64, 21) - mean[:21]) / std[:21],
        rtol=1e-5,
        atol=1e-5,
    )


def test_mixing_proportions(p01_walking_csv, p01_running_csv):
    cfg = DataConfig(real_recordings=[str(p01_walking_csv)], real_cycles=6, window=32, stride=32)
    walk = window_bank(real_sources(cfg, 0), SENSOR_NAMES, 32, 32)
    cfg_r = cfg.model_copy(update={"real_recordings": [str(p01_running_csv)]})
    run = window_bank(real_sources(cfg_r, 0), SENSOR_NAMES, 32, 32)
    names = feature_names(SENSOR_NAMES)
    mean, std = np.zeros(37), np.ones(37)
    ds = make_dataset(
        [walk, run],
        [0.8, 0.2],
        batch_size=50,
        norm_mean=mean,
        norm_std=std,
        acc_noise=0,
        gyr_noise=0,
        seed=1,
    )
    # Running has a far higher peak foot angular velocity: use it to tell the sources apart.
    batch = next(iter(ds))
    peak = np.abs(batch["imu"].numpy()[:, :, 3, 2]).max(axis=1)
    threshold = 0.5 * (
        np.abs(walk.arrays["imu"][:, :, 3, 2]).max() + np.abs(run.arrays["imu"][:, :, 3, 2]).max()
    )
    share_run = float(np.mean(peak > threshold))
    assert 0.05 <= share_run <= 0.4, share_run
    assert len(names) == 37


def test_noise_is_added_to_input_and_target_alike(p01_walking_csv):
    cfg = DataConfig(real_recordings=[str(p01_walking_csv)], real_cycles=6, window=32, stride=32)
    bank = window_bank(real_sources(cfg, 0), SENSOR_NAMES, 32, 32)
    ds = make_dataset(
        [bank],
        [1.0],
        batch_size=8,
        norm_mean=np.zeros(37),
        norm_std=np.ones(37),
        acc_noise=0.5,
        gyr_noise=0.1,
        seed=2,
    )
    batch = next(iter(ds))
    imu = batch["imu"].numpy()
    np.testing.assert_allclose(
        batch["features"].numpy()[..., :21], imu.reshape(8, 32, 21), atol=1e-5
    )
    clean = bank.arrays["imu"]
    # The noisy windows are no longer exactly any clean window.
    assert not any(np.allclose(imu[0], c) for c in clean)


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nwindow = 8\nbogus = 1\n")
    with pytest.raises(ConfigError) as err:
        load_train_config(bad)
    assert "data.window" in str(err.value) and "data.bogus" in str(err.value)
    with pytest.raises(ConfigError, match="not found"):
        load_train_config(tmp_path / "missing.toml")
    assert TrainConfig().data.window == 256
