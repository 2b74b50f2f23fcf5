"""Signed commands: an Ed25519 envelope around a ``cmd/<name>`` payload (docs/security.md).

For brokers the user does not control, a device with ``[commands] require_signed = true``
runs only commands signed by one of its ``[commands] trusted_keys`` (the same key type
and files as bundle signing: ``sspinn-convert keygen``). The envelope, sent as the
command's payload, is a JSON object::

    {"v": 1, "time_ms": 1764770000123, "nonce": "<32 hex digits>",
     "payload": "<base64 of the command's own payload>", "sig": "<base64, 64 bytes>"}

The signature covers, as UTF-8 lines joined by ``\\n`` and followed by the payload bytes::

    sspinn-cmd/1
    <full topic, e.g. sspinn/belt-01/cmd/record>
    <device id>
    <time_ms>
    <nonce>
    <payload bytes>

so a signed command is valid for one topic on one device, for ``max_age_s`` after (and
before: clock skew) ``time_ms`` (Unix time, ms), and once (its nonce). Pure: no MQTT.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

log = logging.getLogger(__name__)

ENVELOPE_VERSION = 1
_DOMAIN = b"sspinn-cmd/1"
_NONCE = re.compile(r"^[0-9A-Za-z_-]{16,64}$")
#: Most nonces remembered at once; beyond it new commands are refused (fail closed).
MAX_REMEMBERED_NONCES = 100_000


class SignatureRefused(ValueError):
    """A command that is unsigned, foreign-signed, stale, replayed or malformed; the text
    is the reason put in the command's reply."""


def signed_message(topic: str, device_id: str, time_ms: int, nonce: str, payload: bytes) -> bytes:
    """The exact bytes an envelope's signature covers (see the module docstring)."""
    head = "\n".join((topic, device_id, str(time_ms), nonce)).encode("utf-8")
    return _DOMAIN + b"\n" + head + b"\n" + payload


def sign_command(
    key: SigningKey,
    topic: str,
    device_id: str,
    payload: bytes,
    *,
    time_ms: int | None = None,
    nonce: str | None = None,
) -> bytes:
    """The envelope (JSON bytes) carrying ``payload`` for ``topic`` on ``device_id``.

    Args:
        key: the operator's private key (``edge.bundle.load_signing_key``).
        topic: the full command topic, e.g. ``sspinn/belt-01/cmd/record``.
        payload: the command's own payload (JSON bytes, or a bundle's bytes).
        time_ms: signing time, Unix ms (default now); nonce: default 16 random bytes, hex.
    """
    time_ms = int(time.time() * 1000) if time_ms is None else int(time_ms)
    nonce = secrets.token_hex(16) if nonce is None else nonce
    sig = key.sign(signed_message(topic, device_id, time_ms, nonce, payload)).signature
    envelope = {
        "v": ENVELOPE_VERSION,
        "time_ms": time_ms,
        "nonce": nonce,
        "payload": base64.b64encode(payload).decode("ascii"),
        "sig": base64.b64encode(sig).decode("ascii"),
    }
    return json.dumps(envelope, separators=(",", ":")).encode("ascii")


