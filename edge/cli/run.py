"""``sspinn-edge run``: the daemon on the real I2C bus, or (``--simulate RECORDING``)
the very same daemon with only the bus replaced by an emulated one replaying a recording."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from edge.cli.exit_codes import EXIT_OK, CommandFailed
from edge.cli.hardware import open_i2c_bus
from edge.cli.serve import serve

if TYPE_CHECKING:
    from edge.config import DaemonConfig
    from edge.daemon import DaemonParts
    from firmware_bridge.sensor_map import SensorMap


def add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the daemon on the real I2C bus")
    p.add_argument("--config", type=Path, required=True, help="daemon config (TOML)")
    p.add_argument(
        "--validate-config",
        action="store_true",
        help="check the config and everything start-up needs (model, folders, TLS), then exit",
    )
    p.add_argument("--bus", type=int, default=1, help="I2C bus number (/dev/i2c-N)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument(
        "--simulate",
        metavar="RECORDING",
        help="replace the I2C bus by an emulated one replaying RECORDING (CSV path, NAME or "
        "bundled:NAME) in real time; everything else is the config's (default duration: "
        "the recording's)",
    )
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from edge.config import ConfigError, load_config
    from edge.daemon.preflight import preflight, preflight_cli

    if args.validate_config:
        return preflight_cli(args.config)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise CommandFailed(f"error: {exc}") from None
    problems = preflight(cfg, model=False, sensors=False)  # the daemon checks those itself
    if problems:
        lines = [f"error: {args.config}: {key}: {reason}" for key, reason in problems]
        raise CommandFailed("\n".join(lines))
    from edge.bundle import BundleError
    from edge.daemon import Daemon, DaemonParts
    from firmware_bridge.bus import LockedBus
    from firmware_bridge.sensor_map import SensorMap

    try:
        smap = SensorMap.model_validate(cfg.sensors)
    except ValueError as exc:
        raise CommandFailed(f"error: {args.config}: [sensors]: {exc}") from None
    duration = args.duration
    if args.simulate is not None:
        parts, length_s = _simulated_parts(args.simulate, cfg, smap, duration)
        duration = length_s if duration is None else duration
    else:
        smbus = open_i2c_bus(args.bus)
        parts = DaemonParts(bus=LockedBus(smbus), sensor_map=smap, on_close=smbus.close)
    try:
        daemon = Daemon(cfg, parts)
    except BundleError as exc:
        if parts.on_close is not None:
            parts.on_close()
        raise CommandFailed(f"error: model: {exc}") from None
    stats = serve(daemon, duration)
    print(json.dumps(stats))
    return EXIT_OK


def _simulated_parts(
    spec: str, cfg: DaemonConfig, smap: SensorMap, duration: float | None
) -> tuple[DaemonParts, float]:
    """The emulated bus for ``--simulate`` (:func:`edge.daemon.simulate.recording_parts`)."""
    from edge.daemon.simulate import recording_parts
    from edge.recording import RecordingError

    try:
        return recording_parts(spec, cfg, smap, duration)
    except (RecordingError, FileNotFoundError, ValueError) as exc:
        raise CommandFailed(f"error: --simulate: {exc}") from None
