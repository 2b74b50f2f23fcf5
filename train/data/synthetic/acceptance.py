"""Print the generator's acceptance figures (docs/synthetic-data.md, "Acceptance"):
``python -m train.data.synthetic.acceptance [--speed-range]``.

The deterministic cases of ``tests/test_synth_acceptance.py`` (no stride variability, an
ideal IMU, no placement jitter): a P01-sized walker with P01's pattern, a P01-sized
runner (RBDS mixture) and Winter's subject; the same walker with the default
variability, IMU errors and placement jitter; with ``--speed-range``, steady 14 s bouts
across the speed range (1.75 m, 70 kg); with ``--heldout-mounting``, the functional
calibration (:mod:`edge.mounting.functional`) on every held-out subject
(:func:`.presets.evaluation_specs`): β error per sensor, and per foot the segment-angle
offset ψ − β − θ (what a joint angle gets) and the truth foot angle at the detected
foot-flat instants. ``--without-foot-flat``: any of these with the generator before its
foot-flat phase (``leg_ik.FOOT_FLAT_RAD = 0``), for comparison.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from edge.mounting.functional import estimate_functional, gait_orientation
from edge.recording import Recording, bundled_recording_path, read_recording
from train.data.synthetic import leg_ik
from train.data.synthetic import validation as V
from train.data.synthetic.generator import Synthesis, simulate
from train.data.synthetic.imu_errors import ImuErrorModel
from train.data.synthetic.placement import PlacementJitter
from train.data.synthetic.presets import evaluation_specs
from train.data.synthetic.spec import SynthSpec
from train.data.synthetic.speed_profile import Segment, walking_stride_s

#: Steady bouts of ``--speed-range``: (mode, speed m/s).
SPEED_RANGE = (
    ("walk", 0.9),
    ("walk", 1.3),
    ("run", 2.3),
    ("run", 3.0),
    ("run", 3.5),
    ("run", 4.2),
    ("run", 4.9),
)


def deterministic_spec(mode: str, speed: float, height: float, mass: float, **kw) -> SynthSpec:
    """A 20 s steady bout without variability, IMU errors or placement jitter (seed 7)."""
    return SynthSpec(
        name=f"acceptance_{mode}",
        height_m=height,
        mass_kg=mass,
        segments=[Segment(mode=mode, speed_m_s=speed, duration_s=20.0)],
        seed=7,
        variability=0.0,
        imu_errors=ImuErrorModel.ideal(),
        placement=PlacementJitter.none(),
        **kw,
    )


def acceptance_specs() -> dict[str, SynthSpec]:
    """The deterministic cases: ``walker`` (1.73 m, 73 kg, P01's speed and pattern),
    ``runner`` (1.73 m, 73 kg, P01_running's speed, RBDS mixture) and ``winter``
    (1.62 m, 56.7 kg, 1.325 m/s, Winter's pattern and stride 1.1396 s)."""
    cadence = float(walking_stride_s(np.array(1.325), 1.62) / 1.1396)
    return {
        "walker": deterministic_spec("walk", 1.2919, 1.73, 73.0, walk_pattern="P01_walking"),
        "runner": deterministic_spec("run", 3.4745, 1.73, 73.0),
        "winter": deterministic_spec(
            "walk", 1.325, 1.62, 56.7, walk_pattern="Winter_walking", cadence_scale=cadence
        ),
    }


def _flight(syn: Synthesis) -> float:
    flag = np.stack([syn.recording.truth[f"contact_{s}"] for s in "rl"], 1) > 0.5
    return float((~flag.any(axis=1)).mean())


def _contact_lines(syn: Synthesis) -> list[str]:
    slip = V.stance_slip(syn)
    angle, rate = V.stance_foot_flatness(syn)
    return [
        f"  stance slip load-weighted {slip['load_weighted']:.3f} m/s, "
        f"contact mean {slip['contact_mean']:.3f} m/s",
        f"  deepest point {1000 * V.penetration_m(syn):.1f} mm, "
        f"vertical impulse on a foot > 1 cm up {100 * V.airborne_load_share(syn):.1f} %, "
        f"flight fraction {_flight(syn):.2f}",
        f"  stillest stance instant: foot angle median {np.median(angle):+.2f}° "
        f"(max |.| {np.abs(angle).max():.2f}°), |gyr_z| median {np.median(rate):.3f} rad/s; "
        f"foot within 1° of flat in {100 * V.flat_share_of_stance(syn):.0f} % of the stance",
    ]


def _balance_lines(syn: Synthesis) -> list[str]:
    res_n, res_rel = V.kane_residual_max(syn)
    return [
        f"  ΣGRF − (m·a_com + BW) RMS {V.grf_balance_rms_bw(syn):.1e} BW, "
        f"Kane residual max {res_n:.1e} N·m ({res_rel:.0e} normalised)"
    ]


def deterministic_report() -> list[str]:
    """Lines of the deterministic acceptance figures."""
    specs = acceptance_specs()
    walking = read_recording(bundled_recording_path("P01_walking"))
    running = read_recording(bundled_recording_path("P01_running"))
    lines: list[str] = []
    for name, spec in specs.items():
        syn = simulate(spec)
        lines.append(
            f"{name}: {spec.height_m} m, {spec.mass_kg} kg, {spec.segments[0].speed_m_s} m/s"
        )
        if name != "winter":
            real = walking if name == "walker" else running
            mean, per, _ = V.imu_correlation(syn, real)
            lines.append(f"  IMU correlation vs {real.meta.trial}: {mean:.3f}")
            if name == "walker":
                lines.append("  " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
        else:
            data = np.genfromtxt(
                "train/reference_data/kinematics/Winter_walking.csv", delimiter=",", names=True
            )
            cycle = np.stack([data[c] for c in ("grf_x_r", "grf_y_r", "grf_x_l", "grf_y_l")], 1)
            lines.append(f"  GRF vs Winter's, RMS {V.grf_rms_vs_cycle_bw(syn, cycle):.3f} BW")
        truth = syn.recording.truth["speed_m_s"][300:-300].mean()
        lines += _contact_lines(syn) + _balance_lines(syn)
        lines.append(f"  truth speed {truth:.4f} m/s")
    noisy = specs["walker"].model_copy(
        update={"variability": 1.0, "imu_errors": ImuErrorModel(), "placement": PlacementJitter()}
    )
    mean, _, _ = V.imu_correlation(simulate(noisy), walking)
    lines.append(f"walker with default variability, IMU errors, placement jitter: {mean:.3f}")
    return lines


def speed_range_report() -> list[str]:
    """Lines of the steady bouts across the speed range (ideal IMU, no jitter, seed 3)."""
    lines = []
    for mode, speed in SPEED_RANGE:
        syn = simulate(
            SynthSpec(
                name=f"steady_{mode}_{speed}",
                height_m=1.75,
                mass_kg=70.0,
                segments=[Segment(mode=mode, speed_m_s=speed, duration_s=14.0)],
                seed=3,
                imu_errors=ImuErrorModel.ideal(),
                placement=PlacementJitter.none(),
            )
        )
        truth = syn.recording.truth
        p99 = float(np.percentile(truth["grf_y_r"] + truth["grf_y_l"], 99))
        lines.append(f"{mode} {speed} m/s: 99th percentile of the vertical GRF {p99:.2f} BW")
        lines += _contact_lines(syn)
    return lines


def _foot_angle(rec: Recording, side: str) -> np.ndarray:
    joints = ("pelvis_tilt", f"hip_flexion_{side}", f"knee_angle_{side}", f"ankle_angle_{side}")
    return np.sum([rec.truth[c] for c in joints], axis=0)


def heldout_mounting_report() -> list[str]:
    """Lines: per held-out subject, the functional calibration's β error per sensor (deg)
    and per foot the segment-angle offset (median over the good strides of the stride's
    mean ψ − β − θ: the constant a joint angle gets from this sensor) and the truth foot
    angle at the detected foot-flat instants (median), and the ankle-centre cue's β error
    (a check only), deg."""
    lines = []
    for name, spec in evaluation_specs():
        rec = simulate(spec).recording
        blind = rec.without_truth()
        m = estimate_functional(blind)
        beta = m.angles(rec.sensors)
        truth = np.array([rec.meta.truth_mounting_rad[s] for s in rec.sensors])
        err = np.degrees(np.angle(np.exp(1j * (beta - truth))))
        go = gait_orientation(blind)
        feet = []
        for side in ("r", "l"):
            foot = _foot_angle(rec, side)
            k = rec.sensors.index(f"foot_{side}")
            theta = go.psi[:, k] - beta[k]
            offset = np.degrees(np.median([np.mean(theta[a:b] - foot[a:b]) for a, b in go.strides]))
            at_flat = np.degrees(
                np.median([foot[lo:hi].mean() for _, lo, hi in go.foot_flat[f"foot_{side}"]])
            )
            cue = m.details["cues_deg"].get(f"foot_{side}:ankle", {}).get("beta_deg")  # type: ignore[union-attr]
            cue_err = "-" if cue is None else f"{cue - np.degrees(truth[k]):+.1f}"
            feet.append(
                f"foot_{side} offset {offset:+.1f}, at flat {at_flat:+.1f}, ankle cue {cue_err}"
            )
        lines.append(
            f"{name}: β error "
            + " ".join(f"{s} {e:+.1f}" for s, e in zip(rec.sensors, err, strict=True))
            + "; "
            + "; ".join(feet)
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speed-range", action="store_true", help="also the steady bouts")
    parser.add_argument(
        "--heldout-mounting",
        action="store_true",
        help="only the functional calibration on the held-out subjects",
    )
    parser.add_argument(
        "--without-foot-flat",
        action="store_true",
        help="the generator before its foot-flat phase (leg_ik.FOOT_FLAT_RAD = 0)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if args.without_foot_flat:
        leg_ik.FOOT_FLAT_RAD = 0.0
    if args.heldout_mounting:
        lines = heldout_mounting_report()
    else:
        lines = deterministic_report() + (speed_range_report() if args.speed_range else [])
    for line in lines:
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
