"""The dashboard's MQTT side: one paho client that feeds the device hubs.

Subscribes to ``<prefix>/+/status`` (devices seen) and, per watched device, to
``<prefix>/<id>/{meta,estimate,health}``; subscriptions are made again on every
connect. Messages go to ``on_message(topic, payload)`` on paho's thread, guarded so a
bad message never kills the network loop.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from dashboard.device_hub import DEVICE_TOPICS
from edge.mqtt.broker_address import BrokerAddress
from edge.mqtt.topics import Topics

log = logging.getLogger(__name__)


class MqttBridge:
    """A paho client subscribed to the watched devices' topics.

    Args:
        broker: where the broker listens.
        prefix: topic prefix (``sspinn``).
        on_message: ``(topic, payload)`` for every received message (paho's thread).
        on_link_change: called with no arguments when the link goes up or down.
        watched: returns the topics of the devices watched now (re-subscribed on connect).
        username, password: a broker account (e.g. a ``broker-config --viewer``); None:
            anonymous, which under the project's ACL reads estimates only.
    """

    def __init__(
        self,
        broker: BrokerAddress,
        prefix: str,
        *,
        on_message: Callable[[str, bytes], None],
        on_link_change: Callable[[], None],
        watched: Callable[[], list[Topics]],
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.broker = broker
        self.prefix = prefix
        self.connected = False
        self.closing = False
        self._on_message_cb = on_message
        self._on_link_change = on_link_change
        self._watched = watched
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"sspinn-dashboard-{uuid.uuid4().hex[:8]}",
            clean_session=True,
        )
        if username:
            self._client.username_pw_set(username, password)
        if broker.tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(0.5, 5)

    def start(self) -> None:
        """Connect in the background (reconnects by itself)."""
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self._client.loop_start()

    def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            self._client.disconnect()  # wakes paho's loop, so loop_stop returns at once
        self._client.loop_stop()

    def watch(self, topics: Topics) -> None:
        """Subscribe to one device's topics (now if connected; always on reconnect)."""
        if self.connected:
            self._subscribe(topics)

    def _subscribe(self, topics: Topics) -> None:
        self._client.subscribe([(f"{topics.base}/{name}", 0) for name in DEVICE_TOPICS])

    # --- paho's thread ------------------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the dashboard: %s", reason)
            return
        self.connected = True
        client.subscribe(f"{self.prefix}/+/status", 0)
        for topics in self._watched():
            self._subscribe(topics)
        log.info("dashboard connected to MQTT %s", self.broker)
        self._on_link_change()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was = self.connected
        self.connected = False
        if was and not self.closing:
            log.warning("dashboard lost the MQTT broker (%s); reconnecting", reason)
        self._on_link_change()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self._on_message_cb(msg.topic, bytes(msg.payload))
        except Exception:  # a bad message must never kill paho's loop
            log.exception("dashboard: cannot handle a message on %s", msg.topic)
