"""Every MQTT topic name of a device, built in one place from the prefix and device id.

Layout (docs/mqtt.md): ``<prefix>/<device_id>/`` + ``status`` | ``meta`` | ``estimate`` |
``health`` | ``cmd/<name>`` | ``cmd/<name>/result``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Command names the daemon understands (``cmd/<name>``).
COMMAND_NAMES: tuple[str, ...] = ("record", "calibrate", "model", "config")

_LEVEL = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Topics:
    """Topic names for one device.

    Args:
        device_id: one topic level (letters, digits, ``_``, ``-``, ``.``).
        prefix: one or more topic levels, default ``sspinn``.
    """

    device_id: str
    prefix: str = "sspinn"

    def __post_init__(self) -> None:
        if not _LEVEL.match(self.device_id):
            raise ValueError(f"device id {self.device_id!r} is not a plain topic level")
        if not all(_LEVEL.match(p) for p in self.prefix.split("/")):
            raise ValueError(f"topic prefix {self.prefix!r} must be plain topic levels")

    @property
    def base(self) -> str:
        """``<prefix>/<device_id>``."""
        return f"{self.prefix}/{self.device_id}"

    @property
    def status(self) -> str:
        """Retained ``online`` / ``offline`` (the last will)."""
        return f"{self.base}/status"

    @property
    def meta(self) -> str:
        """Retained JSON: model, rates, joints, units, sensors."""
        return f"{self.base}/meta"

    @property
    def estimate(self) -> str:
        """JSON estimate frame(s)."""
        return f"{self.base}/estimate"

    @property
    def health(self) -> str:
        """JSON health every few seconds."""
        return f"{self.base}/health"

    @property
    def command_filter(self) -> str:
        """Subscription filter for every command: ``<base>/cmd/+``."""
        return f"{self.base}/cmd/+"

    def command(self, name: str) -> str:
        """``<base>/cmd/<name>``."""
        return f"{self.base}/cmd/{name}"

    def result(self, name: str) -> str:
        """``<base>/cmd/<name>/result``: exactly one JSON reply per command message."""
        return f"{self.base}/cmd/{name}/result"

    def command_name(self, topic: str) -> str | None:
        """The ``<name>`` of a ``<base>/cmd/<name>`` topic, or None for any other topic."""
        head = f"{self.base}/cmd/"
        if not topic.startswith(head):
            return None
        name = topic[len(head) :]
        return None if "/" in name else name
