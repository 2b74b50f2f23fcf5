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

Offline queue (``mqtt.offline_queue``; docs/mqtt.md): the drop policy and the counters
live in :class:`edge.mqtt.offline_queue.OfflineQueue` (pure, tested without a broker);
invariant, at any moment: ``submitted == published + dropped + queued``. What the broker
has confirmed (PUBACKs, SUBACKs) is tracked by :mod:`edge.mqtt.acks`. This module holds
the paho client, its callbacks and the sender thread.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from edge.config import DaemonConfig, MqttConfig
from edge.mqtt.acks import PublishAcks, SubscriptionAcks
from edge.mqtt.connect_log import ConnectFailureLog, capture_connect_errors
from edge.mqtt.home_assistant import discovery_messages
from edge.mqtt.link_stats import LinkStats
from edge.mqtt.offline_queue import OfflineQueue, QueuedMessage
from edge.mqtt.paho_session import configure_session, new_client
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

        self._cond = threading.Condition()
        self._queue = OfflineQueue(config.offline_queue.max_messages, config.offline_queue.policy)
        self._acks = PublishAcks()  # status/meta/discovery are handed over uncounted
        self._subs: dict[str, tuple[int, MessageHandler]] = {}
        self._subacks = SubscriptionAcks()
        self._session_up = False  # CONNACK received (set in on_connect, before _connected)
        self._connected = False
        self._closing = False
        self._started = False
        self._stop_sender = False
        self._offline_since: float | None = time.monotonic()
        self._c = dict.fromkeys(["connects", "refused", "disconnects"], 0)
        self._last_error: str | None = None

        client_id = config.client_id or f"sspinn-{device_id}"
        self.client_id = client_id
        self._client = new_client(client_id, window)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_subscribe = self._on_subscribe
        self._connect_error: str | None = None
        capture_connect_errors(self._client, lambda why: setattr(self, "_connect_error", why))
        self._failures = ConnectFailureLog(f"{config.host}:{config.port}")
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
        configure_session(self._client, cfg, self.topics.status)
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
            while self._connected and self._busy() and time.monotonic() < deadline:
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
            left = self._queue.drop_all()
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

    def _busy(self) -> bool:
        """Messages queued, being handed over, or in paho unconfirmed (lock held)."""
        return bool(self._queue.queued or len(self._acks))

    @property
    def is_ready(self) -> bool:
        """Connected, and the broker has acknowledged every subscription (commands arrive)."""
        return self._connected and self._subacks.all_acknowledged

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until :attr:`is_ready` or ``timeout_s`` passes; returns :attr:`is_ready`."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self.is_ready and time.monotonic() < deadline:
                self._cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            return self.is_ready

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until the queue is empty and everything handed over is confirmed."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._busy() and time.monotonic() < deadline:
                self._cond.wait(0.02)
            return not self._busy()

    def stats(self) -> LinkStats:
        """A consistent snapshot of the counters (see :class:`LinkStats`)."""
        with self._cond:
            c, q = self._c, self._queue
            return LinkStats(
                connected=self._connected,
                connects=c["connects"],
                reconnects=max(0, c["connects"] - 1),
                refused=c["refused"],
                disconnects=c["disconnects"],
                submitted=q.submitted,
                published=q.published,
                dropped=q.dropped,
                dropped_bulk=q.dropped_bulk,
                dropped_reliable=q.dropped_reliable,
                queued=q.queued,
                delivered=self._acks.delivered,
                lost_in_flight=self._acks.lost_in_flight,
                last_error=self._last_error,
            )

    @property
    def queue_depth(self) -> int:
        """Messages waiting to be sent (for the health message)."""
        return self._queue.queued

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
        if connected:  # meta and, when enabled, the discovery configs that follow from it
            for topic, payload in self._retained_on_connect(meta):
                data = payload.encode() if isinstance(payload, str) else payload
                self._enqueue(topic, data, 1, True, True)

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
        msg = QueuedMessage(topic, payload, qos, retain, reliable)
        with self._cond:
            if self._closing:
                self._queue.refuse(msg)
                return False
            accepted = self._queue.submit(msg)
            if accepted and self._connected:
                self._cond.notify_all()
            return accepted

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
                self._subacks.sent(mid)

    # ------------------------------------------------------------------ paho callbacks
    @_guarded
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            with self._cond:
                self._c["refused"] += 1
                self._last_error = f"broker refused the connection: {reason_code}"
                queued, dropped = self._queue.queued, self._queue.dropped
            self._failures.failed(str(reason_code), refused=True, queued=queued, dropped=dropped)
            return
        with self._cond:
            meta = self._meta
            subs = dict(self._subs)
            # From here on subscribe() sends its own SUBSCRIBE (the session is up), so a
            # subscription registered after this snapshot is not lost.
            self._session_up = True
        mids = [client.publish(self.topics.status, "online", qos=1, retain=True).mid]
        try:
            for topic, payload in self._retained_on_connect(meta):
                mids.append(client.publish(topic, payload, qos=1, retain=True).mid)
        except Exception:  # a bad meta must not keep the link from working
            log.exception("could not publish meta / discovery on connect")
        sub_mids = [client.subscribe(f, qos=qos)[1] for f, (qos, _) in subs.items()]
        with self._cond:
            for mid in mids:
                self._acks.handed_over(mid, 1, counted=False)
            for mid in sub_mids:
                self._subacks.sent(mid)
            self._connected = True
            self._c["connects"] += 1
            offline_s = (
                time.monotonic() - self._offline_since if self._offline_since is not None else 0.0
            )
            self._offline_since = None
            queued, dropped = self._queue.waiting, self._queue.dropped
            self._cond.notify_all()
        self._failures.connected()
        log.info(
            "MQTT connected to %s:%d after %.1f s offline; %d queued, %d dropped so far",
            *(self.config.host, self.config.port, offline_s, queued, dropped),
        )

    def _retained_on_connect(
        self, meta: Mapping[str, Any] | None
    ) -> Iterator[tuple[str, bytes | str]]:
        """``meta`` and Home Assistant discovery (if enabled): (topic, payload)."""
        if meta is None:
            return
        yield self.topics.meta, encode_json(meta)
        if self.config.home_assistant_discovery:
            yield from discovery_messages(
                self.topics,
                meta,
                discovery_prefix=self.config.discovery_prefix,
                device_name=self.device_name,
                health_interval_s=meta.get("health_interval_s", self.config.health_interval_s),
            )

    @_guarded
    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
    ) -> None:
        refused = [rc for rc in reason_codes if rc.is_failure]
        with self._cond:
            self._subacks.acknowledged(mid)
            if refused:
                self._last_error = f"broker refused a subscription: {refused[0]}"
            self._cond.notify_all()
        if refused:
            log.error("MQTT broker refused a subscription: %s", refused[0])

    @_guarded
    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        reason = self._connect_error or "connection failed"
        with self._cond:
            self._last_error = f"cannot reach {self.config.host}:{self.config.port}: {reason}"
            queued, dropped = self._queue.queued, self._queue.dropped
        self._failures.failed(reason, queued=queued, dropped=dropped)

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
            self._acks.connection_lost()
            self._subacks.clear()
            if was and reason_code.is_failure:
                self._last_error = f"connection lost: {reason_code}"
        if was and not self._closing:
            log.warning(
                "MQTT connection to %s:%d lost (%s); reconnecting",
                *(self.config.host, self.config.port, reason_code),
            )

    @_guarded
    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        with self._cond:
            self._acks.confirmed(mid)
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
    def _run_sender(self) -> None:
        while True:
            with self._cond:
                while not self._stop_sender and not (
                    self._connected and self._queue.waiting and len(self._acks) < self._window
                ):
                    self._cond.wait(0.5)
                if self._stop_sender:
                    return
                item = self._queue.take()
            if item is not None:
                self._hand_over(item)

    def _hand_over(self, item: QueuedMessage) -> None:
        rc: MQTTErrorCode | None = None
        mid = -1
        try:
            payload = item.payload() if callable(item.payload) else item.payload
            info = self._client.publish(item.topic, payload, qos=item.qos, retain=item.retain)
            rc, mid = info.rc, info.mid
        except Exception:
            log.exception("cannot publish on %s: dropped", item.topic)
        with self._cond:
            no_conn = rc == MQTTErrorCode.MQTT_ERR_NO_CONN
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (no_conn and item.qos > 0):
                # QoS 1 refused for "no connection" stays in paho and is sent on reconnect.
                self._queue.mark_published()
                self._acks.handed_over(mid, item.qos)
            elif no_conn:
                # The connection just ended (on_disconnect is on its way): keep the
                # message, in its place, for the next connection.
                self._queue.put_back()
                self._cond.wait(0.05)
            else:
                if rc is not None:
                    log.error("paho refused a message on %s: %s", item.topic, rc)
                self._queue.mark_dropped()
            self._cond.notify_all()


__all__ = ["LinkStats", "MessageHandler", "MqttLink"]
