"""The live dashboard's bridge: static page + Server-Sent Events fed by MQTT.

One small HTTP server (stdlib ``ThreadingHTTPServer``) serves the static page in
``edge/dashboard/`` and turns a device's MQTT topics into an event stream the browser
reads with ``EventSource``, so the page needs no MQTT library and no build step::

    python -m edge.dashboard_server --broker 127.0.0.1:1883 --device demo --port 8765

Endpoints (all GET):

- ``/`` and the static files (``index.html``, ``app.js``, ``style.css``).
- ``/events?device=<id>``: ``text/event-stream`` with events ``hello``, ``bridge``
  (MQTT link up/down), ``status`` (``online``/``offline``), ``meta``, ``health`` and
  ``estimate`` (``{"frames": [...], "dropped": n}``, oldest first). Retained
  ``status``/``meta`` and the newest health and estimate are sent on connect.
- ``/api/state[?device=<id>]``: JSON snapshot (status, meta, health, last estimate,
  counters) for tests and debugging.

Per device one MQTT subscription (``<prefix>/<id>/{meta,estimate,health}`` plus the
``<prefix>/+/status`` wildcard) feeds every browser. Frames are thinned on the sample
clock to ``max_frame_rate_hz``; each browser gets at most ``max_event_rate_hz`` events
per second (frames arriving in between are merged into one ``estimate`` event) from a
bounded queue, so a slow or hidden tab never grows memory or slows the others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import mimetypes
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as mqtt

from edge.mqtt.topics import Topics

log = logging.getLogger(__name__)

#: The static page served at ``/``.
STATIC_DIR = Path(__file__).resolve().parent / "dashboard"
#: Device topics a dashboard subscribes to (``status`` comes from a wildcard).
DEVICE_TOPICS: tuple[str, ...] = ("meta", "estimate", "health")
_MAX_ID_LEN = 64
#: Larger meta/health/estimate payloads are counted as bad, never parsed.
MAX_PAYLOAD_BYTES = 1 << 20


def parse_broker(address: str, default_port: int = 1883) -> tuple[str, int]:
    """``host[:port]`` → (host, port).

    Raises:
        ValueError: empty host or a port outside 1-65535.
    """
    host, sep, port_text = address.strip().rpartition(":")
    if not sep:
        host, port_text = address.strip(), str(default_port)
    if not host:
        raise ValueError(f"broker address {address!r} has no host")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"broker port in {address!r} is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"broker port {port} out of range")
    return host, port


def valid_device_id(device_id: str | None) -> bool:
    """True for a plain MQTT topic level (letters, digits, ``_ - .``; at most 64 chars)."""
    if not device_id or len(device_id) > _MAX_ID_LEN:
        return False
    try:
        Topics(device_id)
    except ValueError:
        return False
    return True


def _json_loads(payload: bytes) -> Any:
    """JSON with NaN/Infinity (from non-conforming publishers) read as None."""
    return json.loads(payload.decode("utf-8"), parse_constant=lambda _name: None)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def _frames_of(message: Any) -> list[dict[str, Any]] | None:
    """The frames of an ``estimate`` message (one object or an array), or None if malformed."""
    frames = message if isinstance(message, list) else [message]
    if not frames:
        return None
    for frame in frames:
        if not isinstance(frame, dict):
            return None
        t = frame.get("t")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            return None
    return frames


class _Client:
    """One browser's bounded outbox: newest control events plus a frame queue."""

    def __init__(self, device_id: str, max_frames: int) -> None:
        self.device_id = device_id
        self.cond = threading.Condition()
        self.events: dict[str, Any] = {}  # event name -> newest data (coalesced)
        self.frames: deque[dict[str, Any]] = deque(maxlen=max_frames)
        self.dropped = 0  # frames pushed out of the queue before they could be sent
        self.closed = False
        self.sent_events = 0
        self.sent_frames = 0

    def push_event(self, name: str, data: Any) -> None:
        with self.cond:
            self.events[name] = data
            self.cond.notify()

    def push_frames(self, frames: list[dict[str, Any]]) -> None:
        with self.cond:
            room = self.frames.maxlen - len(self.frames)  # type: ignore[operator]
            self.dropped += max(0, len(frames) - room)
            self.frames.extend(frames)
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()

    def take(self, timeout_s: float) -> tuple[dict[str, Any], list[dict[str, Any]], int] | None:
        """Wait for pending output; (events, frames, dropped), empty on timeout, None if closed."""
        with self.cond:
            if not self.closed and not self.events and not self.frames:
                self.cond.wait(timeout_s)
            if self.closed:
                return None
            events, self.events = self.events, {}
            frames = list(self.frames)
            self.frames.clear()
            dropped, self.dropped = self.dropped, 0
            return events, frames, dropped


