"""The shard cache: same windows as the in-memory path, keyed by content, streamed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from edge.features import feature_names
from edge.recording import SENSOR_NAMES, read_recording, tile_cycles, write_recording
from train.config import TrainConfig
from train.data.shards import build_cache, shard_windows
from train.data.windows import window_bank
from train.inputs import recording_features
from train.normalisation import (
    compute_normalisation,
    feature_moments,
    normalisation_from_moments,
)
from train.sources import real_recording_sources, real_sources
from train.trainer import Trainer


def _cfg(recordings: list[str], cache, *, noise: bool = True, **stream) -> TrainConfig:
    data = {
        "window": 64,
        "stride": 32,
        "batch_size": 8,
        "real_recordings": recordings,
        "real_cycles": 5,
    }
    if not noise:
        data.update(acc_noise=0.0, gyr_noise=0.0)
    return TrainConfig.model_validate(
        {
            "seed": 3,
            "data": data,
            "stream": {"cache_dir": str(cache), "windows_per_record": 5, **stream},
        }
    )


def _digests(windows) -> list[str]:
    """Sorted SHA-1 of each window's bytes: equal lists = the same windows (any order)."""
    return sorted(hashlib.sha1(np.ascontiguousarray(w).tobytes()).hexdigest() for w in windows)


def _batches(cfg: TrainConfig, tmp_path, n: int) -> tuple[list[dict], Trainer]:
    keras.utils.set_random_seed(cfg.seed)  # the noise's seed, as Trainer.train sets it
    trainer = Trainer(cfg, tmp_path / "out")
    it = iter(trainer._data())
    return [{k: v.numpy() for k, v in next(it).items()} for _ in range(n)], trainer


def test_streamed_windows_equal_the_in_memory_path(tmp_path, p01_walking_csv, p01_running_csv):
    """shuffle_buffer = 0: the same batches (windows, order, features) as today.

    Noise is off here: its random op takes its seed from per-process state, so two
    pipelines in one process draw different noise (the slow test below compares whole
    training runs, noise on, in fresh processes)."""
    recs = [str(p01_walking_csv), str(p01_running_csv)]
    memory = _cfg(recs, tmp_path / "cache", noise=False)
    stream = _cfg(recs, tmp_path / "cache", noise=False, enabled=True)
    a, t_mem = _batches(memory, tmp_path, 12)  # 96 windows: over three passes
    b, t_str = _batches(stream, tmp_path, 12)
    assert t_str.data_summary["real_windows"] == t_mem.data_summary["real_windows"] == 27
    np.testing.assert_allclose(t_str.mean, t_mem.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t_str.std, t_mem.std, rtol=1e-12)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in ("imu", "static", "height_m", "mass_kg", "positions"):
            np.testing.assert_array_equal(y[key], x[key], err_msg=key)
        np.testing.assert_allclose(y["features"], x["features"], rtol=1e-6, atol=1e-6)
    # Both runners and walkers are in it: not a stream of one repeated window.
    assert len({float(h) for batch in a for h in batch["imu"][:, 0, 0, 0]}) > 20


def test_cache_is_keyed_by_content_and_settings(tmp_path, p01_walking_csv, p01_running_csv):
    """A second build reads nothing; a changed file, or a changed setting, is re-read.
    Folders of recorder sessions give one source per session folder."""
    tree = tmp_path / "fleet"
    for belt, csv in (("belt-01", p01_walking_csv), ("belt-02", p01_running_csv)):
        rec = tile_cycles(read_recording(csv).without_truth(), 8, rate_hz=100.0)
        write_recording(rec, tree / belt / "session-1" / "seg.csv")
    (tree / "belt-02" / "session-1" / "next.csv.part").write_text("open segment")
    cfg = _cfg([str(tree)], tmp_path / "cache")
    assert [s.label for s in real_recording_sources(cfg.data)] == [
        str(tree / "belt-01" / "session-1"),
        str(tree / "belt-02" / "session-1"),
    ]
    first = build_cache(cfg, SENSOR_NAMES)
    assert (first.built, first.reused) == (2, 0)
    again = build_cache(cfg, SENSOR_NAMES)
    assert (again.built, again.reused) == (0, 2)
    assert [e.key for e in again.real] == [e.key for e in first.real]

    seg = tree / "belt-02" / "session-1" / "seg.csv"
    rec = read_recording(seg)
    rec.imu[10, 0, 0] += 1.0
    write_recording(rec, seg)
    changed = build_cache(cfg, SENSOR_NAMES)
    assert (changed.built, changed.reused) == (1, 1)
    assert changed.real[0].key == first.real[0].key and changed.real[1].key != first.real[1].key

    other = cfg.model_copy(update={"data": cfg.data.model_copy(update={"stride": 16})})
    restrided = build_cache(other, SENSOR_NAMES)
    assert restrided.built == 2
    assert restrided.real[0].n_windows > first.real[0].n_windows


