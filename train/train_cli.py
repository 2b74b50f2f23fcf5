"""``sspinn-train``: self-supervised training from IMU data only (no labels).

sspinn-train [--config FILE] --out DIR [--resume] [--quick] [--steps N] [--build-cache]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from edge.version import add_version_argument

if TYPE_CHECKING:
    from train.config import TrainConfig


def bundled_config(name: str) -> Path:
    """A shipped config from ``train/configs`` (``default``, ``quick``)."""
    return Path(str(resources.files("train") / "configs" / f"{name}.toml"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="sspinn-train",
        description="Train the SSPINNpose network without labels: IMU data, height and mass "
        "in; physics, IMU and consistency losses out.",
    )
    add_version_argument(p)
    p.add_argument(
        "--config", type=Path, help="TOML/JSON config (default: train/configs/default.toml)"
    )
    p.add_argument("--quick", action="store_true", help="the quick config (a few minutes)")
    p.add_argument("--out", type=Path, help="output folder (required unless --build-cache)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/resume")
    p.add_argument("--steps", type=int, help="override optim.steps")
    p.add_argument("--seed", type=int, help="override the seed")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    p.add_argument(
        "--build-cache",
        action="store_true",
        help="only bring the shard cache ([stream] cache_dir) up to date, print it, and exit",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.out is None and not args.build_cache:
        p.error("the following arguments are required: --out")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from train.config import ConfigError, load_train_config  # TensorFlow: after the --help

    try:
        path = args.config or bundled_config("quick" if args.quick else "default")
        cfg: TrainConfig = load_train_config(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    updates = {}
    if args.steps is not None:
        updates["optim"] = cfg.optim.model_copy(update={"steps": args.steps})
    if args.seed is not None:
        updates["seed"] = args.seed
    cfg = cfg.model_copy(update=updates)

    if args.build_cache:
        return _build_cache(cfg)
    from train.trainer import Trainer

    trainer = Trainer(cfg, args.out)
    checkpoint = trainer.train(resume=args.resume, progress=not args.quiet)
    print(f"checkpoint: {checkpoint}")
    if not args.no_eval:
        from train.report import evaluation_report

        report = evaluation_report(checkpoint, args.out / "eval")
        print(json.dumps(report["summary"], indent=2))
    return 0


def _build_cache(cfg: TrainConfig) -> int:
    """``--build-cache``: the shard cache for ``cfg``, once, before (multi-worker) training."""
    from edge.recording import SENSOR_NAMES
    from train.data.shards import build_cache

    shards = build_cache(cfg, SENSOR_NAMES)
    summary = {
        "cache_dir": str(shards.cache_dir),
        "entries_built": shards.built,
        "entries_reused": shards.reused,
        "real_windows": sum(e.n_windows for e in shards.real),
        "synthetic_windows": sum(e.n_windows for e in shards.synthetic),
        "files": len(shards.paths(shards.real + shards.synthetic)),
        "bytes": shards.size_bytes(),
        "seconds": round(shards.build_s, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
