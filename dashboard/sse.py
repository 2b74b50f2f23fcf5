"""The HTTP side: the static page, ``/api/state`` and the Server-Sent Events stream.

Endpoints (all GET; HEAD for the non-streaming ones):

- ``/`` and the static files (``index.html``, ``app.js``, ``style.css``): only the files
  of :attr:`DashboardServer.static_files`; anything else is 404.
- ``/events?device=<id>``: ``text/event-stream`` with events ``hello``, ``bridge``
  (MQTT link up/down), ``status``, ``meta``, ``health`` and ``estimate``
  (``{"frames": [...], "dropped": n}``, oldest first), at most ``max_event_rate_hz``
  events per second per browser.
- ``/api/state[?device=<id>]``: JSON snapshot for tests and debugging.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from dashboard.device_hub import BrowserOutbox, valid_device_id

if TYPE_CHECKING:
    from dashboard.server import DashboardServer

log = logging.getLogger(__name__)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


class DashboardRequestHandler(BaseHTTPRequestHandler):
    server: DashboardHTTPServer
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

    def _stream(self, client: BrowserOutbox) -> None:
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


class DashboardHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    dashboard: DashboardServer  # the owner, set after construction
