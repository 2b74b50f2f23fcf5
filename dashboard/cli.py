"""``sspinn-dashboard`` (``python -m dashboard``): serve the live dashboard until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from dashboard.server import DashboardServer
from edge.mqtt.login import PASSWORD_ENV, add_login_arguments, resolve_login
from edge.version import add_version_argument

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sspinn-dashboard",
        description="Serve the live SSPINNpose dashboard, fed by an MQTT broker.",
    )
    add_version_argument(p)
    p.add_argument(
        "--broker",
        default="127.0.0.1:1883",
        help="MQTT broker: HOST[:PORT], mqtt://HOST[:PORT], mqtts://HOST[:PORT] or [IPv6]:PORT",
    )
    p.add_argument("--device", default=None, help="device id shown by default")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address (default loopback only)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (0: a free one)")
    p.add_argument("--prefix", default="sspinn", help="topic prefix")
    p.add_argument("--max-event-rate", type=float, default=30.0, help="events/s per browser")
    p.add_argument("--max-frame-rate", type=float, default=100.0, help="frames/s forwarded")
    add_login_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true")
    p.epilog = (
        f"Broker login: --username and --password-file FILE or ${PASSWORD_ENV} (never the "
        "password itself on the command line); without it, the dashboard is anonymous."
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Command line: serve until Ctrl-C."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        username, password = resolve_login(args.username, args.password_file)
        server = DashboardServer(
            args.broker,
            username=username,
            password=password,
            host=args.host,
            port=args.port,
            prefix=args.prefix,
            default_device=args.device,
            max_event_rate_hz=args.max_event_rate,
            max_frame_rate_hz=args.max_frame_rate,
        ).start()
    except (ValueError, OSError) as exc:
        log.error("cannot start the dashboard: %s", exc)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("open %s", server.url)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
