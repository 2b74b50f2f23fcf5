"""``sspinn-edge simulate``: the daemon on an emulated bus replaying a recording."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from edge.cli.exit_codes import EXIT_OK, EXIT_PROBLEM, CommandFailed
from edge.cli.serve import serve
from edge.mqtt.link_stats import LinkStats
from edge.mqtt.publish_settings import DEFAULT_PUBLISH_RATE_HZ, PublishSettings

if TYPE_CHECKING:
    from edge.config import DaemonConfig

#: Where ``simulate`` publishes without ``--broker`` or ``--config``.
DEFAULT_BROKER = "127.0.0.1:1883"
#: The device id without ``--device-id`` or ``--config``.
DEFAULT_DEVICE_ID = "sim"


def add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="run the daemon on an emulated bus replaying a recording")
    p.add_argument(
        "--recording",
        required=True,
        help="recording: CSV path, NAME or bundled:NAME (e.g. P01_walking)",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="your daemon config (TOML, as for `run`): device, [mqtt] (Home Assistant "
        "discovery, login, TLS, rates), recorder and model settings; the wearer, sample "
        "rate and sensors come from the recording and bundle; the flags below override it",
    )
    p.add_argument(
        "--broker",
        help="MQTT broker: HOST[:PORT], mqtt://HOST[:PORT], mqtts://HOST[:PORT] or [IPv6]:PORT "
        f"(default: the config's, else {DEFAULT_BROKER})",
    )
    p.add_argument(
        "--device-id",
        help=f"device id (MQTT topic level; default: the config's, else {DEFAULT_DEVICE_ID!r})",
    )
    p.add_argument("--duration", type=float, help="seconds of samples (default: the recording)")
    p.add_argument("--fast", action="store_true", help="as fast as possible, not real time")
    p.add_argument(
        "--bundle",
        type=Path,
        help="model bundle (default: the config's model.bundle when it exists, else the "
        "shipped one: int8 weights, float activations)",
    )
    p.add_argument("--record-dir", type=Path, help="also record raw data into this folder")
    p.add_argument(
        "--publish-rate",
        type=float,
        help=f"estimate frames/s (Hz; default: the config's, else {DEFAULT_PUBLISH_RATE_HZ:g})",
    )
    p.add_argument(
        "--batch-size", type=int, help="frames per message (default: the config's, else 1)"
    )
    p.add_argument(
        "--segment-s",
        type=float,
        help="recording segment length (s; default: the config's, else 60)",
    )
    p.set_defaults(func=cmd_simulate)


def _publish_settings(
    args: argparse.Namespace, sample_rate_hz: float, base: DaemonConfig | None = None
) -> PublishSettings | None:
    """``--publish-rate`` (at or above the sample rate: every sample) and ``--batch-size``
    as the one publish-settings model, the config's (else the defaults) for the one not
    given; None when neither is given and a config says how to publish."""
    if base is not None and args.publish_rate is None and args.batch_size is None:
        return None
    rate = args.publish_rate
    if rate is None:
        rate = base.mqtt.effective_rate_hz(sample_rate_hz) if base else DEFAULT_PUBLISH_RATE_HZ
    batch = (
        args.batch_size if args.batch_size is not None else (base.mqtt.batch_size if base else 1)
    )
    try:
        return PublishSettings.every_sample_at_or_above(rate, sample_rate_hz, batch)
    except ValidationError as exc:
        flags = {"publish_rate_hz": "--publish-rate", "batch_size": "--batch-size"}
        text = "; ".join(
            f"{flags.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else ''}: {e['msg']}"
            for e in exc.errors()
        )
        raise CommandFailed(f"error: {text}") from None


def _load_config(path: Path | None) -> DaemonConfig | None:
    if path is None:
        return None
    from edge.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise CommandFailed(f"error: {exc}") from None


def cmd_simulate(args: argparse.Namespace) -> int:
    from edge.bundle import BundleError
    from edge.daemon import Daemon
    from edge.daemon.simulate import (
        replay_recording,
        simulated_parts,
        simulation_bundle,
        simulation_config,
        simulation_config_from,
    )
    from edge.recording import RecordingError
    from edge.simulated_hardware import load_recording

    base = _load_config(args.config)
    try:
        bundle = simulation_bundle(base, args.bundle)
        source = load_recording(args.recording)
        from edge.bundle import read_bundle

        rate = read_bundle(bundle).manifest.sample_rate_hz
        rec = replay_recording(source, rate, args.duration)
        publish = _publish_settings(args, rate, base)
        if base is not None:
            cfg = simulation_config_from(
                base,
                rec,
                bundle=bundle,
                broker=args.broker,
                device_id=args.device_id,
                record_dir=args.record_dir,
                publish=publish,
                segment_s=args.segment_s,
            )
        else:
            cfg = simulation_config(
                rec,
                broker=args.broker or DEFAULT_BROKER,
                device_id=args.device_id or DEFAULT_DEVICE_ID,
                bundle=bundle,
                record_dir=args.record_dir,
                publish=publish,
                segment_s=args.segment_s if args.segment_s is not None else 60.0,
            )
        daemon = Daemon(cfg, simulated_parts(rec, fast=args.fast), backpressure=args.fast)
    except (RecordingError, BundleError, FileNotFoundError, ValueError) as exc:
        raise CommandFailed(f"error: {exc}") from None
    duration = args.duration if args.duration is not None else rec.n_samples / rate
    stats = serve(daemon, duration)
    summary = {
        "recording": str(args.recording),
        "config": None if args.config is None else str(args.config),
        "device": cfg.device.id,
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
