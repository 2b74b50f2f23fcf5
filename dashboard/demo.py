"""``make demo``: a broker, the live dashboard and ``sspinn-edge simulate`` on real data.

Starts, in this order:

1. an MQTT broker on a free 127.0.0.1 port: Debian's mosquitto when it is installed,
   else an embedded pure-Python broker (amqtt) in a child process; it says which
   (both back-ends: :mod:`edge.mqtt.local_broker`);
2. the dashboard bridge (:mod:`dashboard.server`) and prints its URL;
3. ``sspinn-edge simulate`` (the real daemon on an emulated I2C bus, with the shipped
   int8 bundle) on the bundled recordings: walking, then running, then again, each for
   ``--segment-seconds``.

``--config FILE`` runs the simulated device with your own daemon config (device id and
name, Home Assistant discovery, publish rate, batching, health period, topic prefix: see
``sspinn-edge simulate --config``); it publishes to the demo's broker whatever broker the
file names, so Home Assistant discovery can be tried on a laptop without a Pi.

Ctrl-C or SIGTERM stops everything (simulator, server, broker, by PID) and exits 0;
``--seconds N`` (or ``DEMO_SECONDS=N``) stops by itself after N seconds::

    python -m dashboard.demo                 # or: make demo, or sspinn-demo
    DEMO_SECONDS=30 python -m dashboard.demo

The demo lives in ``dashboard/`` because it runs on a laptop (broker, browser page,
simulated device side by side); the device itself never needs it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from dashboard.device_hub import valid_device_id
from dashboard.server import DashboardServer
from edge.mqtt.local_broker import Broker, BrokerError, start_broker, stop_process
from edge.recording import bundled_recording_path
from edge.version import add_version_argument

log = logging.getLogger(__name__)

#: Bundled real recordings replayed in turn.
RECORDINGS: tuple[str, ...] = ("P01_walking", "P01_running")
#: The shipped int8 bundle (passed to the simulator when present).
SHIPPED_BUNDLE = Path(str(resources.files("edge") / "models" / "default.sspinn"))
DEFAULT_PORT = 8765
DEFAULT_DEVICE = "demo"


def say(text: str) -> None:
    """One user-facing line on stdout (flushed: the URL must show at once)."""
    print(text, flush=True)


def _clients_hint() -> str:
    """Where ``mosquitto_sub`` is not installed: how to get it."""
    if shutil.which("mosquitto_sub"):
        return ""
    return "; mosquitto_sub comes with `make mosquitto` or `sudo apt-get install mosquitto-clients`"


# ---- the simulator ------------------------------------------------------------------------
def sspinn_edge_command() -> list[str]:
    """How to run ``sspinn-edge``: the console script beside this Python, else the module."""
    script = Path(sys.executable).with_name("sspinn-edge")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("sspinn-edge")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from edge.cli import main; sys.exit(main())"]


def simulate_available(command: Sequence[str] | None = None, timeout_s: float = 60.0) -> bool:
    """True when ``sspinn-edge simulate --help`` exits 0."""
    cmd = [*(command or sspinn_edge_command()), "simulate", "--help"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def simulate_command(
    recording: Path,
    broker: str,
    device_id: str,
    *,
    duration_s: float | None = None,
    bundle: Path | None = None,
    config: Path | None = None,
    command: Sequence[str] | None = None,
) -> list[str]:
    """The ``sspinn-edge simulate`` command line for one recording (``config``: the
    user's daemon config; the broker and device id given here still win)."""
    cmd = [
        *(command or sspinn_edge_command()),
        "simulate",
        "--recording",
        str(recording),
        "--broker",
        broker,
        "--device-id",
        device_id,
    ]
    if duration_s is not None:
        cmd += ["--duration", f"{duration_s:g}"]
    if bundle is not None:
        cmd += ["--bundle", str(bundle)]
    if config is not None:
        cmd += ["--config", str(config)]
    return cmd


# ---- orchestration ------------------------------------------------------------------------
@dataclass
class Demo:
    """Broker + dashboard + simulator, until stopped or ``seconds`` have passed."""

    seconds: float | None = None
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    device_id: str = DEFAULT_DEVICE
    broker_kind: str = "auto"
    segment_seconds: float = 30.0
    bundle: Path | None = None
    config: Path | None = None
    prefix: str = "sspinn"
    verbose: bool = False
    stop_event: threading.Event = field(default_factory=threading.Event)
    url: str | None = None

    def request_stop(self, *_: object) -> None:
        """Signal handler: stop everything (Ctrl-C, SIGTERM, the deadline)."""
        self.stop_event.set()

    def _start_server(self, broker: Broker) -> DashboardServer:
        try:
            return DashboardServer(
                broker.address,
                host=self.host,
                port=self.port,
                prefix=self.prefix,
                default_device=self.device_id,
            ).start()
        except OSError as exc:
            if self.port == 0:
                raise
            say(f"Port {self.port} is busy ({exc.strerror}); using a free port instead.")
            return DashboardServer(
                broker.address,
                host=self.host,
                port=0,
                prefix=self.prefix,
                default_device=self.device_id,
            ).start()

    def run(self) -> int:
        """Run the demo; the exit code (0 when stopped by Ctrl-C, SIGTERM or the deadline)."""
        started = time.monotonic()
        deadline = started + self.seconds if self.seconds else None
        edge_cmd = sspinn_edge_command()
        if not simulate_available(edge_cmd):
            say(
                "`sspinn-edge simulate` is not available in this installation, so there "
                "is nothing to show yet. Run `make install` (or update the checkout) and "
                "try again."
            )
            return 2
        bundle = self.bundle or (SHIPPED_BUNDLE if SHIPPED_BUNDLE.is_file() else None)
        logdir = Path(tempfile.mkdtemp(prefix="sspinn-demo-"))
        broker: Broker | None = None
        server: DashboardServer | None = None
        sim: subprocess.Popen[bytes] | None = None
        try:
            broker, words = start_broker(self.broker_kind)
            say(f"MQTT broker: {words}")
            server = self._start_server(broker)
            self.url = server.url
            say(f"Dashboard: {server.url}   (open it in a browser; Ctrl-C stops the demo)")
            say(
                f"Live topics: {self.prefix}/{self.device_id}/# on {broker.address}"
                f"  (e.g. mosquitto_sub -h {broker.host} -p {broker.port}"
                f" -t '{self.prefix}/{self.device_id}/#' -v{_clients_hint()})"
            )
            if self.config is not None:
                say(f"Device settings from {self.config} (its broker is replaced by this one).")
            if self.seconds:
                say(f"Stopping by itself after {self.seconds:g} s (DEMO_SECONDS).")
            sim = self._loop_simulator(broker, edge_cmd, bundle, logdir, deadline)
            return 0 if sim is None else 1
        except BrokerError as exc:
            say(f"Cannot start an MQTT broker: {exc}")
            return 1
        finally:
            say("Stopping...")
            if isinstance(sim, subprocess.Popen):
                stop_process(sim, 10.0, "sspinn-edge simulate")
            if server is not None:
                server.close()
            if broker is not None:
                broker.stop()
            if not self.verbose:
                shutil.rmtree(logdir, ignore_errors=True)
            say(f"Demo stopped after {time.monotonic() - started:.0f} s.")

    def _loop_simulator(
        self,
        broker: Broker,
        edge_cmd: list[str],
        bundle: Path | None,
        logdir: Path,
        deadline: float | None,
    ) -> subprocess.Popen[bytes] | None:
        """Run the recordings in turn until stopped; a simulator that keeps failing ends it.

        Returns None after a normal stop, or the failed process.
        """
        failures = 0
        run = 0
        while not self.stop_event.is_set():
            name = RECORDINGS[run % len(RECORDINGS)]
            run += 1
            cmd = simulate_command(
                bundled_recording_path(name),
                broker.address,
                self.device_id,
                duration_s=self.segment_seconds,
                bundle=bundle,
                config=self.config,
                command=edge_cmd,
            )
            log_path = logdir / f"simulate-{run:03d}-{name}.log"
            say(f"Simulating {name} for {self.segment_seconds:g} s: sspinn-edge simulate ...")
            log.debug("running %s (log %s)", " ".join(cmd), log_path)
            t_start = time.monotonic()
            with open(log_path, "wb") as out:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=None if self.verbose else out,
                    stderr=subprocess.STDOUT if not self.verbose else None,
                    start_new_session=True,  # Ctrl-C reaches the demo only; it stops us
                )
                while proc.poll() is None:
                    if deadline is not None and time.monotonic() >= deadline:
                        self.stop_event.set()
                    if self.stop_event.wait(0.2):
                        stop_process(proc, 10.0, "sspinn-edge simulate")
                        return None
            if proc.returncode == 0:
                failures = 0
                continue
            failures += 1
            tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
            say(f"sspinn-edge simulate exited with code {proc.returncode}:\n{tail}")
            if failures >= 3 or (time.monotonic() - t_start < 2.0 and failures >= 2):
                say("The simulator keeps failing; stopping the demo.")
                return proc
            self.stop_event.wait(1.0)
        return None


