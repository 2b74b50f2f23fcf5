"""``sspinn-edge run`` and ``sspinn-edge simulate`` (registered in ``edge.cli``)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from dataclasses import asdict
from pathlib import Path

log = logging.getLogger(__name__)

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _serve(daemon, duration_s: float | None) -> dict:  # type: ignore[no-untyped-def]
    """Run with SIGINT/SIGTERM stopping the loop cleanly; always close."""

    def stop(signum, frame):  # type: ignore[no-untyped-def]
        log.info("signal %d: stopping", signum)
        daemon.stop()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        problems = daemon.start()
        for name, why in problems.items():
            print(f"warning: sensor {name} not available: {why}", file=sys.stderr)
        stats = daemon.run(duration_s=duration_s)
    finally:
        daemon.close()
        for s, handler in old.items():
            signal.signal(s, handler)
    return stats


def add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the daemon on the real I2C bus")
    p.add_argument("--config", type=Path, required=True, help="daemon config (TOML)")
    p.add_argument("--validate-config", action="store_true", help="check the config and exit")
    p.add_argument("--bus", type=int, default=1, help="I2C bus number (/dev/i2c-N)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from edge.config import ConfigError, load_config, validate_config_cli

    if args.validate_config:
        return validate_config_cli(args.config)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from edge.cli import _open_real_bus
    from edge.daemon import Daemon, DaemonParts
    from firmware_bridge.bus import LockedBus
    from firmware_bridge.sensor_map import SensorMap

    smbus = _open_real_bus(args.bus)
    if smbus is None:
        return EXIT_USAGE
    try:
        smap = SensorMap.model_validate(cfg.sensors)
    except ValueError as exc:
        print(f"error: {args.config}: [sensors]: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parts = DaemonParts(bus=LockedBus(smbus), sensor_map=smap, on_close=smbus.close)
    from edge.bundle import BundleError

    try:
        daemon = Daemon(cfg, parts)
    except BundleError as exc:
        print(f"error: model: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stats = _serve(daemon, args.duration)
    print(json.dumps(stats))
    return EXIT_OK


def add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="run the daemon on an emulated bus replaying a recording")
    p.add_argument("--recording", required=True, help="recording CSV or bundled name (P01_walking)")
    p.add_argument("--broker", default="127.0.0.1:1883", help="HOST:PORT of the MQTT broker")
    p.add_argument("--device-id", default="sim", help="device id (MQTT topic level)")
    p.add_argument("--duration", type=float, help="seconds of samples (default: the recording)")
    p.add_argument("--fast", action="store_true", help="as fast as possible, not real time")
    p.add_argument("--bundle", type=Path, help="model bundle (default: the shipped int8 one)")
    p.add_argument("--record-dir", type=Path, help="also record raw data into this folder")
    p.add_argument("--publish-rate", type=float, default=20.0, help="estimate frames/s (Hz)")
    p.add_argument("--batch-size", type=int, default=1, help="frames per message")
    p.add_argument("--segment-s", type=float, default=60.0, help="recording segment length (s)")
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    from edge.bundle import BundleError
    from edge.daemon import Daemon
    from edge.daemon.simulate import (
        default_bundle_path,
        replay_recording,
        simulated_parts,
        simulation_config,
    )
    from edge.recording import RecordingError
    from edge.simulated_hardware import load_recording

    bundle = args.bundle or default_bundle_path()
    try:
        source = load_recording(args.recording)
        from edge.bundle import read_bundle

        rate = read_bundle(bundle).manifest.sample_rate_hz
        rec = replay_recording(source, rate, args.duration)
        cfg = simulation_config(
            rec,
            broker=args.broker,
            device_id=args.device_id,
            bundle=bundle,
            record_dir=args.record_dir,
            publish_rate_hz=args.publish_rate,
            batch_size=args.batch_size,
            segment_s=args.segment_s,
        )
        daemon = Daemon(cfg, simulated_parts(rec, fast=args.fast), backpressure=args.fast)
    except (RecordingError, BundleError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    duration = args.duration if args.duration is not None else rec.n_samples / rate
    stats = _serve(daemon, duration)
    summary = {
        "recording": str(args.recording),
        "samples": daemon.loop.samples,
        "estimates": daemon.loop.estimates,
        "published_frames": daemon.publisher.frames,
        "link": asdict(daemon.link.stats()),
        "sampler": stats,
    }
    print(json.dumps(summary, default=str))
    return EXIT_OK
