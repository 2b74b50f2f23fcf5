"""What the bridge knows about each device, and each browser's bounded outbox.

A :class:`DeviceHub` holds one device's retained ``status``/``meta``, the newest
``health`` and estimate, and the browsers watching it; it thins estimate frames on the
sample clock to ``max_frame_rate_hz``. A :class:`BrowserOutbox` is one browser's queue:
the newest control events (coalesced) plus a bounded frame queue, so a slow or hidden
tab never grows memory or slows the others.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from typing import Any

from edge.mqtt.topics import Topics

log = logging.getLogger(__name__)

#: Device topics a dashboard subscribes to (``status`` comes from a wildcard).
DEVICE_TOPICS: tuple[str, ...] = ("meta", "estimate", "health")
_MAX_ID_LEN = 64
#: Larger meta/health/estimate payloads are counted as bad, never parsed.
MAX_PAYLOAD_BYTES = 1 << 20


def valid_device_id(device_id: str | None) -> bool:
    """True for a plain MQTT topic level (letters, digits, ``_ - .``; at most 64 chars)."""
    if not device_id or len(device_id) > _MAX_ID_LEN:
        return False
    try:
        Topics(device_id)
    except ValueError:
        return False
    return True


def json_loads(payload: bytes) -> Any:
    """JSON with NaN/Infinity (from non-conforming publishers) read as None."""
    return json.loads(payload.decode("utf-8"), parse_constant=lambda _name: None)


def frames_of(message: Any) -> list[dict[str, Any]] | None:
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


class BrowserOutbox:
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


class DeviceHub:
    """What the bridge knows about one device, and the browsers watching it."""

    def __init__(self, device_id: str, topics: Topics, max_frame_rate_hz: float) -> None:
        self.device_id = device_id
        self.topics = topics
        self.lock = threading.Lock()
        self.clients: set[BrowserOutbox] = set()
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
            data = json_loads(payload) if payload else None
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
        frames = frames_of(data)
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