def envelope_overhead(payload_bytes: int) -> int:
    """The largest envelope size for a payload of ``payload_bytes`` (base64 + fields)."""
    return 4 * ((payload_bytes + 2) // 3) + 512


def _looks_signed(data: object) -> bool:
    return isinstance(data, dict) and "sig" in data and "payload" in data


def _parse_envelope(raw: bytes) -> dict | None:
    """The envelope dict, or None when ``raw`` is not one (an unsigned payload)."""
    if not raw.lstrip().startswith(b"{"):
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if _looks_signed(data) else None


def _int_field(data: dict, name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SignatureRefused(f"signed command: {name!r} is missing or not an integer")
    return value


def _str_field(data: dict, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise SignatureRefused(f"signed command: {name!r} is missing or not a string")
    return value


class CommandVerifier:
    """Checks envelopes and remembers the nonces it accepted (thread-safe).

    Args:
        keys: the trusted operator keys (32-byte raw Ed25519 public keys).
        device_id: this device's id (part of what is signed).
        max_age_s: accepted |now - time_ms| (s); nonces are kept this long after their time.
        clock: wall clock (Unix s), injectable for tests.
    """

    def __init__(
        self,
        keys: Sequence[bytes],
        device_id: str,
        max_age_s: float,
        *,
        clock: Callable[[], float] = time.time,
        max_nonces: int = MAX_REMEMBERED_NONCES,
    ) -> None:
        if not keys:
            raise ValueError("signed commands need at least one trusted key")
        self._keys = [VerifyKey(k) for k in keys]
        self.device_id = device_id
        self.max_age_s = float(max_age_s)
        self._clock = clock
        self._max_nonces = max_nonces
        self._nonces: OrderedDict[str, float] = OrderedDict()  # nonce -> forget after (s)
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0

    @property
    def remembered(self) -> int:
        """Nonces held now (bounded: only those within the age window)."""
        with self._lock:
            self._forget_expired(self._clock())
            return len(self._nonces)

    def unwrap(self, topic: str, raw: bytes) -> bytes:
        """The inner payload of a valid envelope received on ``topic``.

        Raises:
            SignatureRefused: unsigned, malformed, foreign-signed, stale, from the future,
                or a nonce seen before; the text says which.
        """
        try:
            payload = self._check(topic, raw)
        except SignatureRefused:
            with self._lock:
                self.refused += 1
            raise
        with self._lock:
            self.accepted += 1
        return payload

    def _check(self, topic: str, raw: bytes) -> bytes:
        data = _parse_envelope(raw)
        if data is None:
            raise SignatureRefused(
                "unsigned command refused: this device runs only signed commands "
                "([commands] require_signed); send it with `sspinn-edge send-command --key ...`"
            )
        if data.get("v") != ENVELOPE_VERSION:
            raise SignatureRefused(f"signed command: unknown envelope version {data.get('v')!r}")
        time_ms = _int_field(data, "time_ms")
        nonce = _str_field(data, "nonce")
        if not _NONCE.match(nonce):
            raise SignatureRefused("signed command: nonce must be 16-64 of [0-9A-Za-z_-]")
        try:
            payload = base64.b64decode(_str_field(data, "payload"), validate=True)
            sig = base64.b64decode(_str_field(data, "sig"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SignatureRefused(f"signed command: payload or sig is not base64 ({exc})") from exc
        if len(sig) != 64:
            raise SignatureRefused(f"signed command: sig must be 64 bytes, got {len(sig)}")
        message = signed_message(topic, self.device_id, time_ms, nonce, payload)
        if not any(self._verifies(k, message, sig) for k in self._keys):
            raise SignatureRefused(
                "signature does not verify with any trusted key (foreign key, or signed for "
                "another topic or device, or altered)"
            )
        now = self._clock()
        age_s = now - time_ms / 1000.0
        if age_s > self.max_age_s:
            raise SignatureRefused(
                f"stale command: signed {age_s:.0f} s ago, the limit is {self.max_age_s:g} s "
                "([commands] max_age_s; check the sender's and the device's clocks)"
            )
        if -age_s > self.max_age_s:
            raise SignatureRefused(
                f"command from the future: signed {-age_s:.0f} s ahead of this device's "
                f"clock, the limit is {self.max_age_s:g} s (check both clocks)"
            )
        with self._lock:
            self._forget_expired(now)
            if nonce in self._nonces:
                raise SignatureRefused(f"replayed command: nonce {nonce} was already used")
            if len(self._nonces) >= self._max_nonces:
                raise SignatureRefused(
                    f"busy: {len(self._nonces)} signed commands in the last "
                    f"{self.max_age_s:g} s, try again later"
                )
            # Kept until it could no longer pass the age check (time + max_age_s).
            self._nonces[nonce] = time_ms / 1000.0 + self.max_age_s
        return payload

    @staticmethod
    def _verifies(key: VerifyKey, message: bytes, sig: bytes) -> bool:
        try:
            key.verify(message, sig)
        except BadSignatureError:
            return False
        return True

    def _forget_expired(self, now: float) -> None:
        """Drop nonces whose command can no longer pass the age check (caller holds lock)."""
        expired = [n for n, until in self._nonces.items() if until < now]
        for n in expired:
            del self._nonces[n]
