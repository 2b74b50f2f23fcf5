"""Typed errors of the hardware layer."""

from __future__ import annotations

import errno as _errno

WIRING_HINT = (
    "check your wiring: SDA/SCL not swapped, 3.3 V and GND connected, the address pin "
    "(AD0 / SA0) as configured, the cable on the right multiplexer channel"
)


class HardwareError(Exception):
    """Base class of every error raised by ``firmware_bridge``."""


class BusError(HardwareError, OSError):
    """An I2C transfer failed (NACK, EIO, timeout).

    Carries where it happened so a log line can say which cable to look at.
    ``errno`` follows the Linux i2c-dev conventions: ``EREMOTEIO`` (121) or ``ENXIO`` (6)
    for a NACK, ``EIO`` (5) for a generic failure, ``ETIMEDOUT`` (110) for a bus that is
    held low (lock-up).
    """

    def __init__(
        self,
        err: int | None,
        message: str,
        *,
        address: int | None = None,
        register: int | None = None,
        channel: int | None = None,
        operation: str = "",
    ) -> None:
        self.address = address
        self.register = register
        self.channel = channel
        self.operation = operation
        where = []
        if channel is not None:
            where.append(f"mux channel {channel}")
        if address is not None:
            where.append(f"address 0x{address:02X}")
        if register is not None:
            where.append(f"register 0x{register:02X}")
        text = f"{operation or 'I2C transfer'} failed"
        if where:
            text += " at " + ", ".join(where)
        text += f": {message}"
        OSError.__init__(self, err if err is not None else _errno.EIO, text)

    @property
    def is_nack(self) -> bool:
        """True when the device did not acknowledge (absent, unpowered, wrong address)."""
        return self.errno in (_errno.EREMOTEIO, _errno.ENXIO)

    @property
    def is_lockup(self) -> bool:
        """True when the bus itself timed out (a device holds SDA or SCL low)."""
        return self.errno == _errno.ETIMEDOUT

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class WiringError(HardwareError):
    """A device is missing or is not not the expected chip; the message says what to check."""


class ConfigurationError(HardwareError):
    """A chip did not accept a configuration (read-back differs) or the request is impossible."""
