"""The device's MQTT link: availability, a bounded offline queue, and reconnects.

One paho-mqtt 2.x client (``CallbackAPIVersion.VERSION2``, MQTT 3.1.1, clean session)
runs its network loop on paho's thread (``connect_async`` + ``loop_start``), so the
daemon starts and keeps sampling even when the broker is unreachable.

- Last will: ``offline``, retained, on ``status``. :meth:`MqttLink.close` publishes
  ``offline`` itself before a clean disconnect (a clean disconnect fires no will).
- On every successful CONNACK (and only then): ``online`` retained on ``status``, the
  retained ``meta``, Home Assistant discovery (if enabled), and every subscription again.
  A refused CONNACK is counted and logged; :attr:`MqttLink.is_connected` stays False.
- Reconnects by itself with exponential back-off (``mqtt.reconnect``).
- ``publish_*`` only enqueue (a lock and a deque append): no network I/O and no JSON
  encoding of estimates on the caller's thread. A sender thread hands queued messages to
  paho while connected, oldest first, keeping at most ``window`` handed-but-unconfirmed
  messages inside paho so the bounded queue below is the only place messages wait.

Offline queue (``mqtt.offline_queue``; docs/mqtt.md): one queue of at most
``max_messages``. Estimates and health are *bulk*; command results and other messages are
*reliable*. When the queue is full, an arriving bulk message drops the oldest bulk message
(``drop_oldest``) or itself (``drop_newest``) — never a reliable one; an arriving reliable
message drops the oldest bulk message, and only when the queue holds nothing but reliable
messages, the oldest reliable one. Every drop is counted. Invariant, at any moment:
``submitted == published + dropped + queued``.
"""

from __future__ import annotations

import collections
import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.config import DaemonConfig, MqttConfig
from edge.mqtt.home_assistant import discovery_messages
from edge.mqtt.payloads import EstimateFrame, encode_estimates, encode_json
from edge.mqtt.topics import Topics

log = logging.getLogger(__name__)

#: Handler for subscribed messages: (topic, payload). Runs on paho's network thread:
#: it must return quickly (enqueue and go).
MessageHandler = Callable[[str, bytes], None]


