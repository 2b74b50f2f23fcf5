"""A paho-mqtt 2.x client as the device uses it, configured from ``[mqtt]``: MQTT 3.1.1,
clean session, the retained ``offline`` last will, credentials, TLS, reconnect back-off."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttConfig


def new_client(client_id: str, window: int) -> mqtt.Client:
    """A client whose only flow control is the caller's ``window`` (messages handed over
    and not yet confirmed); exceptions in callbacks never kill its network loop."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    client.suppress_exceptions = True
    client.max_inflight_messages_set(window + 50)
    return client


def configure_session(client: mqtt.Client, cfg: MqttConfig, status_topic: str) -> None:
    """Last will (``offline``, retained, QoS 1), credentials, TLS and back-off.

    Raises:
        OSError, ssl.SSLError, ValueError: unreadable TLS files or bad settings.
    """
    client.will_set(status_topic, "offline", qos=1, retain=True)
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.resolved_password())
    if cfg.tls is not None:
        client.tls_set(
            ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
            certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
            keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
        )
        if cfg.tls.insecure:
            client.tls_insecure_set(True)
    client.reconnect_delay_set(cfg.reconnect.min_s, cfg.reconnect.max_s)
