"""Benchmark (``make bench-shards``): 10 hours of synthetic recordings through the shard cache.

1. ``BASE_MINUTES`` of synthetic recordings (``train.data.synthetic``, truth dropped) are
   written ``copies`` times as recording CSVs, each copy with its own sensor noise (so each
   file has its own content hash), one recorder-session folder per recording, until the
   tree holds ``HOURS`` hours: a fleet's recordings.
2. The shard cache is built from that tree (time, size); building it again reuses every
   entry (time: hashing the files).
3. Windows are streamed from the shards in a fresh process (shuffle buffer, interleave)
   for one pass over all windows: windows/s, and the process's peak RSS against its RSS
   once TensorFlow is imported and the pipeline defined (TensorFlow alone holds about
   half a GB here: the growth is what the data costs).
4. The current path (``real_sources`` reads and windows the CSVs, ``bank_windows``) on the
   first ``CSV_SUBSET_HOURS`` hours, in a fresh process: windows/s, parse included as
   every run pays it, and its memory growth (for 1 h of the 10).

Target: shard streaming at least 5x the CSV path's windows/s; streaming's memory growth
below the cache size.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HOURS = 10.0
BASE_MINUTES = 5.0
CSV_SUBSET_HOURS = 1.0
BATCH = 32
SHUFFLE_BUFFER = 2048
INTERLEAVE = 4
TARGET_SPEEDUP = 5.0


def _rss_mb() -> float:
    """This process's peak resident memory so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    """This process's resident memory now, MB (``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024.0
    return float("nan")


def _config(tree: Path, cache: Path):
    from train.config import TrainConfig

    return TrainConfig.model_validate(
        {
            "data": {
                "real_recordings": [str(tree)],
                "window": 256,
                "stride": 32,
                "batch_size": BATCH,
                "synthetic_minutes": 0.0,
                "undo_mounting": False,
            },
            "stream": {
                "enabled": True,
                "cache_dir": str(cache),
                "shuffle_buffer": SHUFFLE_BUFFER,
                "interleave": INTERLEAVE,
            },
        }
    )


def write_fleet(tree: Path, hours: float, base_minutes: float, seed: int = 0) -> dict:
    """Recording CSVs totalling ``hours`` h under ``tree/belt-NN/session-NNNN/``."""
    from edge.recording import Recording, write_recording
    from train.data.synthetic import generate_training_set

    t0 = time.perf_counter()
    base = [r.without_truth() for r in generate_training_set(base_minutes, seed=seed)]
    synth_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    total_s, n = 0.0, 0
    while total_s < hours * 3600:
        rec = base[n % len(base)]
        imu = rec.imu + rng.normal(0.0, 0.01, rec.imu.shape)
        folder = tree / f"belt-{n % 10:02d}" / f"session-{n:04d}"
        folder.mkdir(parents=True)
        write_recording(
            Recording(rec.time_s, rec.sensors, imu, rec.meta, {}, None), folder / "seg.csv"
        )
        total_s += rec.n_samples / rec.sample_rate_hz
        n += 1
    return {
        "synthesise_base_s": round(synth_s, 1),
        "write_csv_s": round(time.perf_counter() - t0, 1),
        "recordings": n,
        "hours": round(total_s / 3600, 2),
    }


def stream_pass(listing: Path) -> dict:
    """One pass over all windows of the shards in ``listing`` (JSON: paths, windows,
    window, stride, sensors), in batches of ``BATCH``; run in a fresh process."""
    import tensorflow as tf

    from train.data.shards import shard_windows

    spec = json.loads(listing.read_text())
    ds = shard_windows(
        [Path(p) for p in spec["paths"]],
        spec["windows"],
        window=spec["window"],
        stride=spec["stride"],
        n_sensors=spec["sensors"],
        shuffle_buffer=SHUFFLE_BUFFER,
        interleave=INTERLEAVE,
        seed=0,
    )
    ds = ds.batch(BATCH).prefetch(tf.data.AUTOTUNE)
    batches = spec["windows"] // BATCH
    rss_before = _current_rss_mb()  # TensorFlow imported, pipeline defined, nothing read
    it = iter(ds)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    seconds = time.perf_counter() - t0
    return {
        "windows": batches * BATCH,
        "seconds": seconds,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }


def csv_pass(listing: Path) -> dict:
    """The in-memory path (``real_sources`` reads the CSVs, ``window_bank``,
    ``bank_windows``) on the sessions in ``listing``, one pass; run in a fresh process."""
    import tensorflow as tf

    from edge.recording import SENSOR_NAMES
    from train.config import DataConfig
    from train.data.windows import bank_windows, window_bank
    from train.sources import real_sources

    spec = json.loads(listing.read_text())
    sub = DataConfig(
        real_recordings=spec["sessions"],
        window=spec["window"],
        stride=spec["stride"],
        undo_mounting=False,
    )
    rss_before = _current_rss_mb()
    t0 = time.perf_counter()
    bank = window_bank(real_sources(sub, 0), SENSOR_NAMES, sub.window, sub.stride)
    ds = bank_windows(bank, 0).batch(BATCH).prefetch(tf.data.AUTOTUNE)
    batches = bank.size // BATCH
    for _, _ in zip(range(batches), ds, strict=False):
        pass
    return {
        "windows": batches * BATCH,
        "seconds": time.perf_counter() - t0,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }


def _subprocess(flag: str, listing: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "train.data.shards_bench", flag, str(listing)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _first_hours(tree: Path, hours: float) -> tuple[list[str], float]:
    sessions = sorted(tree.glob("belt-*/session-*"), key=lambda p: p.name)
    picked, total = [], 0.0
    for s in sessions:
        if total >= hours * 3600:
            break
        picked.append(str(s))
        total += _csv_seconds(s / "seg.csv")
    return picked, total


def _csv_seconds(csv: Path) -> float:
    from edge.recording import read_sidecar, sidecar_path

    meta = read_sidecar(sidecar_path(csv))
    with csv.open() as fh:
        rows = sum(1 for _ in fh) - 1
    return rows * meta.sample_period_s


def run(hours: float = HOURS, base_minutes: float = BASE_MINUTES) -> dict:
    from edge.recording import SENSOR_NAMES
    from train.data.shards import build_cache

    with tempfile.TemporaryDirectory(prefix="sspinn-shards-") as tmp:
        tree, cache = Path(tmp) / "fleet", Path(tmp) / "cache"
        fleet = write_fleet(tree, hours, base_minutes)
        csv_mb = sum(p.stat().st_size for p in tree.rglob("*.csv")) / 1e6
        cfg = _config(tree, cache)
        t0 = time.perf_counter()
        shards = build_cache(cfg, SENSOR_NAMES)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = build_cache(cfg, SENSOR_NAMES)
        rebuild_s = time.perf_counter() - t0
        cache_mb = shards.size_bytes() / 1e6
        windows = sum(e.n_windows for e in shards.real)
        listing = Path(tmp) / "listing.json"
        listing.write_text(
            json.dumps(
                {
                    "paths": [str(p) for p in shards.paths(shards.real)],
                    "windows": windows,
                    "window": cfg.data.window,
                    "stride": cfg.data.stride,
                    "sensors": len(SENSOR_NAMES),
                }
            )
        )
        stream = _subprocess("--stream", listing)
        sessions, csv_s = _first_hours(tree, CSV_SUBSET_HOURS)
        listing.write_text(
            json.dumps({"sessions": sessions, "window": cfg.data.window, "stride": cfg.data.stride})
        )
        csv = _subprocess("--csv", listing)
    shard_rate = stream["windows"] / stream["seconds"]
    csv_rate = csv["windows"] / csv["seconds"]
    growth = stream["peak_rss_mb"] - stream["rss_before_mb"]
    speedup = shard_rate / csv_rate
    return {
        "fleet": fleet,
        "csv_mb": round(csv_mb, 1),
        "cache_build_s": round(build_s, 1),
        "cache_mb": round(cache_mb, 1),
        "cache_files": len(shards.paths(shards.real)),
        "cache_windows": windows,
        "cache_rebuild_unchanged_s": round(rebuild_s, 1),
        "cache_rebuild_reused_entries": again.reused,
        "stream_windows_per_s": round(shard_rate),
        "stream_pass_s": round(stream["seconds"], 1),
        "stream_shuffle_buffer_windows": SHUFFLE_BUFFER,
        "stream_rss_before_mb": round(stream["rss_before_mb"]),
        "stream_peak_rss_mb": round(stream["peak_rss_mb"]),
        "stream_rss_growth_mb": round(growth),
        "csv_path_hours": round(csv_s / 3600, 2),
        "csv_path_windows_per_s": round(csv_rate),
        "csv_path_rss_before_mb": round(csv["rss_before_mb"]),
        "csv_path_peak_rss_mb": round(csv["peak_rss_mb"]),
        "csv_path_rss_growth_mb": round(csv["peak_rss_mb"] - csv["rss_before_mb"]),
        "speedup": round(speedup, 1),
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": bool(speedup >= TARGET_SPEEDUP and growth < cache_mb),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] in ("--stream", "--csv"):
        fn = stream_pass if args[0] == "--stream" else csv_pass
        print(json.dumps(fn(Path(args[1]))))
        return 0
    hours = float(args[0]) if args else HOURS
    print(json.dumps(run(hours, min(BASE_MINUTES, hours * 60)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
