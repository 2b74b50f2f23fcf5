"""Print the functional calibration of recordings (and, where the recording has ground
truth, the joint-angle offsets it implies): ``python -m edge.mounting.report [CSV ...]``.

Without arguments: the bundled ``P01_walking`` and ``P01_running``. The truth is read
only to measure, never by the estimate.
"""

from __future__ import annotations

import argparse
import logging
import math

import numpy as np

from edge.mounting.apply import Mounting
from edge.mounting.functional import (
    FunctionalSettings,
    estimate_functional,
    joint_angles,
    segment_angles,
)
from edge.recording import (
    Recording,
    bundled_recording_path,
    read_recording,
    resolve_recording,
    tile_cycles,
)

log = logging.getLogger(__name__)
JOINTS = ("hip_flexion_r", "knee_angle_r", "ankle_angle_r")


def describe(rec: Recording, m: Mounting) -> list[str]:
    """Lines: one per sensor (β, ±σ, confidence, position, cue), then warnings."""
    lines = [f"{rec.meta.trial or rec.path}: {m.details.get('movement')}"]
    for name, s in m.sensors.items():
        pos = "-" if s.position_m is None else f"({s.position_m[0]:+.3f}, {s.position_m[1]:+.3f})"
        sigma = math.degrees(s.uncertainty_rad or 0.0)
        lines.append(
            f"  {name:8s} β {math.degrees(s.angle_rad):+7.2f}° ±{sigma:4.1f}° "
            f"conf {s.confidence:.2f} pos {pos} m  [{s.cue}]"
        )
    lines += [f"  warning: {w}" for w in m.warnings]
    return lines


def truth_offsets(
    rec: Recording, m: Mounting, settings: FunctionalSettings | None = None
) -> dict[str, tuple[float, float]]:
    """{joint: (constant offset, RMSE)} in degrees of the right-leg joint angles implied
    by the mounting against the recording's truth (empty without truth)."""
    cfg = settings or FunctionalSettings()
    if not all(j in rec.truth for j in JOINTS):
        return {}
    _, theta = segment_angles(rec, m, cfg)
    est = joint_angles(theta, list(rec.sensors), "r")
    truth = tile_cycles(rec, cfg.mean_cycle_tiles).truth if rec.is_mean_cycle else rec.truth
    out = {}
    for j, name in enumerate(JOINTS):
        ok = np.isfinite(est[:, j])
        d = np.degrees(est[ok, j] - truth[name][ok])
        out[name] = (float(d.mean()), float(np.sqrt(np.mean(d**2))))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "csv", nargs="*", help="recording CSVs or bundled names (default: the bundled P01 ones)"
    )
    parser.add_argument(
        "--flat-instant-s",
        type=float,
        default=None,
        help="FunctionalSettings.flat_instant_s (0: foot flat = the whole still stretch)",
    )
    parser.add_argument(
        "--centre-smooth-s",
        type=float,
        default=None,
        help="FunctionalSettings.centre_smooth_s (moving average before the joint-centre fit)",
    )
    args = parser.parse_args(argv)
    overrides = {}
    if args.flat_instant_s is not None:
        overrides["flat_instant_s"] = args.flat_instant_s
    if args.centre_smooth_s is not None:
        overrides["centre_smooth_s"] = args.centre_smooth_s
    cfg = FunctionalSettings(**overrides)
    logging.basicConfig(level=logging.ERROR)
    try:
        paths = [resolve_recording(c) for c in args.csv] or [
            bundled_recording_path(n) for n in ("P01_walking", "P01_running")
        ]
    except FileNotFoundError as exc:
        parser.error(str(exc))
    for path in paths:
        rec = read_recording(path)
        m = estimate_functional(rec.without_truth(), settings=cfg)
        for line in describe(rec, m):
            print(line)
        for name, (off, rmse) in truth_offsets(rec, m, cfg).items():
            off0, rmse0 = truth_offsets(rec, Mounting.zero(rec.sensors), cfg)[name]
            print(
                f"  vs truth {name:14s} offset {off:+6.2f}° RMSE {rmse:5.2f}°   "
                f"(mounting 0: offset {off0:+6.2f}° RMSE {rmse0:5.2f}°)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
