"""The ``[commands]`` config section: which operator keys may sign commands
(:mod:`edge.mqtt.signed_commands`), and Ed25519 public-key text parsing shared with
``[model] trusted_keys``."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def decode_public_key(text: str) -> bytes:
    """32 raw bytes of an Ed25519 public key given as hex (64 digits) or base64.

    Raises:
        ValueError: anything else.
    """
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise ValueError(
            "not an Ed25519 public key: expected 32 bytes as 64 hex digits or base64 (44 chars)"
        )
    return raw


class CommandsConfig(BaseModel):
    """Signed commands, for brokers you do not control (docs/security.md). Off by default:
    on a broker you run, its ACL (``sspinn-edge broker-config``) decides who may command."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    require_signed: bool = Field(
        default=False,
        description="Run only cmd/* messages signed by one of trusted_keys; refuse the rest",
    )
    trusted_keys: list[str] = Field(
        default_factory=list,
        description="Ed25519 public keys (hex or base64) of operators who may sign commands",
    )
    max_age_s: float = Field(
        default=60.0,
        ge=1.0,
        le=300.0,
        description="Refuse a signed command older (or further ahead) than this (s): clocks "
        "must agree this well (NTP)",
    )

    @field_validator("trusted_keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            decode_public_key(key)
        return keys

    @model_validator(mode="after")
    def _keys_and_switch_together(self) -> CommandsConfig:
        if self.require_signed and not self.trusted_keys:
            raise ValueError(
                "require_signed = true needs at least one trusted_keys entry "
                "(`sspinn-convert keygen` prints one)"
            )
        if self.trusted_keys and not self.require_signed:
            raise ValueError(
                "trusted_keys without require_signed = true would still run unsigned "
                "commands: set require_signed = true (or remove the keys)"
            )
        return self

    def trusted_key_bytes(self) -> list[bytes]:
        """The trusted keys as 32-byte raw Ed25519 public keys."""
        return [decode_public_key(k) for k in self.trusted_keys]