def _guarded(callback: Callable[..., None]) -> Callable[..., None]:
    """Log (never raise) exceptions from a paho callback: the network loop must survive."""

    @functools.wraps(callback)
    def wrapper(*args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("MQTT %s failed", callback.__name__)

    return wrapper


@dataclass(slots=True)
class _Item:
    seq: int
    topic: str
    payload: bytes | Callable[[], bytes]
    qos: int
    retain: bool
    reliable: bool


@dataclass(frozen=True)
class LinkStats:
    """A consistent snapshot of the link's counters.

    Attributes:
        connected: a CONNACK accepted and no disconnect since.
        connects: accepted CONNACKs; reconnects: those after the first.
        refused: CONNACKs with a failure reason code (bad credentials, ...).
        disconnects: connections lost or closed.
        submitted: messages given to ``publish_*`` (bulk + reliable).
        published: handed to paho while connected.
        dropped: dropped by the queue policy (or undeliverable, or left at close).
        dropped_bulk / dropped_reliable: ``dropped`` split by class.
        queued: waiting in the offline queue now (including one being handed over).
        delivered: QoS 0 written to the socket / QoS 1 acknowledged by the broker.
        lost_in_flight: QoS 0 messages handed to paho that a lost connection discarded.
        last_error: the last connection problem, in words.
    """

    connected: bool
    connects: int
    reconnects: int
    refused: int
    disconnects: int
    submitted: int
    published: int
    dropped: int
    dropped_bulk: int
    dropped_reliable: int
    queued: int
    delivered: int
    lost_in_flight: int
    last_error: str | None


class MqttLink:
    """The device's connection to the broker.

    Args:
        config: the ``[mqtt]`` section.
        device_id: the device id (a topic level).
        device_name: friendly name for Home Assistant.
        meta: the retained ``meta`` object (see :func:`edge.mqtt.payloads.build_meta`);
            it can be replaced later with :meth:`set_meta`.
        window: most messages handed to paho and not yet written/acknowledged.
    """

    def __init__(
        self,
        config: MqttConfig,
        device_id: str,
        *,
        device_name: str | None = None,
        meta: Mapping[str, Any] | None = None,
        window: int = 100,
    ) -> None:
        self.config = config
        self.topics = Topics(device_id, config.topic_prefix)
        self.device_name = device_name
        if meta is not None:
            encode_json(meta)  # TypeError now rather than at the first connect
        self._meta: Mapping[str, Any] | None = dict(meta) if meta is not None else None
        self._window = window
        self._max = config.offline_queue.max_messages
        self._drop_newest = config.offline_queue.policy == "drop_newest"

        self._cond = threading.Condition()
        self._bulk: collections.deque[_Item] = collections.deque()
        self._reliable: collections.deque[_Item] = collections.deque()
        self._seq = itertools.count()
        self._in_transit = 0
        # mid -> (qos, counted): handed to paho, not yet written (QoS 0) / acknowledged (QoS 1);
        # counted is False for status/meta/discovery, which are not queue messages.
        self._inflight: dict[int, tuple[int, bool]] = {}
        self._early: set[int] = set()  # mids confirmed before we recorded them
        self._subs: dict[str, tuple[int, MessageHandler]] = {}
        self._pending_subs: set[int] = set()  # SUBSCRIBE mids without a SUBACK yet
        self._session_up = False  # CONNACK received (set in on_connect, before _connected)
        self._early_subacks: set[int] = set()
        self._connected = False
        self._closing = False
        self._started = False
        self._stop_sender = False
        self._offline_since: float | None = time.monotonic()
        self._c = dict.fromkeys(
            [
                "connects",
                "refused",
                "disconnects",
                "submitted",
                "published",
                "dropped_bulk",
                "dropped_reliable",
                "delivered",
                "lost_in_flight",
            ],
            0,
        )
        self._last_error: str | None = None

        client_id = config.client_id or f"sspinn-{device_id}"
        self.client_id = client_id
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        self._client.suppress_exceptions = True  # a bug in a callback must not kill the loop
        # Our window is the only flow control: paho sends whatever it is handed at once.
        self._client.max_inflight_messages_set(window + 50)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_subscribe = self._on_subscribe
        self._sender = threading.Thread(target=self._run_sender, name="mqtt-sender", daemon=True)

    @classmethod
    def from_config(cls, cfg: DaemonConfig, **kwargs: Any) -> MqttLink:
        """A link for a whole daemon config (device id and name from ``[device]``)."""
        return cls(cfg.mqtt, cfg.device.id, device_name=cfg.device.name, **kwargs)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Configure will/TLS/credentials and start connecting in the background.

        Returns at once; the link connects (and reconnects) by itself.

        Raises:
            OSError, ssl.SSLError, ValueError: unreadable TLS files or bad settings.
        """
        if self._started:
            return
        cfg = self.config
        self._client.will_set(self.topics.status, "offline", qos=1, retain=True)
        if cfg.username:
            self._client.username_pw_set(cfg.username, cfg.resolved_password())
        if cfg.tls is not None:
            self._client.tls_set(
                ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
                keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
            )
            if cfg.tls.insecure:
                self._client.tls_insecure_set(True)
        self._client.reconnect_delay_set(cfg.reconnect.min_s, cfg.reconnect.max_s)
        self._client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        self._started = True
        self._sender.start()
        self._client.loop_start()
        log.info("MQTT link to %s:%d started (client %s)", cfg.host, cfg.port, self.client_id)

    def close(self, timeout_s: float = 3.0) -> None:
        """Drain what can be sent within ``timeout_s``, publish ``offline`` (retained),
        disconnect cleanly and stop the threads. Messages still queued are counted as
        dropped. Safe to call twice."""
        if not self._started or self._closing:
            return
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._closing = True
            while (
                self._connected
                and (self._bulk or self._reliable or self._in_transit or self._inflight)
                and time.monotonic() < deadline
            ):
                self._cond.wait(0.05)
            self._stop_sender = True
            self._cond.notify_all()
        self._sender.join(timeout=max(0.1, deadline - time.monotonic()) + 1.0)
        if self._connected:
            try:
                info = self._client.publish(self.topics.status, "offline", qos=1, retain=True)
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                log.warning("could not publish 'offline' at close: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        with self._cond:
            left = len(self._bulk) + len(self._reliable)
            self._c["dropped_bulk"] += len(self._bulk)
            self._c["dropped_reliable"] += len(self._reliable)
            self._bulk.clear()
            self._reliable.clear()
            self._connected = False
            self._session_up = False
        if left:
            log.warning("MQTT link closed with %d undelivered messages (counted as dropped)", left)
        log.info("MQTT link closed")

    def __enter__(self) -> MqttLink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ state
    @property
    def is_connected(self) -> bool:
        """True between an accepted CONNACK and the next disconnect; never after a refusal."""
        return self._connected

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected or ``timeout_s`` passes; returns :attr:`is_connected`."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._connected and time.monotonic() < deadline:
                self._cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            return self._connected

    @property
    def is_ready(self) -> bool:
        """Connected, and the broker has acknowledged every subscription (commands arrive)."""
        return self._connected and not self._pending_subs

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until :attr:`is_ready` or ``timeout_s`` passes; returns :attr:`is_ready`."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not (self._connected and not self._pending_subs) and (
                time.monotonic() < deadline
            ):
                self._cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            return self._connected and not self._pending_subs

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until the queue is empty and everything handed over is confirmed."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while (self._bulk or self._reliable or self._in_transit or self._inflight) and (
                time.monotonic() < deadline
            ):
                self._cond.wait(0.02)
            return not (self._bulk or self._reliable or self._in_transit or self._inflight)

    def stats(self) -> LinkStats:
        """A consistent snapshot of the counters (see :class:`LinkStats`)."""
        with self._cond:
            c = self._c
            dropped = c["dropped_bulk"] + c["dropped_reliable"]
            return LinkStats(
                connected=self._connected,
                connects=c["connects"],
                reconnects=max(0, c["connects"] - 1),
                refused=c["refused"],
                disconnects=c["disconnects"],
                submitted=c["submitted"],
                published=c["published"],
                dropped=dropped,
                dropped_bulk=c["dropped_bulk"],
                dropped_reliable=c["dropped_reliable"],
                queued=len(self._bulk) + len(self._reliable) + self._in_transit,
                delivered=c["delivered"],
                lost_in_flight=c["lost_in_flight"],
                last_error=self._last_error,
            )

    @property
    def queue_depth(self) -> int:
        """Messages waiting to be sent (for the health message)."""
        return len(self._bulk) + len(self._reliable) + self._in_transit

    # ------------------------------------------------------------------ publishing
    def publish_estimate(self, frames: EstimateFrame | Sequence[EstimateFrame]) -> bool:
        """Queue one estimate message (a frame or a batch); encoded on the sender thread.

        Frames must not be changed after this call. Returns False when dropped at once.
        """
        batch = (frames,) if isinstance(frames, EstimateFrame) else tuple(frames)
        return self._enqueue(
            self.topics.estimate,
            functools.partial(encode_estimates, batch),
            qos=self.config.qos_estimate,
            retain=False,
            reliable=False,
        )

    def publish_health(self, health: Mapping[str, Any]) -> bool:
        """Queue a ``health`` message (QoS 0, bulk); encoded now (TypeError if not JSON)."""
        return self._enqueue(self.topics.health, encode_json(health), 0, False, False)

    def publish_result(self, command: str, result: Mapping[str, Any]) -> bool:
        """Queue the reply to a command on ``cmd/<command>/result`` (QoS 1, reliable);
        encoded now (TypeError if not JSON)."""
        return self._enqueue(self.topics.result(command), encode_json(result), 1, False, True)

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> bool:
        """Queue any other message (reliable class)."""
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        return self._enqueue(topic, data, qos, retain, True)

    def set_meta(self, meta: Mapping[str, Any]) -> None:
        """Replace the retained ``meta``; published now if connected, and on every connect.

        Raises:
            TypeError: ``meta`` is not JSON-encodable.
        """
        encode_json(meta)
        with self._cond:
            self._meta = dict(meta)
            connected = self._connected
        if connected:
            self._enqueue(self.topics.meta, encode_json(meta), 1, True, True)

    @property
    def meta(self) -> Mapping[str, Any] | None:
        return self._meta

    def _enqueue(
        self,
        topic: str,
        payload: bytes | Callable[[], bytes],
        qos: int,
        retain: bool,
        reliable: bool,
    ) -> bool:
        with self._cond:
            c = self._c
            c["submitted"] += 1
            if self._closing:
                c["dropped_reliable" if reliable else "dropped_bulk"] += 1
                return False
            if len(self._bulk) + len(self._reliable) >= self._max:
                if reliable:
                    if self._bulk:
                        self._bulk.popleft()
                        c["dropped_bulk"] += 1
                    else:
                        self._reliable.popleft()
                        c["dropped_reliable"] += 1
                        log.warning("offline queue full of reliable messages: dropped the oldest")
                elif self._drop_newest or not self._bulk:
                    c["dropped_bulk"] += 1
                    return False
                else:
                    self._bulk.popleft()
                    c["dropped_bulk"] += 1
            item = _Item(next(self._seq), topic, payload, qos, retain, reliable)
            (self._reliable if reliable else self._bulk).append(item)
            if self._connected:
                self._cond.notify_all()
            return True

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1) -> None:
        """Route messages matching ``topic_filter`` to ``handler(topic, payload)``.

        Subscribed again on every connect. The handler runs on paho's network thread.
        """
        with self._cond:
            self._subs[topic_filter] = (qos, handler)
            connected = self._session_up
        if connected:
            _, mid = self._client.subscribe(topic_filter, qos=qos)
            with self._cond:
                self._track_subscribe(mid)

    # ------------------------------------------------------------------ paho callbacks
    @_guarded
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            reason = f"broker refused the connection: {reason_code}"
            with self._cond:
                self._c["refused"] += 1
                repeated = self._last_error == reason
                self._last_error = reason
            # Once per distinct reason: a wrong password would otherwise log every retry.
            (log.debug if repeated else log.error)(
                "MQTT broker %s:%d refused the connection: %s",
                self.config.host,
                self.config.port,
                reason_code,
            )
            return
        with self._cond:
            meta = self._meta
            subs = dict(self._subs)
            # From here on subscribe() sends its own SUBSCRIBE (the session is up), so a
            # subscription registered after this snapshot is not lost.
            self._session_up = True
        mids = [client.publish(self.topics.status, "online", qos=1, retain=True).mid]
        try:
            if meta is not None:
                meta_payload = encode_json(meta)
                mids.append(client.publish(self.topics.meta, meta_payload, qos=1, retain=True).mid)
                if self.config.home_assistant_discovery:
                    for topic, payload in discovery_messages(
                        self.topics,
                        meta,
                        discovery_prefix=self.config.discovery_prefix,
                        device_name=self.device_name,
                    ):
                        mids.append(client.publish(topic, payload, qos=1, retain=True).mid)
        except Exception:  # a bad meta must not keep the link from working
            log.exception("could not publish meta / discovery on connect")
        sub_mids = [client.subscribe(f, qos=qos)[1] for f, (qos, _) in subs.items()]
        with self._cond:
            for mid in mids:
                self._claim(mid, 1, counted=False)
            for mid in sub_mids:
                self._track_subscribe(mid)
            self._connected = True
            self._c["connects"] += 1
            offline_s = (
                time.monotonic() - self._offline_since if self._offline_since is not None else 0.0
            )
            self._offline_since = None
            queued = len(self._bulk) + len(self._reliable)
            dropped = self._c["dropped_bulk"] + self._c["dropped_reliable"]
            self._cond.notify_all()
        log.info(
            "MQTT connected to %s:%d after %.1f s offline; %d queued, %d dropped so far",
            self.config.host,
            self.config.port,
            offline_s,
            queued,
            dropped,
        )

    @_guarded
    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
    ) -> None:
        refused = [rc for rc in reason_codes if rc.is_failure]
        with self._cond:
            if mid in self._pending_subs:
                self._pending_subs.discard(mid)
            else:
                self._early_subacks.add(mid)
            if refused:
                self._last_error = f"broker refused a subscription: {refused[0]}"
            self._cond.notify_all()
        if refused:
            log.error("MQTT broker refused a subscription: %s", refused[0])

    def _track_subscribe(self, mid: int) -> None:
        """Record a SUBSCRIBE waiting for its SUBACK (lock held)."""
        if mid in self._early_subacks:
            self._early_subacks.discard(mid)
        else:
            self._pending_subs.add(mid)

    @_guarded
    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        with self._cond:
            self._last_error = f"cannot reach {self.config.host}:{self.config.port}"

    @_guarded
    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        with self._cond:
            was = self._connected
            self._connected = False
            self._session_up = False
            if was:
                self._c["disconnects"] += 1
                self._offline_since = time.monotonic()
            self._sweep_lost()
            self._pending_subs.clear()
            self._early_subacks.clear()
            if was and reason_code.is_failure:
                self._last_error = f"connection lost: {reason_code}"
        if was and not self._closing:
            log.warning(
                "MQTT connection to %s:%d lost (%s); reconnecting",
                self.config.host,
                self.config.port,
                reason_code,
            )

    @_guarded
    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        with self._cond:
            entry = self._inflight.pop(mid, None)
            if entry is not None:
                self._c["delivered"] += entry[1]
            else:
                self._early.add(mid)
            self._cond.notify_all()

    @_guarded
    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        for topic_filter, (_, handler) in list(self._subs.items()):
            if mqtt.topic_matches_sub(topic_filter, message.topic):
                try:
                    handler(message.topic, bytes(message.payload))
                except Exception:
                    log.exception("handler for %s failed", message.topic)

    # ------------------------------------------------------------------ sender
    def _claim(self, mid: int, qos: int, *, counted: bool = True) -> None:
        """Record a handed-over mid (lock held); it may already have been confirmed."""
        if mid in self._early:
            self._early.discard(mid)
            self._c["delivered"] += counted
        else:
            self._inflight[mid] = (qos, counted)

    def _sweep_lost(self) -> None:
        """QoS 0 messages still in paho when a connection ends are lost (lock held).

        QoS 1 ones stay: paho sends them again after the reconnect.
        """
        lost = [mid for mid, (qos, _) in self._inflight.items() if qos == 0]
        for mid in lost:
            self._c["lost_in_flight"] += self._inflight.pop(mid)[1]
        self._early.clear()

    def _pop_oldest(self) -> _Item:
        if self._bulk and (not self._reliable or self._bulk[0].seq < self._reliable[0].seq):
            return self._bulk.popleft()
        return self._reliable.popleft()

    def _run_sender(self) -> None:
        while True:
            with self._cond:
                while not self._stop_sender and not (
                    self._connected
                    and (self._bulk or self._reliable)
                    and len(self._inflight) < self._window
                ):
                    self._cond.wait(0.5)
                if self._stop_sender:
                    return
                item = self._pop_oldest()
                self._in_transit = 1
            self._hand_over(item)

    def _hand_over(self, item: _Item) -> None:
        rc: MQTTErrorCode | None = None
        mid = -1
        try:
            payload = item.payload() if callable(item.payload) else item.payload
            info = self._client.publish(item.topic, payload, qos=item.qos, retain=item.retain)
            rc, mid = info.rc, info.mid
        except Exception:
            log.exception("cannot publish on %s: dropped", item.topic)
        with self._cond:
            self._in_transit = 0
            no_conn = rc == MQTTErrorCode.MQTT_ERR_NO_CONN
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (no_conn and item.qos > 0):
                # QoS 1 refused for "no connection" stays in paho and is sent on reconnect.
                self._c["published"] += 1
                self._claim(mid, item.qos)
            elif no_conn:
                # The connection just ended (on_disconnect is on its way): keep the
                # message, in its place, for the next connection.
                (self._reliable if item.reliable else self._bulk).appendleft(item)
                self._cond.wait(0.05)
            else:
                if rc is not None:
                    log.error("paho refused a message on %s: %s", item.topic, rc)
                self._c["dropped_reliable" if item.reliable else "dropped_bulk"] += 1
