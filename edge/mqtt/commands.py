"""Commands on ``<base>/cmd/<name>``, each answered exactly once on ``cmd/<name>/result``.

Commands (docs/mqtt.md):

- ``record``: ``{"action": "start" | "stop", "note"?: str}``
- ``calibrate``: ``{"kind": "gyro_bias" | "alignment", "duration_s"?: 0.5..120}``
- ``config``: a partial update of runtime-safe keys only: ``publish_rate_hz``,
  ``decimation``, ``batch_size``, ``health_interval_s``
- ``model``: the raw bytes of a model bundle (a zip), at most ``max_model_bytes``

JSON commands may carry an ``"id"`` (string or integer) that the reply echoes. Replies:
``{"ok": true, "cmd": ..., "id": ..., "time": unix_s, ...handler fields}`` or
``{"ok": false, "cmd": ..., "id": ..., "time": ..., "error": "<reason>"}``.

Malformed payloads, unknown command names, missing handlers, handlers that raise or
return something unencodable, an oversized payload or a full queue: each gets an error
reply; nothing here raises into paho's network thread. Handlers run one at a time on a
worker thread, so a slow model swap never stalls MQTT traffic.

With a :class:`edge.mqtt.signed_commands.CommandVerifier` (``[commands] require_signed``)
every payload must be a signed envelope; the verified inner payload is what is parsed.
Unsigned, foreign-signed, stale and replayed commands get an error reply and a WARNING.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.mqtt.publish_settings import PublishSettingsUpdate
from edge.mqtt.signed_commands import CommandVerifier, SignatureRefused, envelope_overhead
from edge.mqtt.topics import COMMAND_NAMES

log = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"


class CommandError(ValueError):
    """A command that cannot be carried out; its text is the reply's ``error``."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(max_length=64)] | int | None = Field(
        default=None, description="Correlation id (string or integer), echoed in the reply"
    )


class RecordRequest(_Request):
    """``cmd/record``: start or stop the raw recorder."""

    action: Literal["start", "stop"]
    note: str | None = Field(default=None, max_length=200, description="Kept in the sidecar")


class CalibrateRequest(_Request):
    """``cmd/calibrate``: stand still (gyro bias) or do the alignment movement."""

    kind: Literal["gyro_bias", "alignment"]
    duration_s: float = Field(default=5.0, ge=0.5, le=120.0, description="Capture time (s)")


class ConfigRequest(PublishSettingsUpdate, _Request):
    """``cmd/config``: runtime-safe settings only; anything else is refused. The publish
    keys are :class:`edge.mqtt.publish_settings.PublishSettingsUpdate`'s."""

    health_interval_s: float | None = Field(default=None, ge=0.5, le=3600.0)

    @model_validator(mode="after")
    def _something(self) -> ConfigRequest:
        if not self.settings():
            raise ValueError(f"nothing to change: give one of {', '.join(SETTABLE_KEYS)}")
        return self

    def settings(self) -> dict[str, Any]:
        """The keys that were given, without ``id``."""
        return {k: v for k, v in self.model_dump(exclude={"id"}).items() if v is not None}


#: Keys ``cmd/config`` may change at run time.
SETTABLE_KEYS: tuple[str, ...] = tuple(k for k in ConfigRequest.model_fields if k != "id")


class ModelRequest(_Request):
    """``cmd/model`` as JSON, for what raw bundle bytes cannot say: the bundle as base64,
    and ``allow_downgrade`` to replace the running model with an older version on purpose."""

    bundle: str = Field(description="The bundle file's bytes, base64")
    allow_downgrade: bool = Field(
        default=False, description="Accept a model version older than the running one"
    )


@dataclass(frozen=True)
class ModelUpload:
    """``cmd/model``: a bundle's bytes (verified by the handler, not here).

    Attributes:
        data: the bundle file's bytes; sha256: their hash (hex).
        allow_downgrade: the sender accepts an older model version (JSON form only).
        id: the JSON form's correlation id, echoed in the reply.
    """

    data: bytes
    sha256: str
    allow_downgrade: bool = False
    id: str | int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


REQUEST_MODELS: dict[str, type[_Request]] = {
    "record": RecordRequest,
    "calibrate": CalibrateRequest,
    "config": ConfigRequest,
}
_EXAMPLES = {
    "record": '{"action": "start"}',
    "calibrate": '{"kind": "gyro_bias", "duration_s": 5}',
    "config": '{"publish_rate_hz": 10}',
}

#: A handler gets the validated request (or :class:`ModelUpload`) and returns extra reply
#: fields (or None); raising turns into an error reply with the exception text.
Handler = Callable[[Any], Mapping[str, Any] | None]


class ResultSink(Protocol):
    """Where replies go (:class:`edge.mqtt.link.MqttLink` is one)."""

    def publish_result(self, command: str, result: Mapping[str, Any]) -> bool: ...


