"""The operator's side of a command: publish ``cmd/<name>`` (signed when given a key)
and wait for the device's reply on ``cmd/<name>/result``.

Used by ``sspinn-edge send-command`` and ``sspinn-convert push``.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from nacl.signing import SigningKey

from edge.mqtt.broker_address import parse_broker_address
from edge.mqtt.signed_commands import sign_command

log = logging.getLogger(__name__)


class CommandSendError(RuntimeError):
    """The command could not be delivered or the device did not answer."""


@dataclass
class TlsOptions:
    """TLS to the broker: CA, client certificate and key files (PEM)."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


def send_command(
    broker: str,
    device_id: str,
    name: str,
    payload: bytes,
    *,
    key: SigningKey | None = None,
    topic_prefix: str = "sspinn",
    timeout_s: float = 30.0,
    tls: TlsOptions | None = None,
    username: str | None = None,
    password: str | None = None,
) -> dict:
    """Publish ``payload`` on ``<prefix>/<device>/cmd/<name>`` (QoS 1) and return the
    device's JSON reply.

    Args:
        broker: ``HOST[:PORT]``, ``mqtt://...`` or ``mqtts://...`` (TLS, system CAs).
        key: sign the command with this operator key (:mod:`edge.mqtt.signed_commands`).

    Raises:
        CommandSendError: connection refused, or no answer within ``timeout_s``.
    """
    address = parse_broker_address(broker)
    host, port = address.host, address.port
    if address.tls and tls is None:
        tls = TlsOptions()
    topic = f"{topic_prefix}/{device_id}/cmd/{name}"
    if key is not None:
        payload = sign_command(key, topic, device_id, payload)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"sspinn-op-{uuid.uuid4().hex[:8]}"
    )
    if username:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set(
            ca_certs=tls.ca_file,
            certfile=tls.cert_file,
            keyfile=tls.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(tls.insecure)
    connected, subscribed, answered = threading.Event(), threading.Event(), threading.Event()
    state: dict = {}

    def on_connect(c, userdata, flags, reason_code, properties):
        state["connack"] = reason_code
        if not reason_code.is_failure:
            c.subscribe(f"{topic}/result", qos=1)
        connected.set()

    def on_message(c, userdata, msg):
        try:
            state["result"] = json.loads(msg.payload)
        except ValueError:
            state["result"] = {"ok": False, "error": f"unreadable reply {msg.payload[:200]!r}"}
        answered.set()

    client.on_connect = on_connect
    client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise CommandSendError(f"cannot reach broker {host}:{port}: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(timeout_s) or state["connack"].is_failure:
            raise CommandSendError(
                f"broker {host}:{port} refused the connection: {state.get('connack')}"
            )
        if not subscribed.wait(timeout_s):
            raise CommandSendError("no SUBACK for the result topic")
        client.publish(topic, payload, qos=1).wait_for_publish(timeout_s)
        log.info("sent %d bytes to %s%s", len(payload), topic, " (signed)" if key else "")
        if not answered.wait(timeout_s):
            raise CommandSendError(
                f"device {device_id!r} did not answer within {timeout_s} s "
                f"(is it online? watch {topic_prefix}/{device_id}/status)"
            )
        return state["result"]
    finally:
        client.loop_stop()
        client.disconnect()
