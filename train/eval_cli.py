"""``sspinn-eval``: accuracy of a checkpoint or bundle against ground truth.

sspinn-eval [--model PATH] --data RECORDING [--json] [--plot PNG]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib import resources
from pathlib import Path

from edge.inference.angle_fusion import DEFAULT_TAU_S
from edge.recording import RecordingError, resolve_recording
from edge.version import add_version_argument


def default_model() -> Path:
    """The shipped default checkpoint (``train/models/default``)."""
    return Path(str(resources.files("train") / "models" / "default"))


def _format_table(metrics: dict) -> str:
    lines = [f"model: {metrics['model']} ({metrics['model_kind']})", f"data:  {metrics['data']}"]
    for key, unit in (
        ("angle_rmse_deg", "deg"),
        ("moment_rmse_bwbh", "%BW*BH"),
        ("grf_rmse_bw_pct", "%BW"),
    ):
        if key in metrics:
            per = "  ".join(f"{k} {v:.2f}" for k, v in metrics[key].items() if k != "mean")
            lines.append(f"{key}: mean {metrics[key]['mean']:.2f} {unit}  ({per})")
    if "angle_offset_deg" in metrics:
        per = "  ".join(
            f"{k} {v:+.1f}/{metrics['angle_shape_sd_deg'][k]:.1f}"
            for k, v in metrics["angle_offset_deg"].items()
        )
        lines.append(f"angle error offset/shape SD (deg): {per}")
    if "speed_abs_err_m_s" in metrics:
        lines.append(
            f"speed: estimate {metrics['speed_estimate_m_s']:.2f} m/s, true "
            f"{metrics['speed_true_m_s']:.2f} m/s, error {metrics['speed_abs_err_m_s']:.3f} m/s"
        )
    lines.append(f"flight fraction: {metrics['flight_fraction']:.2f}")
    for side, st in metrics.get("stance", {}).items():
        peak = st["peak_vertical_grf_bw_pct"]
        lines.append(
            f"stance {side}: {100 * st['fraction']:.0f} % of frames, {st['phases']} phases, "
            + (f"median peak vertical GRF {peak / 100:.2f} BW" if peak is not None else "no peak")
        )
    mounting = metrics.get("mounting", {})
    if "sensors" in mounting:
        per = "  ".join(
            f"{k} {v['angle_deg']:+.1f}{'' if v['method'] == 'functional' else '*'}"
            for k, v in mounting["sensors"].items()
        )
        lines.append(f"sensor mounting (deg, * = from the sidecar): {per}")
    elif "error" in mounting:
        lines.append(f"sensor mounting: not estimated ({mounting['error']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="sspinn-eval",
        description="Accuracy of a checkpoint or bundle against a recording's ground truth.",
    )
    add_version_argument(p)
    p.add_argument(
        "--model",
        type=Path,
        help="checkpoint folder or *.sspinn bundle (default: the shipped float checkpoint)",
    )
    p.add_argument(
        "--data",
        required=True,
        metavar="RECORDING",
        help="recording CSV, or a bundled recording: NAME or bundled:NAME (e.g. P01_walking)",
    )
    p.add_argument(
        "--angle-fusion-tau",
        type=float,
        default=DEFAULT_TAU_S,
        metavar="SECONDS",
        help="time constant of the sensors' gravity-anchored orientations from which the "
        "joint angles and the GRF's measured sum are published, as on the device "
        f"(default {DEFAULT_TAU_S:g}; 0: the network's own angles and GRF)",
    )
    p.add_argument(
        "--network-speed",
        action="store_true",
        help="the network's own speed (default: as on the device, the foot IMUs' stride "
        "speed once a stride is known)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plot", type=Path, help="write a PNG of estimate vs truth per channel")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        data = resolve_recording(args.data)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from train.evaluation import evaluate, load_model, plot_evaluation

    model_path = args.model or default_model()
    try:
        model = load_model(model_path)
        ev = evaluate(
            model,
            data,
            angle_fusion_tau_s=args.angle_fusion_tau,
            stride_speed=not args.network_speed,
        )
    except (FileNotFoundError, RecordingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.plot:
        plot_evaluation(ev, args.plot)
    print(json.dumps(ev.metrics, indent=2) if args.json else _format_table(ev.metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
