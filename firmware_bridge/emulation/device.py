"""Emulated I2C devices: the bus-facing base class, register files and fault injection."""

from __future__ import annotations

import errno as _errno

import numpy as np


class I2CDevice:
    """Something that answers at a 7-bit address on an emulated bus.

    The bus calls :meth:`ack` at each address phase, then :meth:`write` with a write
    message's bytes or :meth:`read` for a read message.
    """

    def __init__(self, address: int) -> None:
        self.address = address
        self._nack_left = 0  # >0: NACK that many address phases; -1: forever
        self._nack_errno = _errno.EREMOTEIO
        self._error_rate = 0.0
        self._rng = np.random.default_rng(0)
        self.present = True

    # ---- fault injection ------------------------------------------------------------
    def inject_nack(self, count: int | None = 1, err: int = _errno.EREMOTEIO) -> None:
        """NACK the next ``count`` transfers (``None``: until :meth:`clear_faults`).

        ``err`` is what the Linux driver reports: ``EREMOTEIO`` (bcm2835), ``ENXIO``,
        or ``EIO`` for a generic failure.
        """
        self._nack_left = -1 if count is None else int(count)
        self._nack_errno = err

    def set_error_rate(self, probability: float, seed: int = 0, err: int = _errno.EIO) -> None:
        """Fail each transfer with ``probability`` (a loose, noisy cable)."""
        self._error_rate = float(probability)
        self._rng = np.random.default_rng(seed)
        self._nack_errno = err

    def vanish(self) -> None:
        """The device loses power or its cable: it stops answering."""
        self.present = False

    def reappear(self) -> None:
        """Power comes back: the device answers again, in its power-on state."""
        self.present = True
        self.power_on_reset()

    def clear_faults(self) -> None:
        self._nack_left = 0
        self._error_rate = 0.0
        self.present = True

    def power_on_reset(self) -> None:
        """Registers to their power-on values (overridden by chips)."""

    # ---- bus side -------------------------------------------------------------------
    def ack(self) -> int:
        """0 when the address phase is acknowledged, else the errno the host sees."""
        if not self.present:
            return _errno.EREMOTEIO
        if self._nack_left:
            if self._nack_left > 0:
                self._nack_left -= 1
            return self._nack_errno
        if self._error_rate and self._rng.random() < self._error_rate:
            return self._nack_errno
        return 0

    def write(self, data: bytes) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def read(self, n: int) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError


class RegisterDevice(I2CDevice):
    """A device with an 8-bit register pointer: ``[reg, data...]`` writes, reads from the
    pointer on, with the chip's auto-increment rule (:meth:`next_pointer`)."""

    def __init__(self, address: int) -> None:
        super().__init__(address)
        self.regs = bytearray(256)
        self.pointer = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0]
        for value in data[1:]:
            self.write_register(self.pointer, value)
            self.pointer = self.next_pointer(self.pointer)

    def read(self, n: int) -> bytes:
        self.before_read(self.pointer)
        out = bytearray(n)
        for i in range(n):
            out[i] = self.read_register(self.pointer)
            self.pointer = self.next_pointer(self.pointer)
        return bytes(out)

    # hooks
    def before_read(self, start: int) -> None:
        """Called once per read message with the starting register."""

    def next_pointer(self, reg: int) -> int:
        return (reg + 1) & 0xFF

    def write_register(self, reg: int, value: int) -> None:
        self.regs[reg] = value

    def read_register(self, reg: int) -> int:
        return self.regs[reg]
