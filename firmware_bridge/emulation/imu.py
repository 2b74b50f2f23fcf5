"""What both emulated IMU chips share: replay → chip axes → raw registers, FIFO, faults.

The sensor model follows imusim's chain: the true segment-axis value is turned into chip
axes (inverse of the mounting), the optional :class:`ImuNoise` is added, then the ADC
rounds to the nearest LSB of the configured range and saturates at the int16 limits.

When does a new sample appear in the output registers (``advance``)?

- ``"per_read"``: each read message starting inside the output block latches the next
  replay row (deterministic; what the 1-LSB acceptance test uses).
- ``"clock"``: the chip samples at its configured ODR on the emulated clock; the output
  registers hold the latest sample and the FIFO receives every sample.
- ``"hold"``: always the same row (a still sensor; self-test, probe).

Powered-down chips (MPU-6050 SLEEP, LSM6DSOX ODR = 0) and stuck chips keep their last
register values, like the real parts.
"""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar, Literal

import numpy as np

from firmware_bridge.clock import Clock
from firmware_bridge.emulation.device import RegisterDevice
from firmware_bridge.emulation.replay import ImuNoise, ReplaySource
from firmware_bridge.sensor_map import Mounting

Advance = Literal["per_read", "clock", "hold"]


class EmulatedImu(RegisterDevice):
    """Base class; subclasses give the register map and the chip's rules.

    Args:
        address: 7-bit address.
        source: replayed data (None: a chip that reads zeros, e.g. for probing).
        sensor: name of the column group in ``source`` this chip replays.
        mounting: how the chip sits on the segment (``segment = M @ chip``).
        advance: see module docstring.
        clock: emulated time (needed for ``advance="clock"``).
        temp_c: die temperature reported.
        noise: optional bias/noise added before quantisation.
        seed: noise seed.
        hold_row: the row shown when ``advance="hold"``.
        clock_ppm: the chip oscillator's error (ppm, + runs fast): with ``advance="clock"``
            the chip samples every ``1 / (odr · (1 + ppm·1e-6))`` s of the emulated clock.
    """

    chip: ClassVar[str] = ""
    WHO_AM_I_REG: ClassVar[int]
    WHO_AM_I_VALUE: ClassVar[int]
    DATA_START: ClassVar[int]
    DATA_LEN: ClassVar[int] = 14
    LAYOUT: ClassVar[tuple[int, int, int]]  # word index of acc x, temperature, gyr x
    DTYPE: ClassVar[str]

    def __init__(
        self,
        address: int,
        source: ReplaySource | None = None,
        sensor: str | None = None,
        mounting: Mounting | None = None,
        *,
        advance: Advance = "per_read",
        clock: Clock | None = None,
        temp_c: float = 31.0,
        noise: ImuNoise | None = None,
        seed: int = 0,
        hold_row: int = 0,
        clock_ppm: float = 0.0,
    ) -> None:
        super().__init__(address)
        if advance not in ("per_read", "clock", "hold"):
            raise ValueError(f"advance must be per_read, clock or hold, not {advance!r}")
        if advance == "clock" and clock is None:
            raise ValueError("advance='clock' needs a clock")
        self.source = source
        self.column = source.index(sensor) if (source is not None and sensor) else 0
        self.sensor = sensor or ""
        self.mounting = mounting or Mounting(("x", "y", "z"))
        self.advance = advance
        self.clock = clock
        self.temp_c = float(temp_c)
        self.noise = noise
        self.seed = seed
        self.hold_row = hold_row
        self.clock_ppm = float(clock_ppm)
        # chip-axis SI values of every replay row (+ noise), computed once
        if source is not None:
            chip_si = self.mounting.to_chip(source.imu[:, self.column, :])
            if noise is not None:
                chip_si = chip_si + noise.table(source.n_rows, seed)
        else:
            chip_si = np.zeros((1, 6))
        self._chip_si = chip_si
        self._table_key: tuple[float, float] | None = None
        self._table = np.zeros((len(chip_si), 7), dtype=np.int16)
        # fault state
        self.stuck = False
        self.who_am_i_override: int | None = None
        self.self_test_broken = False
        # sample bookkeeping
        self.reads = 0  # per_read: latched samples so far
        self.current_row = -1  # row now in the output registers
        self.fifo: deque[bytes] = deque()
        self.fifo_overflowed = False
        self.samples_dropped = 0
        self._t_start: int | None = None
        self._k = -1
        self._odr = 0.0
        self.power_on_reset()

    # ---- chip-specific hooks --------------------------------------------------------
    def defaults(self) -> dict[int, int]:  # pragma: no cover - overridden
        """Power-on register values that are not zero."""
        raise NotImplementedError

    def running(self) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def odr_hz(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def lsb(self) -> tuple[float, float]:  # pragma: no cover - overridden
        """(m/s² per LSB, rad/s per LSB) at the configured ranges."""
        raise NotImplementedError

    def temp_raw(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def self_test_offset(self) -> np.ndarray | None:
        """Raw LSB added to (acc xyz, gyr xyz) while self-test is on; None when off."""
        return None

    def fifo_push(self, words: np.ndarray) -> None:
        """Store one sample (7 raw words, chip layout) in the FIFO if enabled."""

    def fifo_clear(self) -> None:
        self.fifo.clear()
        self.fifo_overflowed = False

    # ---- state ----------------------------------------------------------------------
    def power_on_reset(self) -> None:
        self.regs = bytearray(256)
        for reg, value in self.defaults().items():
            self.regs[reg] = value
        self.pointer = 0
        self.fifo_clear()
        self._t_start = None
        self._k = -1

    def brownout(self) -> None:
        """Supply dip without losing the bus: registers silently back to power-on."""
        self.power_on_reset()

    def stick(self, stuck: bool = True) -> None:
        """Freeze the output registers (the chip still answers)."""
        self.stuck = stuck

    def set_who_am_i(self, value: int | None) -> None:
        """Report another WHO_AM_I (a different or counterfeit chip); None restores it."""
        self.who_am_i_override = value

    def break_self_test(self, broken: bool = True) -> None:
        """The self-test actuation no longer moves the proof mass (damaged MEMS)."""
        self.self_test_broken = broken

    def clear_faults(self) -> None:
        super().clear_faults()
        self.stuck = False
        self.who_am_i_override = None
        self.self_test_broken = False

    # ---- sampling -------------------------------------------------------------------
    def _raw_table(self) -> np.ndarray:
        acc_lsb, gyr_lsb = self.lsb()
        key = (acc_lsb, gyr_lsb)
        if key != self._table_key:
            a, _, g = self.LAYOUT
            scaled = np.empty_like(self._chip_si)
            scaled[:, :3] = self._chip_si[:, :3] / acc_lsb
            scaled[:, 3:] = self._chip_si[:, 3:] / gyr_lsb
            raw = np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)
            table = np.zeros((len(raw), 7), dtype=np.int16)
            table[:, a : a + 3] = raw[:, :3]
            table[:, g : g + 3] = raw[:, 3:]
            self._table = table
            self._table_key = key
        self._table[:, self.LAYOUT[1]] = self.temp_raw()
        return self._table

    def _row(self, k: int) -> int:
        if self.source is None:
            return 0
        if self.advance == "hold":
            return self.source.row(self.hold_row)
        if self.advance == "per_read":
            return self.source.row(k)
        return self.source.row_at_time(k / self.odr_hz())

    def _words(self, row: int) -> np.ndarray:
        words = self._raw_table()[row].astype(np.int32)
        offset = self.self_test_offset()
        if offset is not None and not self.self_test_broken:
            a, _, g = self.LAYOUT
            words[a : a + 3] += np.rint(offset[:3]).astype(np.int32)
            words[g : g + 3] += np.rint(offset[3:]).astype(np.int32)
        return np.clip(words, -32768, 32767).astype(self.DTYPE)

    def _latch(self, row: int) -> None:
        if self.stuck or not self.running():
            return
        data = self._words(row).tobytes()
        self.regs[self.DATA_START : self.DATA_START + self.DATA_LEN] = data
        self.current_row = row

    def sync(self) -> None:
        """Bring the chip up to the emulated clock: new samples, FIFO fill."""
        if self.advance != "clock" or self.clock is None:
            return
        now = self.clock.monotonic_ns()
        if not self.running():
            self._t_start = None
            return
        odr = self.odr_hz() * (1.0 + self.clock_ppm * 1e-6)
        if self._t_start is None or odr != self._odr:  # (re)started or a new output rate:
            self._t_start = now  # the sample timeline starts again (sample 0 now)
            self._k = -1
            self._odr = odr
        k_now = int((now - self._t_start) * odr // 1_000_000_000)
        if k_now <= self._k:
            return
        first = self._k + 1
        cap = self.fifo_capacity_samples()
        if k_now - first + 1 > cap:
            self.samples_dropped += k_now - first + 1 - cap
            first = k_now - cap + 1
        if not self.stuck:
            for k in range(first, k_now + 1):
                self.fifo_push(self._words(self._row(k)))
        self._latch(self._row(k_now))
        self._k = k_now

    def fifo_capacity_samples(self) -> int:
        return 1 << 30

    @property
    def samples_produced(self) -> int:
        """Samples the chip has taken since it last started (``advance="clock"``)."""
        return self._k + 1

    def sample_time_ns(self, k: int) -> int | None:
        """Emulated-clock time at which sample ``k`` (0 = first since start) was taken."""
        if self._t_start is None:
            return None
        odr = self.odr_hz() * (1.0 + self.clock_ppm * 1e-6)
        return self._t_start + math.ceil(k * 1e9 / odr)

    def in_output_block(self, reg: int) -> bool:
        return self.DATA_START <= reg < self.DATA_START + self.DATA_LEN

    def before_read(self, start: int) -> None:
        if self.advance == "clock":
            self.sync()
        elif self.in_output_block(start):
            if self.advance == "per_read":
                self._latch(self._row(self.reads))
                self.reads += 1
            else:
                self._latch(self._row(0))

    def write(self, data: bytes) -> None:
        if self.advance == "clock":
            self.sync()
        super().write(data)
        if self.advance == "clock":
            self.sync()  # a configuration write may have started the sensor

    def read_register(self, reg: int) -> int:
        if reg == self.WHO_AM_I_REG:
            return self.WHO_AM_I_VALUE if self.who_am_i_override is None else self.who_am_i_override
        return self.regs[reg]
