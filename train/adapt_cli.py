"""``sspinn-adapt``: fine-tune a trained model on a wearer's own unlabelled recordings.

sspinn-adapt [--model CHECKPOINT] --data REC [REC ...] --out DIR [--minutes N]

REC: a recording CSV (with its JSON sidecar), ``bundled:NAME`` or ``NAME`` of a bundled
one, or a recorder session folder. DIR becomes a checkpoint folder (``sspinn-eval
--model DIR``, ``sspinn-convert DIR``) with ``adaptation.json`` and ``history.json``.
Errors are one line on stderr, exit status 2. TensorFlow is imported only once the
arguments and recordings are checked.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from edge.recording import RecordingError
from edge.version import add_version_argument


def default_model() -> Path:
    """The shipped default checkpoint (``train/models/default``)."""
    from importlib import resources

    return Path(str(resources.files("train") / "models" / "default"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sspinn-adapt",
        description="Fine-tune a trained model on your own unlabelled recordings (the same "
        "self-supervised loss as training, a lower learning rate, the base model's training "
        "data mixed in). Turning stretches are left out (the body model is planar), standing "
        "is thinned out. Writes a checkpoint folder for sspinn-eval and sspinn-convert.",
    )
    add_version_argument(p)
    p.add_argument(
        "--model", type=Path, help="checkpoint folder to start from (default: the shipped model)"
    )
    p.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="REC",
        help="recording CSV (+ sidecar), bundled:NAME / NAME, or recorder session folder",
    )
    p.add_argument("--out", type=Path, required=True, help="output checkpoint folder")
    p.add_argument(
        "--minutes",
        type=float,
        default=8.0,
        help="wall-clock budget of the whole command, loading included (default 8: under "
        "10 min on a 2-core CPU)",
    )
    p.add_argument("--steps", type=int, help="stop after this many steps (also within --minutes)")
    p.add_argument(
        "--replay-fraction",
        type=float,
        default=0.5,
        help="share of each batch from the base model's training data (default 0.5)",
    )
    p.add_argument("--learning-rate", type=float, help="peak learning rate (default 2e-4)")
    p.add_argument(
        "--config",
        type=Path,
        help="training config of the base model, for a checkpoint that does not record it",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite a checkpoint in --out")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _error(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from pydantic import ValidationError

    from train.adapt import AdaptError, AdaptSettings, load_recordings, read_base

    try:
        updates = {
            "minutes": args.minutes,
            "max_steps": args.steps,
            "replay_fraction": args.replay_fraction,
            "seed": args.seed,
        }
        if args.learning_rate is not None:
            updates["learning_rate"] = args.learning_rate
        settings = AdaptSettings(**updates)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _error(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}")
    model_path = args.model or default_model()
    try:
        base = read_base(model_path)
        if args.out.resolve() == base.path.resolve():
            return _error(f"--out {args.out} is the base model's folder; choose another one")
        if (args.out / "checkpoint.json").exists() and not args.force:
            return _error(f"{args.out} already holds a checkpoint; use another folder or --force")
        if args.out.exists() and not args.out.is_dir():
            return _error(f"--out {args.out} exists and is not a folder")
        recordings = load_recordings(args.data, base.sensors, base.sample_rate_hz)
        from train.adapt import adapt

        report = adapt(
            base,
            recordings,
            args.out,
            settings,
            config_override=args.config,
            started=started,
            progress=not args.quiet,
        )
    except (AdaptError, RecordingError) as exc:
        return _error(str(exc))
    summary = {
        "checkpoint": report["out"],
        "steps": report["steps"],
        "minutes": report["minutes_total"],
        "windows_used": report["data"]["windows_used"],
        "left_out_turning": report["data"]["left_out_turning"],
        "left_out_gaps": report["data"]["left_out_gaps"],
        "standing_share_used": report["data"]["standing_share_used"],
        "loss_before": {k: v["loss"] for k, v in report["loss_before"].items()},
        "loss_after": {k: v["loss"] for k, v in report["loss_after"].items()},
    }
    print(json.dumps(summary, indent=2))
    print(f"checkpoint: {args.out} (report: {args.out / 'adaptation.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