def build_parser() -> argparse.ArgumentParser:
    env_seconds = os.environ.get("DEMO_SECONDS") or None
    env_port = os.environ.get("DEMO_PORT") or None
    p = argparse.ArgumentParser(
        prog="sspinn-demo",
        description="Live demo: MQTT broker + dashboard + sspinn-edge simulate on the bundled "
        "real recordings (walking, then running). Ctrl-C stops everything.",
    )
    add_version_argument(p)
    p.add_argument(
        "--seconds",
        type=float,
        default=float(env_seconds) if env_seconds else None,
        help="stop by itself after N seconds (default: $DEMO_SECONDS, else run until Ctrl-C)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(env_port) if env_port else DEFAULT_PORT,
        help=f"dashboard HTTP port (default: $DEMO_PORT or {DEFAULT_PORT}; 0: a free one; "
        "a busy port falls back to a free one)",
    )
    p.add_argument("--host", default="127.0.0.1", help="dashboard address (default loopback)")
    p.add_argument(
        "--device-id",
        help=f"the simulated device's id (default: the config's, else {DEFAULT_DEVICE!r})",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="your daemon config (TOML): the simulated device takes its settings (Home "
        "Assistant discovery, rates, device id and name), publishing to the demo's broker",
    )
    p.add_argument(
        "--broker",
        choices=("auto", "mosquitto", "embedded"),
        default="auto",
        help="auto: mosquitto when installed, else the embedded pure-Python broker",
    )
    p.add_argument(
        "--segment-seconds",
        type=float,
        default=30.0,
        help="how long each recording is simulated before the next one (s)",
    )
    p.add_argument(
        "--bundle",
        type=Path,
        default=Path(os.environ["DEMO_BUNDLE"]) if os.environ.get("DEMO_BUNDLE") else None,
        help="model bundle (default: $DEMO_BUNDLE, else the shipped int8 bundle)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show the simulator's output")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    prefix = "sspinn"
    if args.config is not None:
        from edge.config import ConfigError, load_config

        try:
            cfg = load_config(args.config)
        except ConfigError as exc:
            say(f"--config: {exc}")
            return 2
        args.config = args.config.resolve()
        prefix = cfg.mqtt.topic_prefix
        if args.device_id is None:
            args.device_id = cfg.device.id
    if args.device_id is None:
        args.device_id = DEFAULT_DEVICE
    if not valid_device_id(args.device_id):
        say(f"--device-id {args.device_id!r} must be one plain MQTT topic level")
        return 2
    if args.seconds is not None and args.seconds <= 0:
        args.seconds = None
    demo = Demo(
        seconds=args.seconds,
        port=args.port,
        host=args.host,
        device_id=args.device_id,
        broker_kind=args.broker,
        segment_seconds=args.segment_seconds,
        bundle=args.bundle,
        config=args.config,
        prefix=prefix,
        verbose=args.verbose,
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, demo.request_stop)
    say("SSPINNpose demo: starting a broker, the dashboard and the simulated device...")
    return demo.run()


if __name__ == "__main__":
    raise SystemExit(main())
