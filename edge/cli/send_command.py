"""``sspinn-edge send-command``: the operator sends one command to a device and prints
its reply; with ``--key`` the command is signed (``[commands] require_signed``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.cli.exit_codes import EXIT_OK, EXIT_PROBLEM, CommandFailed
from edge.mqtt.login import add_login_arguments


def add_send_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "send-command",
        help="send a command (record, calibrate, config, model) to a device, signed with "
        "--key, and print its reply",
    )
    p.add_argument("name", help="command: record, calibrate, config or model")
    p.add_argument(
        "payload",
        nargs="?",
        help='the command\'s JSON, e.g. \'{"action": "start"}\' (or use --payload-file)',
    )
    p.add_argument("--payload-file", type=Path, help="payload from a file (a bundle for model)")
    p.add_argument("--broker", required=True, help="HOST[:PORT], mqtt://..., mqtts://...")
    p.add_argument("--device", required=True, help="device id")
    p.add_argument("--key", type=Path, help="operator private key (sspinn-convert keygen)")
    p.add_argument("--prefix", default="sspinn", help="topic prefix ([mqtt] topic_prefix)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the reply")
    p.add_argument("--tls-ca", help="CA file (PEM): connect with TLS")
    add_login_arguments(p)
    p.set_defaults(func=cmd_send_command)


def _payload(args: argparse.Namespace) -> bytes:
    if (args.payload is None) == (args.payload_file is None):
        raise CommandFailed("error: give the payload as an argument or with --payload-file")
    if args.payload_file is not None:
        try:
            return args.payload_file.read_bytes()
        except OSError as exc:
            raise CommandFailed(f"error: --payload-file: {exc}") from None
    return args.payload.encode("utf-8")


def cmd_send_command(args: argparse.Namespace) -> int:
    from edge.bundle import BundleError, load_signing_key
    from edge.mqtt.command_client import CommandSendError, TlsOptions, send_command
    from edge.mqtt.login import resolve_login

    payload = _payload(args)
    try:
        key = load_signing_key(args.key) if args.key is not None else None
        username, password = resolve_login(args.username, args.password_file)
        reply = send_command(
            args.broker,
            args.device,
            args.name,
            payload,
            key=key,
            topic_prefix=args.prefix,
            timeout_s=args.timeout,
            tls=TlsOptions(ca_file=args.tls_ca) if args.tls_ca else None,
            username=username,
            password=password,
        )
    except (BundleError, ValueError) as exc:
        raise CommandFailed(f"error: {exc}") from None
    except CommandSendError as exc:
        raise CommandFailed(f"error: {exc}", code=EXIT_PROBLEM) from None
    print(json.dumps(reply))
    return EXIT_OK if reply.get("ok") else EXIT_PROBLEM
