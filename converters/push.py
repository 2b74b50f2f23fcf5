"""Push a bundle to a device over MQTT and wait for its verdict."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

from nacl.signing import SigningKey

from edge.bundle import read_bundle
from edge.mqtt.command_client import CommandSendError, TlsOptions, send_command

log = logging.getLogger(__name__)

#: The push could not be delivered or the device did not answer.
PushError = CommandSendError

__all__ = ["PushError", "TlsOptions", "push_bundle"]


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
    command_key: SigningKey | None = None,
) -> dict:
    """Publish the bundle on ``sspinn/<device>/cmd/model`` (QoS 1) and return the device's
    JSON result from ``sspinn/<device>/cmd/model/result``.

    With ``allow_downgrade`` the bundle goes in the JSON form of the command
    (``{"bundle": base64, "allow_downgrade": true}``), so the device accepts a model
    version older than the one it runs; without it, an older version is refused. With
    ``command_key`` the command is signed (devices with ``[commands] require_signed``).

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
    return send_command(
        broker,
        device_id,
        "model",
        payload,
        key=command_key,
        timeout_s=timeout_s,
        tls=tls,
        username=username,
        password=password,
    )