class _Subscriber(Protocol):
    topics: Any

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes], None]) -> None: ...


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _validation_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "not a known key"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_command(name: str, payload: bytes) -> _Request | ModelUpload:
    """Validate a command payload.

    Raises:
        CommandError: unknown name or malformed payload, with a reason for the reply.
    """
    if name not in COMMAND_NAMES:
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise CommandError(f"unknown command {shown!r}; known: {', '.join(COMMAND_NAMES)}")
    if name == "model":
        if not payload:
            raise CommandError("empty payload: expected the bundle file's bytes")
        if payload.lstrip().startswith(b"{"):
            return _model_request(payload)
        if not payload.startswith(ZIP_MAGIC):
            raise CommandError(
                "not a model bundle: expected a zip archive (*.sspinn) or "
                '{"bundle": "<base64>", "allow_downgrade": true}'
            )
        return ModelUpload(payload, hashlib.sha256(payload).hexdigest())
    example = _EXAMPLES[name]
    if not payload.strip():
        raise CommandError(f"empty payload: expected a JSON object such as {example}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"payload is not UTF-8 text (bad byte at {exc.start})") from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"payload is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise CommandError(f"payload is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError(
            f"payload must be a JSON object such as {example}, not {type(data).__name__}"
        )
    try:
        return REQUEST_MODELS[name].model_validate(data)
    except ValidationError as exc:
        raise CommandError(_validation_text(exc)) from exc


def _model_request(payload: bytes) -> ModelUpload:
    """The JSON form of ``cmd/model``: ``{"bundle": base64, "allow_downgrade"?: bool}``."""
    try:
        request = ModelRequest.model_validate_json(payload)
    except ValidationError as exc:
        raise CommandError(_validation_text(exc)) from exc
    try:
        data = base64.b64decode(request.bundle, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CommandError(f"bundle: not base64 ({exc})") from exc
    if not data.startswith(ZIP_MAGIC):
        raise CommandError("bundle: not a model bundle (expected a zip archive, *.sspinn)")
    sha = hashlib.sha256(data).hexdigest()
    return ModelUpload(data, sha, allow_downgrade=request.allow_downgrade, id=request.id)


def _request_id(payload: bytes) -> str | int | None:
    """Best effort: the ``id`` of a JSON object payload, to echo even in error replies."""
    if len(payload) > 65536:
        return None
    try:
        data = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    rid = data.get("id") if isinstance(data, dict) else None
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        return None
    return rid if isinstance(rid, int) or len(rid) <= 64 else None


@dataclass
class DispatcherStats:
    """Counters: every received message ends in exactly one of ok / errors."""

    received: int = 0
    ok: int = 0
    errors: int = 0
    rejected_early: int = 0  # errors answered on the network thread (too big, busy)
    pending: int = 0


class CommandDispatcher:
    """Routes ``cmd/<name>`` messages to handlers on a worker thread and replies once.

    Args:
        link: subscribes with ``link.subscribe`` and replies with ``link.publish_result``.
        max_json_bytes: largest JSON command payload.
        max_model_bytes: largest ``cmd/model`` payload (bundle).
        max_pending: commands waiting or running before new ones get "busy".
        max_pending_bytes: total payload bytes waiting before new ones get "busy".
        verifier: when given, only signed commands run (limits grow by the envelope's size).
    """

    def __init__(
        self,
        link: Any,
        *,
        max_json_bytes: int = 64 * 1024,
        max_model_bytes: int = 32 * 1024 * 1024,
        max_pending: int = 256,
        max_pending_bytes: int = 64 * 1024 * 1024,
        verifier: CommandVerifier | None = None,
    ) -> None:
        self._link = link
        self.verifier = verifier
        self.max_json_bytes = max_json_bytes
        self.max_model_bytes = max_model_bytes
        self._max_pending = max_pending
        self._max_pending_bytes = max_pending_bytes
        self._handlers: dict[str, Handler] = {}
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending_bytes = 0
        self.stats = DispatcherStats()
        self._worker = threading.Thread(target=self._run, name="mqtt-commands", daemon=True)
        self._started = False

    def register(self, name: str, handler: Handler) -> None:
        """Handle ``cmd/<name>`` with ``handler(request)`` (one of :data:`COMMAND_NAMES`)."""
        if name not in COMMAND_NAMES:
            raise ValueError(f"unknown command {name!r}; known: {', '.join(COMMAND_NAMES)}")
        self._handlers[name] = handler

    def start(self) -> None:
        """Subscribe to ``cmd/+`` and start the worker."""
        if self._started:
            return
        self._started = True
        self._worker.start()
        self._link.subscribe(self._link.topics.command_filter, self.on_message)

    def close(self, timeout_s: float = 5.0) -> None:
        """Finish the queued commands (up to ``timeout_s``) and stop the worker."""
        if self._started:
            self._queue.put(None)
            self._worker.join(timeout_s)

    # ------------------------------------------------------------------ network thread
    def on_message(self, topic: str, payload: bytes) -> None:
        """paho's thread: size/queue checks only, then hand over to the worker."""
        name = self._link.topics.command_name(topic)
        if name is None:
            return
        limit = self.max_model_bytes if name == "model" else self.max_json_bytes
        if self.verifier is not None:
            limit = envelope_overhead(limit)
        with self._lock:
            self.stats.received += 1
            if len(payload) > limit:
                reason = f"payload too large: {len(payload)} bytes, the limit is {limit}"
            elif (
                self.stats.pending >= self._max_pending
                or self._pending_bytes + len(payload) > self._max_pending_bytes
            ):
                reason = f"busy: {self.stats.pending} commands in progress, try again later"
            else:
                self.stats.pending += 1
                self._pending_bytes += len(payload)
                reason = None
            if reason is not None:
                self.stats.rejected_early += 1
                self.stats.errors += 1
        if reason is None:
            self._queue.put((name, payload))
        else:
            log.warning("cmd/%s rejected: %s", name[:40], reason)
            self._reply(name, self._error(name, reason, None))

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            name, payload = item
            result = self.handle(name, payload)
            with self._lock:
                self.stats.pending -= 1
                self._pending_bytes -= len(payload)
                if result["ok"]:
                    self.stats.ok += 1
                else:
                    self.stats.errors += 1
            try:
                self._reply(name, result)
            except Exception:  # the worker must outlive any reply problem
                log.exception("cmd/%s: could not queue the reply", name[:40])

    def handle(self, name: str, payload: bytes) -> dict[str, Any]:
        """Parse, validate and run one command; returns its reply (never raises)."""
        rid: str | int | None = None
        try:
            if self.verifier is not None:
                payload = self._verified(name, payload)
            request = parse_command(name, payload)
            rid = getattr(request, "id", None)
            handler = self._handlers.get(name)
            if handler is None:
                raise CommandError(f"command {name!r} is not available on this device")
            extra = handler(request)
            reply: dict[str, Any] = dict(extra or {})
            if isinstance(request, ModelUpload):
                reply.setdefault("sha256", request.sha256)
                reply.setdefault("size", request.size)
            reply.update(ok=True, cmd=name, id=rid, time=time.time())
            log.info("cmd/%s ok", name)
            return reply
        except CommandError as exc:
            if rid is None and (name in REQUEST_MODELS or name == "model"):
                rid = _request_id(payload)
            log.info("cmd/%s refused: %s", name[:40], exc)
            return self._error(name, str(exc), rid)
        except Exception as exc:
            log.exception("cmd/%s handler failed", name)
            return self._error(name, f"{type(exc).__name__}: {exc}", rid)

    def _verified(self, name: str, payload: bytes) -> bytes:
        """The inner payload of a signed command; refusals are logged at WARNING."""
        assert self.verifier is not None
        try:
            return self.verifier.unwrap(self._link.topics.command(name), payload)
        except SignatureRefused as exc:
            log.warning("cmd/%s refused: %s", name[:40], exc)
            raise CommandError(str(exc)) from exc

    @staticmethod
    def _error(name: str, reason: str, rid: str | int | None) -> dict[str, Any]:
        return {"ok": False, "cmd": name, "id": rid, "time": time.time(), "error": reason}

    def _reply(self, name: str, result: Mapping[str, Any]) -> None:
        try:
            self._link.publish_result(name, result)
        except (TypeError, ValueError) as exc:
            log.error("cmd/%s: reply not encodable (%s); sending an error instead", name, exc)
            self._link.publish_result(
                name,
                self._error(
                    name, f"handler returned a reply that is not JSON: {exc}", result.get("id")
                ),
            )


# ---------------------------------------------------------------------- adapters
class _Recorder(Protocol):
    def start(self, note: str | None = None) -> Path: ...

    def stop(self) -> list[Path]: ...


def record_handler(recorder: _Recorder) -> Handler:
    """A ``cmd/record`` handler driving an :class:`edge.recorder.Recorder`."""

    def handle(request: RecordRequest) -> dict[str, Any]:
        if request.action == "start":
            session = recorder.start(note=request.note)
            return {"recording": True, "session": str(session)}
        closed = recorder.stop()
        return {"recording": False, "segments": [p.name for p in closed]}

    return handle


class _Publisher(Protocol):
    def reconfigure(self, **changes: Any) -> Any: ...

    @property
    def publish_rate_hz(self) -> float: ...

    @property
    def batch_size(self) -> int: ...


def config_handler(
    publisher: _Publisher,
    set_health_interval: Callable[[float], None] | None = None,
    on_change: Callable[[], None] | None = None,
) -> Handler:
    """A ``cmd/config`` handler applying publish rate / batch size / health interval.

    ``on_change`` runs after every applied change (the daemon republishes ``meta``).
    """

    def handle(request: ConfigRequest) -> dict[str, Any]:
        s = request.settings()
        if "health_interval_s" in s:
            if set_health_interval is None:
                raise CommandError("health_interval_s cannot be changed on this device")
            set_health_interval(s["health_interval_s"])
        publisher.reconfigure(**request.given())
        if on_change is not None:
            on_change()
        return {
            "applied": s,
            "publish_rate_hz": publisher.publish_rate_hz,
            "batch_size": publisher.batch_size,
        }

    return handle
