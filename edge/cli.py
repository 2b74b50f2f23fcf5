"""``sspinn-edge``: the command line of the edge device.

Only argument parsing and output formatting live here; the work is done by
``firmware_bridge`` (probe, calibration) and the other ``edge`` modules.

Subcommands are registered in :data:`COMMANDS` as ``(name, add_parser_function)``;
each ``add_*`` function adds its parser and sets ``func`` (returns the exit code).
``run`` and ``simulate`` are added by the daemon's module.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_OK = 0
EXIT_PROBLEM = 1  # the command ran and found a problem (missing sensor, not still, ...)
EXIT_USAGE = 2  # cannot run: no I2C bus, bad config, unknown recording


def _no_sleep(_s: float) -> None:
    return None


def _load_sensor_map(path: Path | None):  # type: ignore[no-untyped-def]
    from firmware_bridge.sensor_map import SensorMap

    if path is None:
        return None
    return SensorMap.from_file(path)


def _open_real_bus(bus_number: int):  # type: ignore[no-untyped-def]
    """``smbus2.SMBus(n)`` or ``None`` with an explanation on stderr."""
    try:
        from smbus2 import SMBus
    except ImportError:
        print("smbus2 is not installed: pip install 'sspinnpose-edge[edge]'", file=sys.stderr)
        return None
    dev = f"/dev/i2c-{bus_number}"
    try:
        return SMBus(bus_number)
    except FileNotFoundError:
        print(
            f"cannot open {dev}: no such I2C bus on this machine.\n"
            "On a Raspberry Pi enable I2C (sudo raspi-config → Interface Options → I2C, or "
            "dtparam=i2c_arm=on in /boot/firmware/config.txt) and reboot.\n"
            "Off a Pi, use the emulated bus: sspinn-edge probe --simulate P01_walking",
            file=sys.stderr,
        )
    except PermissionError:
        print(
            f"permission denied on {dev}: add your user to the 'i2c' group "
            "(sudo usermod -aG i2c $USER) and log in again",
            file=sys.stderr,
        )
    except OSError as exc:
        print(f"cannot open {dev}: {exc}", file=sys.stderr)
    return None


# ---- probe -----------------------------------------------------------------------------
def add_probe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="scan the multiplexer channels and addresses, identify the IMUs",
        description="Scan TCA9548A channels 0-7 for MPU-6050 (0x68/0x69) and LSM6DSOX "
        "(0x6A/0x6B), read WHO_AM_I, run the self-test (keep the sensors still) and "
        "match the result against the sensor map.",
    )
    p.add_argument(
        "--simulate",
        metavar="RECORDING",
        help="probe an emulated bus replaying this recording (CSV path or bundled name)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--bus", type=int, default=None, help="I2C bus number (default: 1)")
    p.add_argument("--config", type=Path, help="sensor map file (JSON or TOML)")
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
    from firmware_bridge.sensor_map import default_sensor_map

    try:
        smap = _load_sensor_map(args.config)
    except (OSError, ValueError) as exc:
        print(f"sensor map {args.config}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.simulate:
        from edge.simulated_hardware import build_simulated_hardware, load_recording

        try:
            rec = load_recording(args.simulate)
        except (OSError, ValueError) as exc:
            print(f"cannot read recording {args.simulate!r}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        # still sensors (the first sample held): the self-test needs them still
        hw = build_simulated_hardware(rec, smap, chip=args.chip, advance="hold")
        smap = hw.sensor_map
        bus = LockedBus(hw.smbus, name="emulated")
        bus_name = f"emulated ({Path(str(args.simulate)).name})"
        sleep = _no_sleep
    else:
        number = args.bus if args.bus is not None else (smap.bus if smap else 1)
        smbus = _open_real_bus(number)
        if smbus is None:
            return EXIT_USAGE
        bus = LockedBus(smbus, name=f"i2c-{number}")
        bus_name = f"/dev/i2c-{number}"
        smap = smap or default_sensor_map()
        import time

        sleep = time.sleep
    try:
        report = scan(bus, smap, self_test=not args.no_self_test, bus_name=bus_name, sleep=sleep)
    finally:
        bus.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.table())
    return EXIT_OK if report.ok else EXIT_PROBLEM


# ---- calibrate -------------------------------------------------------------------------
def add_calibrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="gyroscope bias and sagittal alignment from quiet standing",
        description="Read the sensors while the wearer stands still, estimate each "
        "gyroscope's bias and the strap's tilt in the sagittal plane, print the result "
        "as the recording sidecar's 'calibration' JSON.",
    )
    p.add_argument(
        "--simulate",
        metavar="RECORDING",
        help="read an emulated bus replaying this recording (CSV path or bundled name), "
        "or 'standing' for synthetic quiet standing with a 7° strap tilt on femur_r",
    )
    p.add_argument("--seconds", type=float, default=3.0, help="still window length (s)")
    p.add_argument("--rate", type=float, default=100.0, help="sample rate (Hz)")
    p.add_argument("--bus", type=int, default=None, help="I2C bus number (default: 1)")
    p.add_argument("--config", type=Path, help="sensor map file (JSON or TOML)")
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
    from firmware_bridge.sensor_map import default_sensor_map

    try:
        smap = _load_sensor_map(args.config)
    except (OSError, ValueError) as exc:
        print(f"sensor map {args.config}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.simulate:
        from edge.simulated_hardware import (
            build_simulated_hardware,
            load_recording,
            standing_arrays,
        )

        clock = SimulatedClock()
        noise = ImuNoise.typical(gyr_bias_rad_s=(0.01, -0.02, 0.015))
        if args.simulate == "standing":
            imu, names, rate = standing_arrays(args.seconds + 1, args.rate, {"femur_r": 7.0})
            hw = build_emulated_bus(
                imu, names, rate, smap, advance="clock", clock=clock, noise=noise
            )
        else:
            try:
                rec = load_recording(args.simulate)
            except (OSError, ValueError) as exc:
                print(f"cannot read recording {args.simulate!r}: {exc}", file=sys.stderr)
                return EXIT_USAGE
            hw = build_simulated_hardware(rec, smap, advance="clock", clock=clock, noise=noise)
        smap = hw.sensor_map
        bus = LockedBus(hw.smbus, name="emulated")
    else:
        number = args.bus if args.bus is not None else (smap.bus if smap else 1)
        smbus = _open_real_bus(number)
        if smbus is None:
            return EXIT_USAGE
        bus = LockedBus(smbus, name=f"i2c-{number}")
        smap = smap or default_sensor_map()
        clock = SystemClock()
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


#: (name, parser builder). Add new subcommands here, e.g. ("run", add_run).
def _add_run(sub: argparse._SubParsersAction) -> None:
    from edge.daemon.commands_cli import add_run

    add_run(sub)


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    from edge.daemon.commands_cli import add_simulate

    add_simulate(sub)


COMMANDS: list[tuple[str, Callable[[argparse._SubParsersAction], None]]] = [
    ("run", _add_run),
    ("simulate", _add_simulate),
    ("probe", add_probe),
    ("calibrate", add_calibrate),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sspinn-edge", description="SSPINNpose edge device: sensors, model, MQTT."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for _name, add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
