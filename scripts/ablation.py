"""Ablation of the self-supervised loss terms: remove each term in turn (quick config),
train, and evaluate on P01_walking. Writes docs/ablation.md and docs/ablation.json.

    .venv/bin/python scripts/ablation.py [--steps N] [--out runs/ablation]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from edge.recording import bundled_recording_path
from train.config import load_train_config
from train.evaluation import evaluate, load_model
from train.train_cli import bundled_config
from train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def run_one(name: str, cfg, out: Path) -> dict:
    t0 = time.perf_counter()
    checkpoint = Trainer(cfg, out / name).train(progress=False)
    walk = evaluate(load_model(checkpoint), bundled_recording_path("P01_walking")).metrics
    run = evaluate(load_model(checkpoint), bundled_recording_path("P01_running")).metrics
    return {
        "angle_rmse_deg": walk["angle_rmse_deg"]["mean"],
        "moment_rmse_bwbh": walk["moment_rmse_bwbh"]["mean"],
        "grf_rmse_bw_pct": walk["grf_rmse_bw_pct"]["mean"],
        "speed_abs_err_m_s": walk["speed_abs_err_m_s"],
        "running_speed_m_s": run["speed_estimate_m_s"],
        "running_flight_fraction": run["flight_fraction"],
        "train_s": round(time.perf_counter() - t0, 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="override the quick config's steps")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "ablation")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = load_train_config(bundled_config("quick"))
    if args.steps:
        base = base.model_copy(
            update={"optim": base.optim.model_copy(update={"steps": args.steps})}
        )
    rows = {"(all terms)": run_one("all", base, args.out)}
    for term, weight in base.losses.model_dump().items():
        if not weight:
            continue
        losses = base.losses.model_copy(update={term: 0.0})
        rows[f"without {term}"] = run_one(
            f"no_{term}", base.model_copy(update={"losses": losses}), args.out
        )
        print(term, rows[f"without {term}"], flush=True)
    (ROOT / "docs" / "ablation.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# Loss ablation (quick config)",
        "",
        f"Each row trains the quick config (`train/configs/quick.toml`, {base.optim.steps} steps, "
        f"{base.network.lstm_units}-unit LSTM, seed {base.seed}) with one loss term removed and "
        "evaluates on `P01_walking` (real lab data, ground truth never used in training) and "
        "`P01_running` (IMU only: estimated speed, true 3.47 m/s; fraction of the cycle in "
        "flight). Produced by `scripts/ablation.py`; raw numbers in `ablation.json`. One seed "
        "per row, so differences of a few tenths are noise.",
        "",
        "| run | angles (deg) | moments (%BW·BH) | GRF (%BW) | speed err (m/s) "
        "| running speed (m/s) | running flight |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['angle_rmse_deg']:.2f} | {r['moment_rmse_bwbh']:.2f} | "
            f"{r['grf_rmse_bw_pct']:.1f} | {r['speed_abs_err_m_s']:.3f} | "
            f"{r['running_speed_m_s']:.2f} | {r['running_flight_fraction']:.2f} |"
        )
    (ROOT / "docs" / "ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