class _DeviceHub:
    """What the bridge knows about one device, and the browsers watching it."""

    def __init__(self, device_id: str, topics: Topics, max_frame_rate_hz: float) -> None:
        self.device_id = device_id
        self.topics = topics
        self.lock = threading.Lock()
        self.clients: set[_Client] = set()
        self.status: str | None = None
        self.meta: Any = None
        self.health: Any = None
        self.last_frame: dict[str, Any] | None = None
        self.last_message_at: float | None = None  # time.monotonic()
        self.min_dt = 1.0 / max_frame_rate_hz if max_frame_rate_hz > 0 else 0.0
        self._last_t: float | None = None
        self.counters = {"messages": 0, "frames": 0, "forwarded": 0, "thinned": 0, "bad": 0}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            age = None
            if self.last_message_at is not None:
                age = round(time.monotonic() - self.last_message_at, 3)
            return {
                "device": self.device_id,
                "status": self.status,
                "meta": self.meta,
                "health": self.health,
                "estimate": self.last_frame,
                "last_message_age_s": age,
                "clients": len(self.clients),
                "counters": dict(self.counters),
            }

    def initial_events(self) -> list[tuple[str, Any]]:
        with self.lock:
            out: list[tuple[str, Any]] = []
            if self.status is not None:
                out.append(("status", self.status))
            if self.meta is not None:
                out.append(("meta", self.meta))
            if self.health is not None:
                out.append(("health", self.health))
            return out

    def _broadcast_event(self, name: str, data: Any) -> None:
        for client in list(self.clients):
            client.push_event(name, data)

    def on_status(self, payload: bytes) -> None:
        text = payload.decode("utf-8", errors="replace").strip() or None
        with self.lock:
            self.status = text
            self.last_message_at = time.monotonic()
            self._broadcast_event("status", text)

    def on_message(self, kind: str, payload: bytes) -> None:
        """Handle one ``meta`` / ``health`` / ``estimate`` message (never raises on bad input)."""
        try:
            if len(payload) > MAX_PAYLOAD_BYTES:
                raise ValueError("payload too large")
            data = _json_loads(payload) if payload else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            with self.lock:
                self.counters["bad"] += 1
            log.debug("%s/%s: payload is not JSON", self.device_id, kind)
            return
        with self.lock:
            self.counters["messages"] += 1
            self.last_message_at = time.monotonic()
            if kind == "estimate":
                self._on_estimate(data)
            elif kind == "meta":
                self.meta = data
                self._broadcast_event("meta", data)
            elif kind == "health":
                self.health = data
                self._broadcast_event("health", data)

    def _on_estimate(self, data: Any) -> None:
        frames = _frames_of(data)
        if frames is None:
            self.counters["bad"] += 1
            return
        self.counters["frames"] += len(frames)
        kept: list[dict[str, Any]] = []
        for frame in frames:
            t = float(frame["t"])
            if self._last_t is not None and self._last_t <= t < self._last_t + self.min_dt * 0.999:
                self.counters["thinned"] += 1
                continue
            self._last_t = t  # also resets when the clock goes back (a new run)
            kept.append(frame)
        self.last_frame = frames[-1]
        if kept:
            self.counters["forwarded"] += len(kept)
            for client in list(self.clients):
                client.push_frames(kept)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "sspinn-dashboard/1"
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def _dispatch(self, *, head: bool) -> None:
        try:
            url = urlsplit(self.path)
            try:
                query = parse_qs(url.query, keep_blank_values=True, max_num_fields=8)
            except ValueError:
                self._error(HTTPStatus.BAD_REQUEST, "bad query string")
                return
            if url.path == "/events" and not head:
                self._events(query)
            elif url.path == "/api/state":
                self._state(query, head=head)
            elif url.path == "/favicon.ico":
                self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", head=head)
            else:
                self._static(url.path, head=head)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            log.debug("client %s went away", self.address_string())
        except Exception:
            log.exception("error serving %s", self.path)
            with contextlib.suppress(OSError):
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    # --- plain responses ---------------------------------------------------------------
    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, *, head: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, obj: Any, *, head: bool = False) -> None:
        body = _dumps(obj).encode("utf-8")
        self._send(status, body, "application/json", head=head)

    def _error(self, status: HTTPStatus, reason: str) -> None:
        self._json(status, {"error": reason})

    def _device_param(self, query: Mapping[str, list[str]], *, required: bool) -> str | None:
        values = query.get("device") or []
        device = values[0] if values else self.server.dashboard.default_device
        if device is None and not required:
            return None
        if not valid_device_id(device):
            self._error(HTTPStatus.BAD_REQUEST, "device must be a plain MQTT topic level")
            raise _Handled
        return device

    def _static(self, path: str, *, head: bool) -> None:
        name = "index.html" if path in ("/", "/index.html") else path.lstrip("/")
        file = self.server.dashboard.static_files.get(name)
        if file is None:
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        body = file.read_bytes()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "text/javascript"):
            ctype += "; charset=utf-8"
        self._send(HTTPStatus.OK, body, ctype, head=head)

    def _state(self, query: Mapping[str, list[str]], *, head: bool) -> None:
        dash = self.server.dashboard
        try:
            device = self._device_param(query, required=False) if "device" in query else None
        except _Handled:
            return
        if device is not None:
            hub = dash.hub(device)
            if hub is None:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, "too many devices watched")
                return
            self._json(HTTPStatus.OK, {"bridge": dash.bridge_state(), **hub.snapshot()}, head=head)
            return
        self._json(HTTPStatus.OK, dash.state(), head=head)

    # --- Server-Sent Events -------------------------------------------------------------
    def _events(self, query: Mapping[str, list[str]]) -> None:
        dash = self.server.dashboard
        try:
            device = self._device_param(query, required=True)
        except _Handled:
            return
        assert device is not None
        client = dash.add_client(device)
        if client is None:
            reason = "too many devices watched" if dash.hub(device) is None else "too many streams"
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, reason)
            return
        try:
            self.connection.settimeout(dash.write_timeout_s)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")
            self.end_headers()
            self._stream(client)
        finally:
            dash.remove_client(client)

    def _write_event(self, name: str, data: Any) -> None:
        self.wfile.write(f"event: {name}\ndata: {_dumps(data)}\n\n".encode())

    def _stream(self, client: _Client) -> None:
        dash = self.server.dashboard
        self.wfile.write(b"retry: 2000\n\n")
        self._write_event("hello", dash.hello(client.device_id))
        self.wfile.flush()
        min_interval = 1.0 / dash.max_event_rate_hz
        while not dash.closing.is_set():
            pending = client.take(dash.keepalive_s)
            if pending is None:
                return
            events, frames, dropped = pending
            if not events and not frames:
                self.wfile.write(b": keepalive\n\n")
                self.wfile.flush()
                continue
            for name, data in events.items():
                self._write_event(name, data)
            if frames:
                self._write_event("estimate", {"frames": frames, "dropped": dropped})
            self.wfile.flush()
            client.sent_events += len(events) + (1 if frames else 0)
            client.sent_frames += len(frames)
            dash.closing.wait(min_interval)  # the rate limit: merge what arrives meanwhile


