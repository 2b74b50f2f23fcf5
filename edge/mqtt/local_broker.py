"""Local MQTT brokers on a free 127.0.0.1 port, as plain child processes stopped by PID.

Two back-ends, one place:

- Debian's mosquitto (:func:`start_mosquitto`): used by the tests (a real broker, never
  a mock), the benchmarks and ``make demo``. It runs with an explicit config file in a
  private temporary folder, listens on loopback only and keeps no persistence.
- an embedded pure-Python broker, amqtt (:func:`start_embedded_broker`), for
  ``make demo`` on a machine without mosquitto; it runs in a child process
  (``python -m edge.mqtt.local_broker --serve-embedded PORT``).

:func:`start_broker` picks one (``auto``: mosquitto when installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

_SEARCH = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


class BrokerError(RuntimeError):
    """The local broker could not be found or started."""


def find_mosquitto() -> Path | None:
    """Path of the mosquitto executable, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return Path(found)
    for candidate in _SEARCH:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class Broker(Protocol):
    """What callers need of a running local broker (either back-end)."""

    host: str
    port: int

    @property
    def pid(self) -> int: ...

    @property
    def address(self) -> str: ...

    def stop(self, timeout_s: float = 5.0) -> None: ...


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float, name: str) -> None:
    """SIGTERM, wait up to ``timeout_s`` (s), then SIGKILL: by PID, never by name."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("%s (pid %d) did not stop in %.0f s: killing it", name, proc.pid, timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout_s)


@dataclass
class LocalBroker:
    """A running mosquitto child process.

    Attributes:
        host: always ``127.0.0.1``.
        port: the MQTT TCP port.
        websocket_port: the MQTT-over-WebSockets port, if one was asked for.
        pid: the broker's process id.
    """

    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    websocket_port: int | None = None
    _log_file: Path | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        """``host:port``, as the command lines take it."""
        return f"{self.host}:{self.port}"

    def is_running(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        """What the broker has logged so far (for failure messages)."""
        if self._log_file and self._log_file.exists():
            return self._log_file.read_text(errors="replace")
        return ""

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the broker by PID (SIGTERM, then SIGKILL) and remove its folder."""
        stop_process(self.process, timeout_s, "mosquitto")
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_mosquitto(
    port: int | None = None,
    *,
    websocket_port: int | None = None,
    startup_timeout_s: float = 10.0,
    extra_config: Sequence[str] = (),
) -> LocalBroker:
    """Start mosquitto on 127.0.0.1 (``port`` None: a free one) and wait until it listens.

    Args:
        port: MQTT TCP port, or None for a free one.
        websocket_port: also listen for MQTT over WebSockets on this port (dashboards).
        startup_timeout_s: how long to wait for the port to open.
        extra_config: more mosquitto.conf lines (e.g. ``password_file``, ``acl_file``;
            ``allow_anonymous`` given here replaces the default ``true``).

    Raises:
        BrokerError: mosquitto is not installed or did not start (with its log).
    """
    exe = find_mosquitto()
    if exe is None:
        raise BrokerError(
            "mosquitto is not installed: run `sudo apt-get install mosquitto` "
            "(or `make test`, which installs it)"
        )
    host = "127.0.0.1"
    port = port or free_port(host)
    workdir = Path(tempfile.mkdtemp(prefix="sspinn-mosquitto-"))
    log_file = workdir / "mosquitto.log"
    extra = list(extra_config)
    lines = [
        "per_listener_settings false",
        *([] if any(x.startswith("allow_anonymous") for x in extra) else ["allow_anonymous true"]),
        *extra,
        "persistence false",
        f"log_dest file {log_file}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        f"listener {port} {host}",
        "protocol mqtt",
    ]
    if websocket_port is not None:
        lines += [f"listener {websocket_port} {host}", "protocol websockets"]
    conf = workdir / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [str(exe), "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    broker = LocalBroker(host, port, process, workdir, websocket_port, log_file)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = broker.log_text()
            broker.stop()
            raise BrokerError(f"mosquitto exited with code {process.returncode}: {text[-2000:]}")
        if _port_open(host, port):
            log.info("mosquitto pid %d listening on %s:%d", process.pid, host, port)
            return broker
        time.sleep(0.02)
    text = broker.log_text()
    broker.stop()
    raise BrokerError(f"mosquitto did not open {host}:{port} in {startup_timeout_s} s: {text}")


@contextlib.contextmanager
def running_mosquitto(port: int | None = None, **kwargs: object) -> Iterator[LocalBroker]:
    """Context manager around :func:`start_mosquitto` that always stops the broker."""
    broker = start_mosquitto(port, **kwargs)  # type: ignore[arg-type]
    try:
        yield broker
    finally:
        broker.stop()


# ---- the embedded pure-Python broker (amqtt) ----------------------------------------------
@dataclass
class EmbeddedBroker:
    """The pure-Python broker (amqtt) running in a child process on 127.0.0.1."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self, timeout_s: float = 5.0) -> None:
        stop_process(self.process, timeout_s, "embedded broker")


def amqtt_available() -> bool:
    """True when the ``amqtt`` package (the embedded broker) can be imported."""
    return importlib.util.find_spec("amqtt") is not None


def start_embedded_broker(port: int | None = None, timeout_s: float = 20.0) -> EmbeddedBroker:
    """Start amqtt on 127.0.0.1 in a child process and wait until it listens.

    Raises:
        BrokerError: amqtt is not installed or the broker did not come up.
    """
    if not amqtt_available():
        raise BrokerError(
            "no MQTT broker: mosquitto is not installed and neither is amqtt "
            "(pip install 'sspinnpose-edge[demo]', or sudo apt-get install mosquitto)"
        )
    host = "127.0.0.1"
    port = port or free_port(host)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.mqtt.local_broker", "--serve-embedded", str(port)],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    broker = EmbeddedBroker(host, port, proc)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerError(f"the embedded broker exited with code {proc.returncode}")
        if _port_open(host, port):
            return broker
        time.sleep(0.05)
    broker.stop()
    raise BrokerError(f"the embedded broker did not open {host}:{port} in {timeout_s:.0f} s")


def serve_embedded_broker(port: int) -> int:
    """Run amqtt on 127.0.0.1:port until SIGTERM/SIGINT (the child process's main)."""
    from amqtt.broker import Broker as AmqttBroker

    logging.basicConfig(level=logging.WARNING, format="embedded broker: %(message)s")
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # noisy on client disconnects
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        broker = AmqttBroker(config)
        await broker.start()
        await stop.wait()
        await broker.shutdown()

    asyncio.run(run())
    return 0


def start_broker(kind: str = "auto") -> tuple[Broker, str]:
    """Start a broker (``auto``: mosquitto when installed, else embedded); (broker, words).

    Raises:
        BrokerError: the asked-for back-end is missing or did not start.
    """
    if kind in ("auto", "mosquitto"):
        exe = find_mosquitto()
        if exe is not None:
            broker = start_mosquitto()
            return broker, f"mosquitto ({exe}, pid {broker.pid}) on {broker.address}"
        if kind == "mosquitto":
            raise BrokerError("mosquitto is not installed (sudo apt-get install mosquitto)")
    emb = start_embedded_broker()
    why = "mosquitto is not installed, so " if kind == "auto" else ""
    return emb, (f"{why}the embedded pure-Python broker (amqtt, pid {emb.pid}) on {emb.address}")


def main(argv: list[str] | None = None) -> int:
    """``python -m edge.mqtt.local_broker --serve-embedded PORT`` (the child process)."""
    p = argparse.ArgumentParser(prog="python -m edge.mqtt.local_broker")
    p.add_argument("--serve-embedded", type=int, metavar="PORT", required=True)
    return serve_embedded_broker(p.parse_args(argv).serve_embedded)


if __name__ == "__main__":
    raise SystemExit(main())
