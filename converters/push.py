"""Push a bundle to a device over MQTT and wait for its verdict."""

from __future__ import annotations

import base64
import json
import logging
import ssl
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from edge.bundle import read_bundle
from edge.mqtt.broker_address import parse_broker_address

log = logging.getLogger(__name__)


class PushError(RuntimeError):
    """The push could not be delivered or the device did not answer."""


@dataclass
class TlsOptions:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


def push_bundle(
    bundle_path: str | Path,
    broker: str,
    device_id: str,
    *,
    timeout_s: float = 30.0,
    tls: TlsOptions | None = None,
    username: str | None = None,
    password: str | None = None,
    allow_downgrade: bool = False,
) -> dict:
    """Publish the bundle on ``sspinn/<device>/cmd/model`` (QoS 1) and return the device's
    JSON result from ``sspinn/<device>/cmd/model/result``.

    With ``allow_downgrade`` the bundle goes in the JSON form of the command
    (``{"bundle": base64, "allow_downgrade": true}``), so the device accepts a model
    version older than the one it runs; without it, an older version is refused.

    The bundle is verified locally first, so a broken file never leaves the workstation.

    Raises:
        PushError: connection refused, no answer within ``timeout_s``.
        edge.bundle.BundleError: the bundle fails local verification.
    """
    data = Path(bundle_path).read_bytes()
    read_bundle(data)  # fail early on a corrupt file
    payload = data
    if allow_downgrade:
        payload = json.dumps(
            {"bundle": base64.b64encode(data).decode("ascii"), "allow_downgrade": True}
        ).encode()
    address = parse_broker_address(broker)
    host, port = address.host, address.port
    if address.tls and tls is None:
        tls = TlsOptions()  # mqtts:// with the system's CA store
    prefix = f"sspinn/{device_id}"
    result_topic = f"{prefix}/cmd/model/result"
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"sspinn-push-{uuid.uuid4().hex[:8]}"
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
    connected = threading.Event()
    subscribed = threading.Event()
    answered = threading.Event()
    state: dict = {}

    def on_connect(c, userdata, flags, reason_code, properties):
        state["connack"] = reason_code
        if not reason_code.is_failure:
            c.subscribe(result_topic, qos=1)
        connected.set()

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        subscribed.set()

    def on_message(c, userdata, msg):
        try:
            state["result"] = json.loads(msg.payload)
        except ValueError:
            state["result"] = {"ok": False, "error": f"unreadable reply {msg.payload[:200]!r}"}
        answered.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise PushError(f"cannot reach broker {host}:{port}: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(timeout_s) or state["connack"].is_failure:
            raise PushError(f"broker {host}:{port} refused the connection: {state.get('connack')}")
        if not subscribed.wait(timeout_s):
            raise PushError("no SUBACK for the result topic")
        info = client.publish(f"{prefix}/cmd/model", payload, qos=1)
        info.wait_for_publish(timeout_s)
        log.info("sent %d bytes to %s/cmd/model", len(data), prefix)
        if not answered.wait(timeout_s):
            raise PushError(
                f"device {device_id!r} did not answer within {timeout_s} s "
                f"(is it online? watch {prefix}/status)"
            )
        return state["result"]
    finally:
        client.loop_stop()
        client.disconnect()
