"""A binary shard cache of training windows (TFRecord), built once, streamed by tf.data.

Every configured recording (a CSV, a recorder session, a mean cycle to be tiled) and the
synthetic data set become one *entry* of the cache: ``KEY.json`` (window counts, feature
moments for the normalisation, the tiling RNG's state) and one ``KEY-NNN.tfrecord`` per
recording. ``KEY`` is the SHA-256 of the recording's bytes (CSV and sidecar of every
segment) and of the settings that shape its windows (rate, window, stride, sensors,
mounting, tiling), so a changed file, or a changed setting, is re-read; everything else
is reused. Synthetic data is keyed by its settings and the generator's source code.

A record holds ``windows_per_record`` consecutive windows as one stretch of samples:
``imu`` (L, S, 3) float32 raw acc x, acc y (m/s²), gyr z (rad/s) with
L = window + (k − 1)·stride, ``static`` (2 + 2S,), ``positions`` (S, 2) m, ``height_m``,
``mass_kg``. Reading frames it back into k windows, the same arrays ``window_bank``
holds, in the same order (recording by recording, start by start), so with
``shuffle_buffer = 0`` (a buffer of all windows of a source) the stream equals the
in-memory path's, window for window.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from edge.features import static_features
from edge.recording import PLANAR_CHANNEL_INDEX, Recording, read_sidecar, sidecar_path
from train.config import TrainConfig
from train.inputs import recording_features, sensor_positions
from train.normalisation import feature_moments
from train.sources import (
    RecordingSource,
    prepare_real,
    read_source,
    real_recording_sources,
    synthetic_sources,
)

log = logging.getLogger(__name__)

#: Bump when the record layout changes: every key changes with it.
FORMAT_VERSION = 1
_SYNTH_DIR = Path(__file__).parent / "synthetic"


@dataclass
class CacheEntry:
    """One source in the cache: its shard files (in order) and what they hold."""

    key: str
    label: str
    files: list[str]
    windows: list[int]
    samples: int
    moments: list[dict[str, list[float]]]
    rng_state_after: dict | None = None

    @property
    def n_windows(self) -> int:
        return int(sum(self.windows))


@dataclass
class ShardSet:
    """The cache entries a config trains on: real sources and synthetic data."""

    cache_dir: Path
    real: list[CacheEntry]
    synthetic: list[CacheEntry]
    built: int = 0
    reused: int = 0
    build_s: float = 0.0
    stats: dict = field(default_factory=dict)

    def paths(self, entries: Sequence[CacheEntry]) -> list[Path]:
        """Shard files of ``entries`` in stream order."""
        return [self.cache_dir / f for e in entries for f in e.files]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.paths(self.real + self.synthetic))

    def moments(self) -> list[dict[str, list[float]]]:
        return [m for e in self.real + self.synthetic for m in e.moments]


def _sha256_files(files: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        for p in (f, sidecar_path(f)):
            h.update(p.name.encode())
            with p.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def _key(*parts: object) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _window_settings(cfg: TrainConfig, sensors: Sequence[str]) -> dict:
    d = cfg.data
    return {
        "format": FORMAT_VERSION,
        "rate_hz": d.rate_hz,
        "window": d.window,
        "stride": d.stride,
        "sensors": list(sensors),
        "undo_mounting": d.undo_mounting,
        "windows_per_record": cfg.stream.windows_per_record,
    }


def _is_mean_cycle_file(path: Path) -> bool:
    return read_sidecar(sidecar_path(path)).samples_per_cycle is not None


def _example(chunk: np.ndarray, static: np.ndarray, pos: np.ndarray, h: float, m: float) -> bytes:
    def b(x: np.ndarray) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[x.tobytes()]))

    def f(x: float) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=[x]))

    feats = {
        "imu": b(np.ascontiguousarray(chunk, np.float32)),
        "static": b(static),
        "positions": b(pos),
        "height_m": f(h),
        "mass_kg": f(m),
    }
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def write_recording_shard(
    path: Path, rec: Recording, sensors: Sequence[str], window: int, stride: int, per_record: int
) -> int:
    """Write one recording's windows to ``path`` (atomically); returns the window count
    (0, and no file, for a recording shorter than ``window``)."""
    if rec.truth:
        raise ValueError(
            f"{rec.meta.trial or rec.path}: training recordings must not carry truth columns"
        )
    if rec.n_samples < window:
        return 0
    idx = [rec.sensors.index(s) for s in sensors]
    planar = rec.imu[:, idx][:, :, list(PLANAR_CHANNEL_INDEX)].astype(np.float32)
    pos = sensor_positions(rec, list(sensors))
    h, m = rec.meta.participant.height_m, rec.meta.participant.mass_kg
    static = static_features(h, m, pos).astype(np.float32)
    pos2 = pos[:, :2].astype(np.float32)
    starts = np.arange(0, rec.n_samples - window + 1, stride)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for j in range(0, len(starts), per_record):
            a, b = starts[j], starts[min(j + per_record, len(starts)) - 1] + window
            writer.write(_example(planar[a:b], static, pos2, h, m))
    os.replace(tmp, path)
    return len(starts)


def _write_entry(
    cache: Path,
    key: str,
    label: str,
    recs: Sequence[Recording],
    cfg: TrainConfig,
    sensors: Sequence[str],
    rng_state_after: dict | None,
) -> CacheEntry:
    files, windows, moments, samples = [], [], [], 0
    for i, rec in enumerate(recs):
        name = f"{key}-{i:03d}.tfrecord"
        n = write_recording_shard(
            cache / name,
            rec,
            sensors,
            cfg.data.window,
            cfg.data.stride,
            cfg.stream.windows_per_record,
        )
        moments.append(feature_moments(recording_features(rec, list(sensors))))
        samples += rec.n_samples
        if n:
            files.append(name)
            windows.append(n)
    entry = CacheEntry(key, label, files, windows, samples, moments, rng_state_after)
    manifest = cache / f"{key}.json"
    tmp = manifest.with_name(f".{manifest.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry.__dict__))
    os.replace(tmp, manifest)
    return entry


def _load_entry(cache: Path, key: str) -> CacheEntry | None:
    manifest = cache / f"{key}.json"
    if not manifest.is_file():
        return None
    try:
        entry = CacheEntry(**json.loads(manifest.read_text()))
    except (json.JSONDecodeError, TypeError):
        return None
    if not all((cache / f).is_file() for f in entry.files):
        return None
    return entry


def _synthetic_code_hash() -> str:
    h = hashlib.sha256()
    for p in sorted(_SYNTH_DIR.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()


def build_cache(cfg: TrainConfig, sensors: Sequence[str]) -> ShardSet:
    """Bring ``cfg.stream.cache_dir`` up to date for ``cfg`` and return its entries.

    Reads (and tiles, resamples, undoes the mounting of) only the sources whose key has
    no complete entry yet, one at a time: memory holds one recording, not the data set.
    The tiling RNG runs through the sources as in ``train.sources.real_sources`` (a reused
    mean-cycle entry restores the RNG state stored with it), so the windows are the
    in-memory path's.
    """
    cache = Path(cfg.stream.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    settings = _window_settings(cfg, sensors)
    d = cfg.data
    tiling = {
        "seed": cfg.seed,
        "real_cycles": d.real_cycles,
        "time_warp": d.time_warp,
        "amplitude_jitter": d.amplitude_jitter,
    }
    out = ShardSet(cache, [], [])
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    chain: list[str] = []  # keys of the mean-cycle sources so far (they share the RNG)
    sources: list[RecordingSource] = real_recording_sources(d)
    for src in sources:
        content = _sha256_files(src.files)
        cyclic = any(_is_mean_cycle_file(f) for f in src.files)
        key = _key(settings, content, tiling, chain) if cyclic else _key(settings, content, None)
        entry = _load_entry(cache, key)
        if entry is None:
            recs = [prepare_real(r, src.label, d, rng) for r in read_source(src)]
            state = rng.bit_generator.state if cyclic else None
            entry = _write_entry(cache, key, src.label, recs, cfg, sensors, state)
            out.built += 1
            log.info("shard cache: %s → %d windows (%s)", src.label, entry.n_windows, key)
        else:
            if entry.rng_state_after is not None:
                rng.bit_generator.state = entry.rng_state_after
            out.reused += 1
        if cyclic:
            chain.append(key)
        out.real.append(entry)
    if d.synthetic_minutes > 0:
        synth = {"minutes": d.synthetic_minutes, "seed": cfg.seed, "code": _synthetic_code_hash()}
        key = _key(settings, synth)
        entry = _load_entry(cache, key)
        if entry is None:
            recs = synthetic_sources(d, cfg.seed)
            entry = _write_entry(cache, key, "synthetic", recs, cfg, sensors, None)
            out.built += 1
        else:
            out.reused += 1
        out.synthetic.append(entry)
    out.build_s = time.perf_counter() - t0
    if not any(e.n_windows for e in out.real + out.synthetic):
        raise ValueError(f"no recording is at least {d.window} samples long")
    return out


def _parse_fn(window: int, stride: int, n_sensors: int):
    spec = {
        "imu": tf.io.FixedLenFeature([], tf.string),
        "static": tf.io.FixedLenFeature([], tf.string),
        "positions": tf.io.FixedLenFeature([], tf.string),
        "height_m": tf.io.FixedLenFeature([], tf.float32),
        "mass_kg": tf.io.FixedLenFeature([], tf.float32),
    }

    def parse(raw: tf.Tensor) -> dict:
        ex = tf.io.parse_single_example(raw, spec)
        imu = tf.reshape(tf.io.decode_raw(ex["imu"], tf.float32), [-1, n_sensors, 3])
        frames = tf.signal.frame(imu, window, stride, axis=0)
        frames = tf.ensure_shape(frames, [None, window, n_sensors, 3])
        k = tf.shape(frames)[0]
        static = tf.reshape(tf.io.decode_raw(ex["static"], tf.float32), [2 + 2 * n_sensors])
        pos = tf.reshape(tf.io.decode_raw(ex["positions"], tf.float32), [n_sensors, 2])
        return {
            "imu": frames,
            "static": tf.tile(static[None], [k, 1]),
            "height_m": tf.fill([k], ex["height_m"]),
            "mass_kg": tf.fill([k], ex["mass_kg"]),
            "positions": tf.tile(pos[None], [k, 1, 1]),
        }

    return parse


def shard_windows(
    paths: Sequence[Path],
    n_windows: int,
    *,
    window: int,
    stride: int,
    n_sensors: int,
    shuffle_buffer: int,
    interleave: int,
    seed: int,
) -> tf.data.Dataset:
    """Endless windows streamed from shard files (elements as ``window_bank`` rows).

    ``shuffle_buffer = 0``: files in order, a shuffle buffer of all ``n_windows`` (the
    in-memory path's order for the same ``seed``). Otherwise the file order is reshuffled
    every pass, ``interleave`` files are read at once, and ``shuffle_buffer`` windows are
    held: memory no longer grows with the data set.
    """
    files = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    if shuffle_buffer > 0:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        records = files.interleave(
            tf.data.TFRecordDataset,
            cycle_length=min(interleave, len(paths)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        buffer = shuffle_buffer
    else:
        records = files.flat_map(tf.data.TFRecordDataset)
        buffer = n_windows
    parse = _parse_fn(window, stride, n_sensors)
    ds = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    return ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
