"""``sspinn-edge calibrate``: gyroscope bias and sagittal alignment from quiet standing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.cli.exit_codes import EXIT_OK, EXIT_PROBLEM
from edge.cli.hardware import (
    add_sensor_arguments,
    load_recording_arg,
    load_sensor_map_arg,
    open_real_sensors,
)


def add_calibrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="gyroscope bias and sagittal alignment from quiet standing",
        description="Read the sensors while the wearer stands still, estimate each "
        "gyroscope's bias and the strap's tilt in the sagittal plane, print the result "
        "as the recording sidecar's 'calibration' JSON.",
    )
    add_sensor_arguments(
        p,
        "read an emulated bus replaying this recording (CSV path, NAME or bundled:NAME, "
        "e.g. P01_walking), "
        "or 'standing' for synthetic quiet standing with a 7° strap tilt on femur_r",
    )
    p.add_argument("--seconds", type=float, default=3.0, help="still window length (s)")
    p.add_argument("--rate", type=float, default=100.0, help="sample rate (Hz)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    import numpy as np

    from firmware_bridge.acquisition import Acquisition, AcquisitionSettings
    from firmware_bridge.bus import LockedBus
    from firmware_bridge.calibration import NotStillError, calibrate_still
    from firmware_bridge.clock import SimulatedClock, SystemClock
    from firmware_bridge.emulation import ImuNoise, build_emulated_bus
    from firmware_bridge.sampler import FixedRateSampler

    smap = load_sensor_map_arg(args.config)
    if args.simulate:
        from edge.simulated_hardware import build_simulated_hardware, standing_arrays

        clock = SimulatedClock()
        noise = ImuNoise.typical(gyr_bias_rad_s=(0.01, -0.02, 0.015))
        if args.simulate == "standing":
            imu, names, rate = standing_arrays(args.seconds + 1, args.rate, {"femur_r": 7.0})
            hw = build_emulated_bus(
                imu, names, rate, smap, advance="clock", clock=clock, noise=noise
            )
        else:
            rec = load_recording_arg(args.simulate)
            hw = build_simulated_hardware(rec, smap, advance="clock", clock=clock, noise=noise)
        smap = hw.sensor_map
        bus = LockedBus(hw.smbus, name="emulated")
    else:
        real = open_real_sensors(args.bus, smap)
        bus, smap, clock = real.bus, real.sensor_map, SystemClock()
    acq = Acquisition(bus, smap, clock=clock, settings=AcquisitionSettings(odr_hz=args.rate))
    problems = acq.start()
    if problems:
        for name, why in problems.items():
            print(f"{name}: {why}", file=sys.stderr)
        return EXIT_PROBLEM
    n = int(args.seconds * args.rate)
    data = np.empty((n, len(smap.sensors), 6))
    sampler = FixedRateSampler(args.rate, clock)
    sampler.run(lambda tick: data.__setitem__(tick.index, acq.read().data), n_ticks=n)
    try:
        result = calibrate_still(data, smap.names, args.rate)
    except NotStillError as exc:
        print(f"not still: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    text = json.dumps(result.to_sidecar(), indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return EXIT_OK