def test_tiling_rng_runs_on_across_a_partly_reused_cache(
    tmp_path, p01_walking_csv, p01_running_csv
):
    """Two mean cycles share the tiling RNG: with the first one's entry reused and the
    second one's deleted, the rebuilt second entry equals the in-memory tiling."""
    cfg = _cfg([str(p01_walking_csv), str(p01_running_csv)], tmp_path / "cache")
    first = build_cache(cfg, SENSOR_NAMES)
    second = first.real[1]
    (tmp_path / "cache" / f"{second.key}.json").unlink()
    rebuilt = build_cache(cfg, SENSOR_NAMES)
    assert (rebuilt.built, rebuilt.reused) == (1, 1)
    bank = window_bank(real_sources(cfg.data, cfg.seed)[1:], SENSOR_NAMES, 64, 32)
    ds = shard_windows(
        rebuilt.paths(rebuilt.real[1:]),
        rebuilt.real[1].n_windows,
        window=64,
        stride=32,
        n_sensors=7,
        shuffle_buffer=0,
        interleave=1,
        seed=0,
    )
    streamed = [el["imu"].numpy() for el in ds.take(bank.size)]
    assert _digests(streamed) == _digests(bank.arrays["imu"])


def test_streaming_with_a_small_buffer_reads_every_window_once_per_pass(
    tmp_path, p01_walking_csv, p01_running_csv
):
    cfg = _cfg([str(p01_walking_csv), str(p01_running_csv)], tmp_path / "cache")
    shards = build_cache(cfg, SENSOR_NAMES)
    n = sum(e.n_windows for e in shards.real)
    assert len(shards.paths(shards.real)) == 2
    ds = shard_windows(
        shards.paths(shards.real),
        n,
        window=64,
        stride=32,
        n_sensors=7,
        shuffle_buffer=8,
        interleave=2,
        seed=1,
    )
    els = list(ds.take(2 * n).as_numpy_iterator())
    bank = window_bank(real_sources(cfg.data, cfg.seed), SENSOR_NAMES, 64, 32)
    want = _digests(bank.arrays["imu"])
    for part in (els[:n], els[n:]):
        assert _digests(e["imu"] for e in part) == want
    # The two passes come in different orders (file order and buffer reshuffled).
    order = [hashlib.sha1(e["imu"].tobytes()).hexdigest() for e in els]
    assert order[:n] != order[n:]


def test_normalisation_from_moments_equals_the_concatenated_statistics(p01_walking_csv):
    names = feature_names(SENSOR_NAMES)
    rec = tile_cycles(read_recording(p01_walking_csv).without_truth(), 6, rate_hz=100.0)
    feats = recording_features(rec, list(SENSOR_NAMES))
    parts = [feats[:300], feats[300:] * 1.3 + 0.2, feats[:50]]
    parts[1][5:40, 2] = np.nan  # a gap: NaN is left out, as nanmean/nanstd do
    want = compute_normalisation(parts, names, 7)
    got = normalisation_from_moments([feature_moments(p) for p in parts], names, 7)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_cache_entry_manifest_is_json(tmp_path, p01_walking_csv):
    cfg = _cfg([str(p01_walking_csv)], tmp_path / "cache")
    entry = build_cache(cfg, SENSOR_NAMES).real[0]
    raw = json.loads((tmp_path / "cache" / f"{entry.key}.json").read_text())
    assert raw["windows"] == [entry.n_windows] and raw["files"] == entry.files
    assert raw["rng_state_after"]["bit_generator"] == "PCG64"
    # A shard without its manifest (an interrupted build) is not an entry: rebuilt.
    (tmp_path / "cache" / f"{entry.key}.json").unlink()
    assert build_cache(cfg, SENSOR_NAMES).built == 1


@pytest.mark.slow
def test_training_through_the_shards_equals_the_in_memory_training(
    tmp_path, p01_walking_csv, p01_running_csv
):
    """Three training steps (noise on, fresh processes as sspinn-train runs them): the same
    loss and gradient norm at every step, to the bit."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    histories = []
    for enabled in (False, True):
        raw = _cfg([str(p01_walking_csv), str(p01_running_csv)], tmp_path / "cache").model_dump()
        raw["stream"]["enabled"] = enabled
        raw.update(log_every=1, burn_in=8)
        raw["network"].update(lstm_units=16, dense_units=16)
        raw["optim"].update(steps=3, physics_warmup_steps=2)
        config = tmp_path / f"stream-{enabled}.json"
        config.write_text(json.dumps(raw))
        out = tmp_path / f"out-{enabled}"
        cmd = [sys.executable, "-m", "train.train_cli", "--config", str(config), "--out",
               str(out), "--no-eval", "-q"]  # fmt: skip
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        histories.append(json.loads((out / "history.json").read_text()))
    memory, streamed = histories
    assert len(memory) == 3
    for a, b in zip(memory, streamed, strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k != "seconds"
        }
    assert memory[0]["loss"] != memory[2]["loss"]


def test_cli_builds_the_cache_once(tmp_path, p01_walking_csv, capsys):
    from train.train_cli import main

    raw = _cfg([str(p01_walking_csv)], tmp_path / "cache", enabled=True).model_dump()
    config = tmp_path / "c.json"
    config.write_text(json.dumps(raw))
    assert main(["--config", str(config), "--build-cache"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["--config", str(config), "--build-cache"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (first["entries_built"], second["entries_built"], second["entries_reused"]) == (1, 0, 1)
    assert first["real_windows"] == 17 and first["bytes"] > 17 * 64 * 7 * 3 * 4 / 5