class _Handled(Exception):
    """The request was answered already (an error response)."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    dashboard: DashboardServer


class DashboardServer:
    """HTTP server + MQTT subscriber that feeds browsers the live estimates of a device.

    Args:
        broker: MQTT broker ``host[:port]``.
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
        static_dir: folder of the page (default ``edge/dashboard``).
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
    ) -> None:
        self.broker_host, self.broker_port = parse_broker(broker)
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
        self._hubs: dict[str, _DeviceHub] = {}
        self._seen: dict[str, str | None] = {}  # device id -> status, from the wildcard
        self._mqtt_connected = False
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"sspinn-dashboard-{uuid.uuid4().hex[:8]}",
            clean_session=True,
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(0.5, 5)

    # --- life cycle ---------------------------------------------------------------------
    def start(self) -> DashboardServer:
        """Bind the HTTP port, start serving and connect to the broker (in the background)."""
        httpd = _HTTPServer((self.host, self.requested_port), _Handler)
        httpd.dashboard = self
        self._httpd = httpd
        if self.default_device:
            self.hub(self.default_device)
        self._client.connect_async(self.broker_host, self.broker_port, keepalive=30)
        self._client.loop_start()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="dashboard-http"
        )
        self._thread.daemon = True
        self._thread.start()
        log.info("dashboard on %s (MQTT %s:%d)", self.url, self.broker_host, self.broker_port)
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
        with self._lock:
            hubs = list(self._hubs.values())
        for hub in hubs:
            with hub.lock:
                clients = list(hub.clients)
            for client in clients:
                client.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with contextlib.suppress(Exception):
            self._client.disconnect()  # wakes paho's loop, so loop_stop returns at once
        self._client.loop_stop()

    def __enter__(self) -> DashboardServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- devices and clients ------------------------------------------------------------
    def hub(self, device_id: str) -> _DeviceHub | None:
        """The hub of a device, subscribing on first use; None when too many devices."""
        with self._lock:
            hub = self._hubs.get(device_id)
            if hub is not None:
                return hub
            if len(self._hubs) >= self.max_devices:
                return None
            hub = _DeviceHub(device_id, Topics(device_id, self.prefix), self.max_frame_rate_hz)
            hub.status = self._seen.get(device_id)
            self._hubs[device_id] = hub
        if self._mqtt_connected:
            self._subscribe(hub)
        return hub

    def _subscribe(self, hub: _DeviceHub) -> None:
        self._client.subscribe([(f"{hub.topics.base}/{name}", 0) for name in DEVICE_TOPICS])

    def add_client(self, device_id: str) -> _Client | None:
        """Register a browser stream; None when the limits are reached."""
        hub = self.hub(device_id)
        if hub is None or self.n_clients() >= self.max_clients:
            return None
        client = _Client(device_id, self.max_queue_frames)
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

    def remove_client(self, client: _Client) -> None:
        client.close()
        with self._lock:
            hub = self._hubs.get(client.device_id)
        if hub is not None:
            with hub.lock:
                hub.clients.discard(client)
        log.info("dashboard client for %s left (%d streams)", client.device_id, self.n_clients())

    def n_clients(self) -> int:
        with self._lock:
            hubs = list(self._hubs.values())
        return sum(len(h.clients) for h in hubs)

    def _each_client(self) -> Iterator[_Client]:
        with self._lock:
            hubs = list(self._hubs.values())
        for hub in hubs:
            with hub.lock:
                clients = list(hub.clients)
            yield from clients

    # --- snapshots ----------------------------------------------------------------------
    def bridge_state(self) -> dict[str, Any]:
        return {
            "broker": f"{self.broker_host}:{self.broker_port}",
            "mqtt_connected": self._mqtt_connected,
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

    # --- MQTT callbacks (paho's thread) -------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the dashboard: %s", reason)
            return
        self._mqtt_connected = True
        client.subscribe(f"{self.prefix}/+/status", 0)
        with self._lock:
            hubs = list(self._hubs.values())
        for hub in hubs:
            self._subscribe(hub)
        log.info("dashboard connected to MQTT %s:%d", self.broker_host, self.broker_port)
        self._push_bridge()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was = self._mqtt_connected
        self._mqtt_connected = False
        if was and not self.closing.is_set():
            log.warning("dashboard lost the MQTT broker (%s); reconnecting", reason)
        self._push_bridge()

    def _push_bridge(self) -> None:
        state = self.bridge_state()
        for c in self._each_client():
            c.push_event("bridge", state)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self._handle(msg.topic, bytes(msg.payload))
        except Exception:  # a bad message must never kill paho's loop
            log.exception("dashboard: cannot handle a message on %s", msg.topic)

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m edge.dashboard_server",
        description="Serve the live SSPINNpose dashboard, fed by an MQTT broker.",
    )
    p.add_argument("--broker", default="127.0.0.1:1883", help="MQTT broker HOST[:PORT]")
    p.add_argument("--device", default=None, help="device id shown by default")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address (default loopback only)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (0: a free one)")
    p.add_argument("--prefix", default="sspinn", help="topic prefix")
    p.add_argument("--max-event-rate", type=float, default=30.0, help="events/s per browser")
    p.add_argument("--max-frame-rate", type=float, default=100.0, help="frames/s forwarded")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Command line: serve until Ctrl-C."""
    import signal

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        server = DashboardServer(
            args.broker,
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
