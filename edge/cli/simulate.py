"""``sspinn-edge simulate``: the daemon on an emulated bus replaying a recording."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from pydantic import ValidationError

from edge.cli.exit_codes import EXIT_OK, EXIT_PROBLEM, CommandFailed
from edge.cli.serve import serve
from edge.mqtt.link_stats import LinkStats
from edge.mqtt.publish_settings import PublishSettings


def add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="run the daemon on an emulated bus replaying a recording")
    p.add_argument(
        "--recording",
        required=True,
        help="recording: CSV path, NAME or bundled:NAME (e.g. P01_walking)",
    )
    p.add_argument(
        "--broker",
        default="127.0.0.1:1883",
        help="MQTT broker: HOST[:PORT], mqtt://HOST[:PORT], mqtts://HOST[:PORT] or [IPv6]:PORT",
    )
    p.add_argument("--device-id", default="sim", help="device id (MQTT topic level)")
    p.add_argument("--duration", type=float, help="seconds of samples (default: the recording)")
    p.add_argument("--fast", action="store_true", help="as fast as possible, not real time")
    p.add_argument("--bundle", type=Path, help="model bundle (default: the shipped int8 one)")
    p.add_argument("--record-dir", type=Path, help="also record raw data into this folder")
    p.add_argument("--publish-rate", type=float, default=20.0, help="estimate frames/s (Hz)")
    p.add_argument("--batch-size", type=int, default=1, help="frames per message")
    p.add_argument("--segment-s", type=float, default=60.0, help="recording segment length (s)")
    p.set_defaults(func=cmd_simulate)


def _publish_settings(args: argparse.Namespace, sample_rate_hz: float) -> PublishSettings:
    """``--publish-rate`` (at or above the sample rate: every sample) and ``--batch-size``
    as the one publish-settings model."""
    try:
        return PublishSettings.every_sample_at_or_above(
            args.publish_rate, sample_rate_hz, args.batch_size
        )
    except ValidationError as exc:
        flags = {"publish_rate_hz": "--publish-rate", "batch_size": "--batch-size"}
        text = "; ".join(
            f"{flags.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else ''}: {e['msg']}"
            for e in exc.errors()
        )
        raise CommandFailed(f"error: {text}") from None


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
            publish=_publish_settings(args, rate),
            segment_s=args.segment_s,
        )
        daemon = Daemon(cfg, simulated_parts(rec, fast=args.fast), backpressure=args.fast)
    except (RecordingError, BundleError, FileNotFoundError, ValueError) as exc:
        raise CommandFailed(f"error: {exc}") from None
    duration = args.duration if args.duration is not None else rec.n_samples / rate
    stats = serve(daemon, duration)
    summary = {
        "recording": str(args.recording),
        "samples": daemon.loop.samples,
        "estimates": daemon.loop.estimates,
        "published_frames": daemon.publisher.frames,
        "link": asdict(daemon.link.stats()),
        "sampler": stats,
    }
    print(json.dumps(summary, default=str))
    return _delivery_verdict(daemon.link.stats(), cfg.mqtt.host, cfg.mqtt.port)


def _delivery_verdict(link: LinkStats, host: str, port: int) -> int:
    """Exit 1 when messages were lost because the broker could not be reached (or
    refused us); 0 otherwise."""
    undelivered = link.dropped + link.lost_in_flight
    if link.connects == 0:
        why = link.last_error or f"cannot reach {host}:{port}"
        raise CommandFailed(
            f"error: never connected to the broker ({why}): none of {link.submitted} messages "
            "were delivered; check --broker and that the broker runs",
            code=EXIT_PROBLEM,
        )
    if undelivered and link.last_error:
        raise CommandFailed(
            f"error: {undelivered} of {link.submitted} messages were not delivered "
            f"({link.last_error})",
            code=EXIT_PROBLEM,
        )
    return EXIT_OK
