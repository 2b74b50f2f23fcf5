"""``sspinn-edge broker-config``: mosquitto accounts and ACL so that only the operator
commands a device (docs/security.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli.exit_codes import EXIT_OK, CommandFailed


def add_broker_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "broker-config",
        help="write a mosquitto password file + ACL: devices publish only their own "
        "topics, only the operator commands, anonymous clients only read estimates",
    )
    p.add_argument("--out", type=Path, required=True, help="folder for the files")
    p.add_argument(
        "--device", action="append", required=True, help="device id (repeat for several)"
    )
    p.add_argument("--operator", default="operator", help="account that may command devices")
    p.add_argument(
        "--viewer",
        action="append",
        default=[],
        help="read-only account for a dashboard (status, meta, estimates, health; repeatable)",
    )
    p.add_argument("--prefix", default="sspinn", help="topic prefix ([mqtt] topic_prefix)")
    p.add_argument(
        "--conf-dir",
        type=Path,
        help="where the files will be on the broker host (default: --out)",
    )
    p.set_defaults(func=cmd_broker_config)


def cmd_broker_config(args: argparse.Namespace) -> int:
    from edge.mqtt.broker_config import write_broker_config

    try:
        files = write_broker_config(
            args.out, args.device, operator=args.operator, prefix=args.prefix,
            conf_dir=args.conf_dir, viewers=args.viewer,
        )  # fmt: skip
    except (ValueError, OSError) as exc:
        raise CommandFailed(f"error: {exc}") from None
    print(f"wrote {files.passwd}, {files.acl} and {files.conf}")
    for account, path in files.passwords.items():
        print(f"password of {account!r}: {path} (mode 0600)")
    print(
        f"on the broker host: copy the folder (e.g. to /etc/mosquitto/sspinn, passwd readable "
        f"by group mosquitto) and add the lines of {files.conf.name} to mosquitto's config"
    )
    for device in args.device:
        print(
            f'device {device}: [mqtt] username = "{device}", password_file = the copy of '
            f"{files.passwords[device].name}"
        )
    for viewer in args.viewer:
        print(
            f"viewer {viewer}: sspinn-dashboard --username {viewer} --password-file the copy "
            f"of {files.passwords[viewer].name} (or SSPINN_MQTT_PASSWORD)"
        )
    return EXIT_OK
