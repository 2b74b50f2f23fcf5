"""What every IMU driver offers (``ImuDriver``) and the shared plumbing (``BaseImuDriver``).

Driver outputs are in the CHIP's axes; :class:`firmware_bridge.sensor_map.Mounting`
turns them into segment axes. Units: acceleration m/s² (specific force, gravity
included), angular rate rad/s, temperature °C.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from firmware_bridge.bus import BurstReader, LockedBus, read_into
from firmware_bridge.errors import WIRING_HINT, BusError, WiringError
from firmware_bridge.registers import STANDARD_GRAVITY
from firmware_bridge.tca9548a import TCA9548A

DEG = math.pi / 180.0


@dataclass(slots=True)
class ImuSample:
    """One instant of one IMU, chip axes: acc (3,) m/s², gyr (3,) rad/s, temperature °C."""

    acc: np.ndarray
    gyr: np.ndarray
    temp_c: float


@dataclass(frozen=True, slots=True)
class ImuConfig:
    """What the chip was actually set to (the nearest supported values)."""

    accel_range_g: int
    gyro_range_dps: int
    odr_hz: float
    dlpf_hz: float
    acc_lsb_m_s2: float  # m/s² per LSB
    gyr_lsb_rad_s: float  # rad/s per LSB
    accel_delay_s: float | None = None  # low-pass group delay per datasheet; None: unpublished
    gyro_delay_s: float | None = None
    delay_source: str = ""  # where the delays come from

    def as_dict(self) -> dict[str, float | str | None]:
        return {
            "accel_range_g": self.accel_range_g,
            "gyro_range_dps": self.gyro_range_dps,
            "odr_hz": self.odr_hz,
            "dlpf_hz": self.dlpf_hz,
            "acc_lsb_m_s2": self.acc_lsb_m_s2,
            "gyr_lsb_rad_s": self.gyr_lsb_rad_s,
            "accel_group_delay_s": self.accel_delay_s,
            "gyro_group_delay_s": self.gyro_delay_s,
            "group_delay_source": self.delay_source,
        }


@dataclass(slots=True)
class SelfTestResult:
    """Built-in self-test: per-axis response (accel, gyro) and the verdict."""

    passed: bool
    accel: list[float]
    gyro: list[float]
    criterion: str
    details: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class ImuDriver(Protocol):
    """The contract the acquisition relies on (both chips implement it)."""

    chip: ClassVar[str]
    address: int
    channel: int | None
    config: ImuConfig | None

    def probe(self) -> int:
        """Read and check WHO_AM_I; raise ``WiringError`` with a wiring hint otherwise."""
        ...

    def reset(self) -> float:
        """Soft-reset the chip; return the seconds to wait before talking to it again."""
        ...

    def configure(
        self,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
        odr_hz: float = 100.0,
        dlpf_hz: float | None = None,
    ) -> ImuConfig:
        """Set ranges, output data rate and low-pass; verify by reading back."""
        ...

    def initialize(self, **config: float | None) -> Iterator[float]:
        """probe → reset → configure as steps; yields the wait (s) before the next step."""
        ...

    def read(self) -> ImuSample:
        """One burst read: accelerometer, gyroscope and temperature of the same instant."""
        ...

    def read_into(self, out: np.ndarray) -> float:
        """Hot path: write acc (m/s²) and gyr (rad/s) into ``out`` (6,); return °C."""
        ...

    def enable_fifo(self) -> None: ...

    def fifo_level(self) -> tuple[int, bool]:
        """FIFO fill (chip units: bytes or words) and whether it overflowed since the last
        call; on an overflow the driver has flushed the FIFO (level 0)."""
        ...

    def read_fifo(self, out: np.ndarray, temps: np.ndarray, level: int | None = None) -> int:
        """Drain up to len(out) samples into ``out`` (K, 6) / ``temps`` (K,); return count."""
        ...

    def verify_state(self) -> str | None:
        """None when WHO_AM_I and the configuration read back as written, else what differs
        (the chip lost its state: re-initialise it). Bus errors raise ``BusError``."""
        ...

    def self_test(self) -> SelfTestResult: ...


class BaseImuDriver:
    """Register access through an optional multiplexer channel, burst decoding, setup.

    Subclasses define the register constants and ``_LAYOUT``: the index of the first
    accelerometer word, the temperature word and the first gyroscope word among the 7
    int16 words of the burst, and ``_DTYPE`` (endianness).
    """

    chip: ClassVar[str] = ""
    WHO_AM_I_REG: ClassVar[int]
    WHO_AM_I_VALUE: ClassVar[int]
    ADDRESSES: ClassVar[tuple[int, ...]]
    BURST_REG: ClassVar[int]
    BURST_LEN: ClassVar[int] = 14
    _DTYPE: ClassVar[str]
    _LAYOUT: ClassVar[tuple[int, int, int]]  # (acc, temp, gyr) word indices

    def __init__(
        self,
        bus: LockedBus,
        address: int | None = None,
        *,
        mux: TCA9548A | None = None,
        channel: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        label: str = "",
    ) -> None:
        self.bus = bus
        self.address = self.ADDRESSES[0] if address is None else address
        if self.address not in self.ADDRESSES:
            raise ValueError(
                f"{self.chip} answers only at "
                + "/".join(f"0x{a:02X}" for a in self.ADDRESSES)
                + f", not 0x{self.address:02X}"
            )
        if (mux is None) != (channel is None):
            raise ValueError("give both mux and channel, or neither")
        self.mux = mux
        self.channel = channel
        self.label = label or f"{self.chip}@{self._where()}"
        self._sleep = sleep
        self.config: ImuConfig | None = None
        self.saturated = False
        self._burst = BurstReader(self.address, self.BURST_REG, self.BURST_LEN)
        raw = np.frombuffer(self._burst.buffer, dtype=self._DTYPE)
        a, t, g = self._LAYOUT
        self._raw = raw
        self._raw_acc = raw[a : a + 3]
        self._raw_gyr = raw[g : g + 3]
        self._temp_index = t
        self._acc_scale = 1.0
        self._gyr_scale = 1.0
        self._fifo_enabled = False
        self.fifo_overflows = 0
        self._expected: list[tuple[int, bytes]] = []  # (register, bytes) verify_state checks

    # ---- plumbing -------------------------------------------------------------------
    def _where(self) -> str:
        ch = "" if self.channel is None else f"ch{self.channel}:"
        return f"{ch}0x{self.address:02X}"

    def _select(self) -> None:
        if self.mux is not None:
            self.mux.select(self.channel)  # type: ignore[arg-type]

    def read_reg(self, reg: int) -> int:
        with self.bus.locked():
            self._select()
            return self.bus.read_byte_data(self.address, reg)

    def write_reg(self, reg: int, value: int) -> None:
        with self.bus.locked():
            self._select()
            self.bus.write_byte_data(self.address, reg, value & 0xFF)

    def read_regs(self, reg: int, n: int) -> bytes:
        """``n`` consecutive registers in one combined transfer (any length)."""
        with self.bus.locked():
            self._select()
            if n <= 32:
                return bytes(self.bus.read_i2c_block_data(self.address, reg, n))
            return read_into(self.bus, self.address, reg, n)

    # ---- identity -------------------------------------------------------------------
    def who_am_i(self) -> int:
        return self.read_reg(self.WHO_AM_I_REG)

    def probe(self) -> int:
        where = self._where()
        try:
            value = self.who_am_i()
        except BusError as exc:
            raise WiringError(
                f"{self.label}: no {self.chip} answers at {where} ({exc}); {WIRING_HINT}"
            ) from exc
        if value != self.WHO_AM_I_VALUE:
            raise WiringError(
                f"{self.label}: WHO_AM_I at {where} reads 0x{value:02X}, a {self.chip} "
                f"reads 0x{self.WHO_AM_I_VALUE:02X}: another chip answers there (wrong chip "
                f"type in the sensor map, or a clone part) or the line is noisy; "
                f"{WIRING_HINT}"
            )
        return value

    # ---- setup ----------------------------------------------------------------------
    def reset(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def configure(
        self,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
        odr_hz: float = 100.0,
        dlpf_hz: float | None = None,
    ) -> ImuConfig:  # pragma: no cover - overridden
        raise NotImplementedError

    def initialize(self, **config: float | None) -> Iterator[float]:  # pragma: no cover
        raise NotImplementedError

    def setup(self, **config: float | None) -> ImuConfig:
        """Blocking probe + reset + configure (sleeps with the injected ``sleep``)."""
        for delay in self.initialize(**config):
            self._sleep(delay)
        assert self.config is not None
        return self.config

    def verify_state(self) -> str | None:
        value = self.who_am_i()
        if value != self.WHO_AM_I_VALUE:
            return f"WHO_AM_I reads 0x{value:02X}, expected 0x{self.WHO_AM_I_VALUE:02X}"
        if self.config is None:
            return "not configured"
        for reg, want in self._expected:
            got = self.read_regs(reg, len(want))
            if got != want:
                return f"register 0x{reg:02X} reads {got.hex()}, wrote {want.hex()}"
        return None

    def _set_scales(self, config: ImuConfig) -> None:
        self.config = config
        self._acc_scale = config.acc_lsb_m_s2
        self._gyr_scale = config.gyr_lsb_rad_s

    # ---- data -----------------------------------------------------------------------
    def _temp_c(self, raw: int) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def read_raw(self) -> np.ndarray:
        """One burst; returns the 7 raw int16 words (a view, overwritten by the next read)."""
        with self.bus.locked():
            self._select()
            self._burst.read(self.bus)
        return self._raw

    def read_into(self, out: np.ndarray) -> float:
        with self.bus.locked():
            self._select()
            self._burst.read(self.bus)
        raw = self._raw
        np.multiply(self._raw_acc, self._acc_scale, out=out[0:3])
        np.multiply(self._raw_gyr, self._gyr_scale, out=out[3:6])
        self.saturated = bool(raw.max() == 32767 or raw.min() == -32768)
        return self._temp_c(int(raw[self._temp_index]))

    def read(self) -> ImuSample:
        out = np.empty(6)
        temp = self.read_into(out)
        return ImuSample(acc=out[:3].copy(), gyr=out[3:].copy(), temp_c=temp)

    def _average_raw(self, n: int, skip: int = 1) -> np.ndarray:
        """Mean raw (acc xyz, gyr xyz) over ``n`` bursts after ``skip`` discarded ones."""
        for _ in range(skip):
            self.read_raw()
        total = np.zeros(6)
        for _ in range(n):
            self.read_raw()
            total[:3] += self._raw_acc
            total[3:] += self._raw_gyr
        return total / n


def g_to_m_s2(lsb_per_g: float) -> float:
    """m/s² per LSB from a sensitivity in LSB/g."""
    return STANDARD_GRAVITY / lsb_per_g


def pick_at_least(options: dict[int, object] | list[float], wanted: float) -> float:
    """The smallest option ≥ ``wanted`` (the largest when none is)."""
    values = sorted(float(v) for v in options)
    for v in values:
        if v >= wanted - 1e-9:
            return v
    return values[-1]
