"""The evaluation report of a trained model: JSON + plots on the bundled real data
(and a held-out synthetic set when the generator is available)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from edge.recording import bundled_recording_path
from train.evaluation import evaluate, load_model, plot_evaluation

log = logging.getLogger(__name__)


def _heldout_synthetic() -> list:
    """Every held-out synthetic subject (``evaluation_specs``): the original three and the
    posture / mounting subjects of the generalisation acceptance, as recordings."""
    from train.data.synthetic import evaluation_specs, synthesize

    return [synthesize(spec) for _, spec in evaluation_specs()]


def evaluation_report(model_path: str | Path, out_dir: str | Path) -> dict:
    """Evaluate on P01_walking, P01_running and held-out synthetic data; write
    ``report.json`` and one PNG per data set into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(model_path)
    datasets = {
        "P01_walking": bundled_recording_path("P01_walking"),
        "P01_running": bundled_recording_path("P01_running"),
    }
    for i, rec in enumerate(_heldout_synthetic()):
        datasets[rec.meta.trial or f"synthetic_{i}"] = rec
    results = {}
    for name, data in datasets.items():
        ev = evaluate(model, data)
        plot_evaluation(ev, out / f"{name}.png")
        results[name] = ev.metrics
    summary = {}
    for name, m in results.items():
        summary[name] = {
            f"stance_{side}_{k}": v
            for side, st in m.get("stance", {}).items()
            for k, v in st.items()
            if k != "phases"
        } | {
            k: (v["mean"] if isinstance(v, dict) and "mean" in v else v)
            for k, v in m.items()
            if k
            in (
                "angle_rmse_deg",
                "moment_rmse_bwbh",
                "grf_rmse_bw_pct",
                "speed_abs_err_m_s",
                "speed_estimate_m_s",
                "flight_fraction",
            )
        }
    report = {"model": str(model_path), "results": results, "summary": summary}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m train.report MODEL OUT_DIR``: write the evaluation report."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m train.report", description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="checkpoint folder or bundle")
    p.add_argument("out", type=Path, help="folder for report.json and the PNGs")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    report = evaluation_report(args.model, args.out)
    print(json.dumps(report["summary"], indent=2))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
