"""An smbus2-compatible bus on which emulated chips answer.

Implements the ``smbus2.SMBus`` methods this project uses (``write_byte``,
``read_byte``, ``write_byte_data``, ``read_byte_data``, ``read_i2c_block_data``,
``write_i2c_block_data``, ``i2c_rdwr`` with ``smbus2.i2c_msg``) and fails the way the
Linux i2c-dev driver does: ``OSError(EREMOTEIO)`` when nobody acknowledges an address
(bcm2835), ``OSError(ETIMEDOUT)`` when the bus is held low.

Topology: devices on the root segment always see the traffic; devices behind the
TCA9548A see it only while their channel is connected. Two devices answering the same
address read back as the wired-AND of their bytes (open-drain bus).
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
from collections.abc import Sequence
from typing import Any

from firmware_bridge.clock import Clock
from firmware_bridge.emulation.device import I2CDevice
from firmware_bridge.emulation.tca9548a import EmulatedTCA9548A
from firmware_bridge.i2c_timing import FAST_MODE_HZ, WireTraffic, nack_bits, transfer_bits

I2C_M_RD = 0x0001
I2C_SMBUS_BLOCK_MAX = 32

# one message: (address, is_read, bytes to write | count to read)
Message = tuple[int, bool, bytes | int]


def _oserror(err: int) -> OSError:
    return OSError(err, os.strerror(err))


class EmulatedSMBus:
    """Stand-in for ``smbus2.SMBus(n)``.

    Args:
        bus_hz: SCL frequency used to turn counted bits into bus time.
        clock: emulated clock; with ``advance_clock`` every transfer moves it forward by
            its bus time (so a sampler on the same clock sees realistic read costs).
    """

    def __init__(
        self,
        *,
        bus_hz: float = FAST_MODE_HZ,
        clock: Clock | None = None,
        advance_clock: bool = False,
    ) -> None:
        self.bus_hz = bus_hz
        self.clock = clock
        self.advance_clock = advance_clock
        if advance_clock and not hasattr(clock, "advance_ns"):
            raise ValueError("advance_clock needs a SimulatedClock")
        self.root: dict[int, I2CDevice] = {}
        self.channels: dict[int, dict[int, I2CDevice]] = {c: {} for c in range(8)}
        self.mux: EmulatedTCA9548A | None = None
        self.traffic = WireTraffic()
        self._lockup_all = False
        self._lockup_channel: int | None = None
        self.closed = False

    # ---- topology -------------------------------------------------------------------
    def add_mux(self, mux: EmulatedTCA9548A) -> EmulatedTCA9548A:
        self.mux = mux
        self.root[mux.address] = mux
        return mux

    def attach(self, device: I2CDevice, channel: int | None = None) -> I2CDevice:
        """Put ``device`` on the root segment (``channel=None``) or behind the mux."""
        segment = self.root if channel is None else self.channels[channel]
        if device.address in segment:
            raise ValueError(
                f"address 0x{device.address:02X} already taken on "
                f"{'the root segment' if channel is None else f'channel {channel}'}"
            )
        segment[device.address] = device
        return device

    def _connected_channels(self) -> list[int]:
        if self.mux is None:
            return []
        mask = self.mux.mask
        return [c for c in range(8) if mask >> c & 1]

    def _responders(self, addr: int) -> list[I2CDevice]:
        found = []
        dev = self.root.get(addr)
        if dev is not None:
            found.append(dev)
        for c in self._connected_channels():
            dev = self.channels[c].get(addr)
            if dev is not None:
                found.append(dev)
        return found

    # ---- faults ---------------------------------------------------------------------
    def lock_up(self, channel: int | None = None) -> None:
        """A device holds SDA low: on ``channel`` (bus stuck while it is connected; a
        TCA9548A reset frees it) or on the root segment (``None``: stuck until
        :meth:`release_lockup`)."""
        if channel is None:
            self._lockup_all = True
        else:
            self._lockup_channel = channel

    def release_lockup(self) -> None:
        self._lockup_all = False
        self._lockup_channel = None

    @property
    def locked_up(self) -> bool:
        if self._lockup_all:
            return True
        return self._lockup_channel is not None and self._lockup_channel in (
            self._connected_channels()
        )

    # ---- core -----------------------------------------------------------------------
    def _advance(self, bits: int) -> None:
        self.traffic.bits += bits
        if self.advance_clock:
            self.clock.advance_ns(round(bits * 1e9 / self.bus_hz))  # type: ignore[union-attr]

    def transfer(self, messages: Sequence[Message]) -> list[bytes]:
        """One combined transfer: START, messages separated by Sr, STOP."""
        if self.closed:
            raise _oserror(_errno.EBADF)
        self.traffic.transfers += 1
        if self.locked_up:
            self.traffic.timeouts += 1
            self._advance(nack_bits())
            raise _oserror(_errno.ETIMEDOUT)
        results: list[bytes] = []
        shape: list[tuple[bool, int]] = []
        for addr, is_read, payload in messages:
            devices = self._responders(addr)
            acking = []
            err = _errno.EREMOTEIO
            for dev in devices:
                e = dev.ack()
                if e:
                    err = e
                else:
                    acking.append(dev)
            if not acking:
                self.traffic.nacks += 1
                self._advance(transfer_bits(shape) - 1 + nack_bits() if shape else nack_bits())
                raise _oserror(err)
            self.traffic.messages += 1
            self.traffic.address_bytes += 1
            if is_read:
                n = int(payload)  # type: ignore[arg-type]
                data = acking[0].read(n)
                for dev in acking[1:]:
                    other = dev.read(n)
                    data = bytes(x & y for x, y in zip(data, other, strict=True))
                results.append(data)
                shape.append((True, n))
                self.traffic.data_bytes += n
            else:
                buf = bytes(payload)  # type: ignore[arg-type]
                for dev in acking:
                    dev.write(buf)
                shape.append((False, len(buf)))
                self.traffic.data_bytes += len(buf)
        self._advance(transfer_bits(shape))
        return results

    # ---- smbus2 API -----------------------------------------------------------------
    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        self.transfer([(i2c_addr, False, bytes([value]))])

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        return self.transfer([(i2c_addr, True, 1)])[0][0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self.transfer([(i2c_addr, False, bytes([register, value]))])

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        return self.transfer([(i2c_addr, False, bytes([register])), (i2c_addr, True, 1)])[0][0]

    def read_word_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        data = self.transfer([(i2c_addr, False, bytes([register])), (i2c_addr, True, 2)])[0]
        return data[0] | data[1] << 8

    def write_word_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self.transfer([(i2c_addr, False, bytes([register, value & 0xFF, value >> 8 & 0xFF]))])

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if length > I2C_SMBUS_BLOCK_MAX:
            raise ValueError(f"Desired block length over {I2C_SMBUS_BLOCK_MAX} bytes")
        data = self.transfer([(i2c_addr, False, bytes([register])), (i2c_addr, True, length)])
        return list(data[0])

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        if len(data) > I2C_SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {I2C_SMBUS_BLOCK_MAX} bytes")
        self.transfer([(i2c_addr, False, bytes([register, *data]))])

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        """Combined transfer of ``smbus2.i2c_msg`` objects; read buffers are filled."""
        messages: list[Message] = []
        for m in i2c_msgs:
            if m.flags & I2C_M_RD:
                messages.append((m.addr, True, m.len))
            else:
                messages.append((m.addr, False, ctypes.string_at(m.buf, m.len)))
        results = iter(self.transfer(messages))
        for m in i2c_msgs:
            if m.flags & I2C_M_RD:
                data = next(results)
                ctypes.memmove(m.buf, data, len(data))

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> EmulatedSMBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
