"""``sspinn-edge probe``: scan the multiplexer, identify the IMUs, self-test them."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edge.cli.exit_codes import EXIT_OK, EXIT_PROBLEM
from edge.cli.hardware import (
    add_sensor_arguments,
    load_recording_arg,
    load_sensor_map_arg,
    open_real_sensors,
)


def _no_sleep(_s: float) -> None:
    return None


def add_probe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="scan the multiplexer channels and addresses, identify the IMUs",
        description="Scan TCA9548A channels 0-7 for MPU-6050 (0x68/0x69) and LSM6DSOX "
        "(0x6A/0x6B), read WHO_AM_I, run the self-test (keep the sensors still) and "
        "match the result against the sensor map.",
    )
    add_sensor_arguments(
        p,
        "probe an emulated bus replaying this recording "
        "(CSV path, NAME or bundled:NAME, e.g. P01_walking)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--chip",
        default="mpu6050",
        choices=["mpu6050", "lsm6dsox"],
        help="chip of the emulated sensors (with --simulate and no --config)",
    )
    p.add_argument("--no-self-test", action="store_true", help="only identify the chips")
    p.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    from firmware_bridge.bus import LockedBus
    from firmware_bridge.probe import scan

    smap = load_sensor_map_arg(args.config)
    if args.simulate:
        from edge.simulated_hardware import build_simulated_hardware

        rec = load_recording_arg(args.simulate)
        # still sensors (the first sample held): the self-test needs them still
        hw = build_simulated_hardware(rec, smap, chip=args.chip, advance="hold")
        smap = hw.sensor_map
        bus = LockedBus(hw.smbus, name="emulated")
        bus_name = f"emulated ({Path(str(args.simulate)).name})"
        sleep = _no_sleep
    else:
        real = open_real_sensors(args.bus, smap)
        bus, smap, bus_name, sleep = real.bus, real.sensor_map, real.bus_name, time.sleep
    try:
        report = scan(bus, smap, self_test=not args.no_self_test, bus_name=bus_name, sleep=sleep)
    finally:
        bus.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.table())
    return EXIT_OK if report.ok else EXIT_PROBLEM
