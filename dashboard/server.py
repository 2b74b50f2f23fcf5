"""The live dashboard's bridge: static page + Server-Sent Events fed by MQTT.

One small HTTP server (stdlib ``ThreadingHTTPServer``, :mod:`dashboard.sse`) serves the
static page in ``dashboard/static/`` and turns a device's MQTT topics
(:mod:`dashboard.mqtt_bridge`) into an event stream the browser reads with
``EventSource``, so the page needs no MQTT library and no build step::

    sspinn-dashboard --broker 127.0.0.1:1883 --device demo --port 8765

Per device one MQTT subscription (``<prefix>/<id>/{meta,estimate,health}`` plus the
``<prefix>/+/status`` wildcard) feeds every browser through a
:class:`dashboard.device_hub.DeviceHub`. Frames are thinned on the sample clock to
``max_frame_rate_hz``; each browser gets at most ``max_event_rate_hz`` events per second
(frames arriving in between are merged into one ``estimate`` event) from a bounded
queue, so a slow or hidden tab never grows memory or slows the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dashboard.device_hub import DEVICE_TOPICS, BrowserOutbox, DeviceHub, valid_device_id
from dashboard.mqtt_bridge import MqttBridge
from dashboard.sse import DashboardHTTPServer, DashboardRequestHandler
from edge.mqtt.broker_address import parse_broker_address
from edge.mqtt.topics import Topics

log = logging.getLogger(__name__)

#: The static page served at ``/``.
STATIC_DIR = Path(__file__).resolve().parent / "static"


class DashboardServer:
    """HTTP server + MQTT subscriber that feeds browsers the live estimates of a device.

    Args:
        broker: MQTT broker address (:func:`edge.mqtt.broker_address.parse_broker_address`).
        host: address to serve on (default loopback only).
        port: HTTP port; 0 picks a free one (see :attr:`port` after :meth:`start`).
        prefix: topic prefix (``sspinn``).
        default_device: device shown when the page or ``/api/state`` names none; it is
            subscribed to at start.
        max_event_rate_hz: events per second per browser (estimate frames in between
            are merged into one event).
        max_frame_rate_hz: estimate frames per second forwarded (thinned on ``t``).
        max_queue_frames: frames waiting per browser; older ones are dropped (counted).
        max_clients: concurrent event streams; max_devices: devices watched at once.
        keepalive_s: comment line sent on an idle stream (detects gone browsers).
        write_timeout_s: a browser that does not read for this long is disconnected.
        static_dir: folder of the page (default ``dashboard/static``).
        username, password: broker account (docs/security.md); None: anonymous.
    """

    def __init__(
        self,
        broker: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "sspinn",
        default_device: str | None = None,
        max_event_rate_hz: float = 30.0,
        max_frame_rate_hz: float = 100.0,
        max_queue_frames: int = 64,
        max_clients: int = 64,
        max_devices: int = 16,
        keepalive_s: float = 15.0,
        write_timeout_s: float = 10.0,
        static_dir: Path = STATIC_DIR,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.broker = parse_broker_address(broker)
        if default_device is not None and not valid_device_id(default_device):
            raise ValueError(f"device id {default_device!r} is not a plain topic level")
        Topics("x", prefix)  # validates the prefix
        if max_event_rate_hz <= 0 or max_queue_frames < 1:
            raise ValueError("max_event_rate_hz must be > 0 and max_queue_frames >= 1")
        self.host = host
        self.requested_port = port
        self.prefix = prefix
        self.default_device = default_device
        self.max_event_rate_hz = float(max_event_rate_hz)
        self.max_frame_rate_hz = float(max_frame_rate_hz)
        self.max_queue_frames = int(max_queue_frames)
        self.max_clients = int(max_clients)
        self.max_devices = int(max_devices)
        self.keepalive_s = float(keepalive_s)
        self.write_timeout_s = float(write_timeout_s)
        self.static_files = {
            p.name: p for p in sorted(Path(static_dir).iterdir()) if p.is_file()
        }  # a fixed list: nothing outside it is ever served
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._hubs: dict[str, DeviceHub] = {}
        self._seen: dict[str, str | None] = {}  # device id -> status, from the wildcard
        self._httpd: DashboardHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.bridge = MqttBridge(
            self.broker,
            prefix,
            on_message=self._handle,
            on_link_change=self._push_bridge,
            watched=lambda: [h.topics for h in self._hub_list()],
            username=username,
            password=password,
        )

    # --- life cycle ---------------------------------------------------------------------
    def start(self) -> DashboardServer:
        """Bind the HTTP port, start serving and connect to the broker (in the background)."""
        httpd = DashboardHTTPServer((self.host, self.requested_port), DashboardRequestHandler)
        httpd.dashboard = self
        self._httpd = httpd
        if self.default_device:
            self.hub(self.default_device)
        self.bridge.start()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="dashboard-http"
        )
        self._thread.daemon = True
        self._thread.start()
        log.info("dashboard on %s (MQTT %s)", self.url, self.broker)
        return self

    @property
    def port(self) -> int:
        """The HTTP port (after :meth:`start`)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port/`` (with ``?device=`` when there is a default device)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        query = f"?device={self.default_device}" if self.default_device else ""
        return f"http://{host}:{self.port}/{query}"

    def close(self) -> None:
        """Stop streams, the HTTP server and the MQTT client (idempotent)."""
        self.closing.set()
        for client in list(self._each_client()):
            client.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.bridge.close()

    def __enter__(self) -> DashboardServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- devices and clients ------------------------------------------------------------
    def hub(self, device_id: str) -> DeviceHub | None:
        """The hub of a device, subscribing on first use; None when too many devices."""
        with self._lock:
            hub = self._hubs.get(device_id)
            if hub is not None:
                return hub
            if len(self._hubs) >= self.max_devices:
                return None
            hub = DeviceHub(device_id, Topics(device_id, self.prefix), self.max_frame_rate_hz)
            hub.status = self._seen.get(device_id)
            self._hubs[device_id] = hub
        self.bridge.watch(hub.topics)
        return hub

    def _hub_list(self) -> list[DeviceHub]:
        with self._lock:
            return list(self._hubs.values())

    def add_client(self, device_id: str) -> BrowserOutbox | None:
        """Register a browser stream; None when the limits are reached."""
        hub = self.hub(device_id)
        if hub is None or self.n_clients() >= self.max_clients:
            return None
        client = BrowserOutbox(device_id, self.max_queue_frames)
        with hub.lock:
            hub.clients.add(client)
            last = hub.last_frame
        client.push_event("bridge", self.bridge_state())
        for name, data in hub.initial_events():
            client.push_event(name, data)
        if last is not None:
            client.push_frames([last])
        log.info("dashboard client for %s (%d streams)", device_id, self.n_clients())
        return client

    def remove_client(self, client: BrowserOutbox) -> None:
        client.close()
        with self._lock:
            hub = self._hubs.get(client.device_id)
        if hub is not None:
            with hub.lock:
                hub.clients.discard(client)
        log.info("dashboard client for %s left (%d streams)", client.device_id, self.n_clients())

    def n_clients(self) -> int:
        return sum(len(h.clients) for h in self._hub_list())

    def _each_client(self) -> Iterator[BrowserOutbox]:
        for hub in self._hub_list():
            with hub.lock:
                clients = list(hub.clients)
            yield from clients

    # --- snapshots ----------------------------------------------------------------------
    def bridge_state(self) -> dict[str, Any]:
        return {
            "broker": str(self.broker),
            "mqtt_connected": self.bridge.connected,
        }

    def hello(self, device_id: str) -> dict[str, Any]:
        return {
            "device": device_id,
            "prefix": self.prefix,
            "max_event_rate_hz": self.max_event_rate_hz,
            "max_frame_rate_hz": self.max_frame_rate_hz,
            "server_time": time.time(),
        }

    def state(self) -> dict[str, Any]:
        """Everything: bridge, limits, devices seen (status) and watched (snapshots)."""
        with self._lock:
            hubs = list(self._hubs.values())
            seen = dict(self._seen)
        return {
            "bridge": self.bridge_state(),
            "default_device": self.default_device,
            "clients": self.n_clients(),
            "limits": {
                "max_event_rate_hz": self.max_event_rate_hz,
                "max_frame_rate_hz": self.max_frame_rate_hz,
                "max_queue_frames": self.max_queue_frames,
                "max_clients": self.max_clients,
            },
            "devices_seen": seen,
            "devices": {h.device_id: h.snapshot() for h in hubs},
        }

    # --- MQTT messages (paho's thread) -----------------------------------------------
    def _push_bridge(self) -> None:
        state = self.bridge_state()
        for c in self._each_client():
            c.push_event("bridge", state)

    def _handle(self, topic: str, payload: bytes) -> None:
        head = f"{self.prefix}/"
        if not topic.startswith(head):
            return
        parts = topic[len(head) :].split("/")
        if len(parts) != 2:
            return
        device_id, kind = parts
        with self._lock:
            hub = self._hubs.get(device_id)
            if kind == "status" and (device_id in self._seen or len(self._seen) < 1000):
                self._seen[device_id] = payload.decode("utf-8", "replace").strip() or None
        if hub is None:
            return
        if kind == "status":
            hub.on_status(payload)
        elif kind in DEVICE_TOPICS:
            hub.on_message(kind, payload)
