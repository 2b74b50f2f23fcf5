"""Start Debian's mosquitto broker as a plain child process on a free 127.0.0.1 port.

Used by the tests (a real broker, never a mock) and by ``make demo``. The broker runs
with an explicit config file in a private temporary folder, listens on loopback only,
keeps no persistence, and is stopped by PID.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout_s)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_mosquitto(
    port: int | None = None,
    *,
    websocket_port: int | None = None,
    startup_timeout_s: float = 10.0,
) -> LocalBroker:
    """Start mosquitto on 127.0.0.1 (``port`` None: a free one) and wait until it listens.

    Args:
        port: MQTT TCP port, or None for a free one.
        websocket_port: also listen for MQTT over WebSockets on this port (dashboards).
        startup_timeout_s: how long to wait for the port to open.

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
    lines = [
        "per_listener_settings false",
        "allow_anonymous true",
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
