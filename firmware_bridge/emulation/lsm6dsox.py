"""Emulated LSM6DSOX (register map :mod:`firmware_bridge.registers.lsm6dsox`)."""

from __future__ import annotations

import math
import struct

import numpy as np

from firmware_bridge.emulation.imu import EmulatedImu
from firmware_bridge.registers import STANDARD_GRAVITY
from firmware_bridge.registers import lsm6dsox as R

_ACC_MG = {code: mg for code, mg in R.ACCEL_RANGES.values()}
_GYR_MDPS = {code: mdps for code, mdps in R.GYRO_RANGES.values()}
_WORD = struct.Struct("<B3h")


class EmulatedLsm6dsox(EmulatedImu):
    """Register file, little-endian outputs, IF_INC auto-increment, tagged 512-word FIFO
    (bypass / FIFO / continuous), positive self-test of ``self_test_g`` g and
    ``self_test_dps`` °/s on every axis. TAG_PARITY is not emulated (left 0)."""

    chip = "lsm6dsox"
    WHO_AM_I_REG = R.WHO_AM_I
    WHO_AM_I_VALUE = R.WHO_AM_I_VALUE
    DATA_START = R.OUT_TEMP_L
    LAYOUT = (4, 0, 1)
    DTYPE = "<i2"

    def __init__(
        self,
        *args: object,
        self_test_g: float = 0.6,
        self_test_dps: float = 350.0,
        **kwargs: object,
    ) -> None:
        self.self_test_g = self_test_g
        self.self_test_dps = self_test_dps
        self._slot = 0
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def defaults(self) -> dict[int, int]:
        return {R.CTRL3_C: R.CTRL3_DEFAULT}

    def running(self) -> bool:
        return bool(self.regs[R.CTRL1_XL] >> 4) and bool(self.regs[R.CTRL2_G] >> 4)

    def odr_hz(self) -> float:
        return R.ODR_CODES.get(self.regs[R.CTRL2_G] >> 4, 0.0)

    def lsb(self) -> tuple[float, float]:
        fs_xl = (self.regs[R.CTRL1_XL] >> 2) & 0x03
        fs_g = (self.regs[R.CTRL2_G] >> 1) & 0x07
        if fs_g & 0b001:
            fs_g = 0b001  # FS_125 overrides FS_G
        return (
            _ACC_MG[fs_xl] * 1e-3 * STANDARD_GRAVITY,
            _GYR_MDPS[fs_g] * 1e-3 * math.pi / 180.0,
        )

    def temp_raw(self) -> int:
        return int(np.clip(round(R.temp_raw_from_c(self.temp_c)), -32768, 32767))

    def self_test_offset(self) -> np.ndarray | None:
        ctrl5 = self.regs[R.CTRL5_C]
        st_xl = ctrl5 & 0x03
        st_g = (ctrl5 >> 2) & 0x03
        if not (st_xl or st_g):
            return None
        acc_lsb, gyr_lsb = self.lsb()
        out = np.zeros(6)
        sign = {0: 0.0, 1: 1.0, 2: -1.0, 3: 0.0}
        out[:3] = sign[st_xl] * self.self_test_g * STANDARD_GRAVITY / acc_lsb
        out[3:] = sign[st_g] * self.self_test_dps * math.pi / 180.0 / gyr_lsb
        return out

    # ---- FIFO -----------------------------------------------------------------------
    def _fifo_mode(self) -> int:
        return self.regs[R.FIFO_CTRL4] & R.FIFO_MODE_MASK

    def fifo_capacity_samples(self) -> int:
        return R.FIFO_WORDS // 2 + 2

    def _put(self, word: bytes) -> bool:
        if len(self.fifo) >= R.FIFO_WORDS:
            if self._fifo_mode() == R.FIFO_MODE_FIFO:
                return False  # FIFO mode stops when full
            self.fifo.popleft()
            self.fifo_overflowed = True
        self.fifo.append(word)
        return True

    def fifo_push(self, words: np.ndarray) -> None:
        mode = self._fifo_mode()
        if mode == R.FIFO_MODE_BYPASS:
            return
        bdr = self.regs[R.FIFO_CTRL3]
        cnt = self._slot & 0x03
        a, t, g = self.LAYOUT
        if bdr >> 4:
            tag = (R.TAG_GYRO << R.TAG_SHIFT) | (cnt << 1)
            self._put(_WORD.pack(tag, *(int(v) for v in words[g : g + 3])))
        if bdr & 0x0F:
            tag = (R.TAG_ACCEL << R.TAG_SHIFT) | (cnt << 1)
            self._put(_WORD.pack(tag, *(int(v) for v in words[a : a + 3])))
        if self.regs[R.FIFO_CTRL4] & R.ODR_T_BATCH_52HZ == R.ODR_T_BATCH_52HZ:
            every = max(1, round(self.odr_hz() / 52.0))
            if self._slot % every == 0:
                tag = (R.TAG_TEMPERATURE << R.TAG_SHIFT) | (cnt << 1)
                self._put(_WORD.pack(tag, int(words[t]), 0, 0))
        self._slot += 1

    def _pop_word(self) -> None:
        word = self.fifo.popleft() if self.fifo else bytes(R.FIFO_WORD_BYTES)
        self.regs[R.FIFO_DATA_OUT_TAG : R.FIFO_DATA_OUT_TAG + R.FIFO_WORD_BYTES] = word

    # ---- registers ------------------------------------------------------------------
    def next_pointer(self, reg: int) -> int:
        if not self.regs[R.CTRL3_C] & R.CTRL3_IF_INC:
            return reg
        if reg == R.FIFO_DATA_OUT_TAG + R.FIFO_WORD_BYTES - 1:
            return R.FIFO_DATA_OUT_TAG  # roll-back: read words back to back
        return (reg + 1) & 0xFF

    def write_register(self, reg: int, value: int) -> None:
        if reg == R.CTRL3_C and value & (R.CTRL3_SW_RESET | R.CTRL3_BOOT):
            self.power_on_reset()
            return
        if reg == R.FIFO_CTRL4 and value & R.FIFO_MODE_MASK == R.FIFO_MODE_BYPASS:
            self.fifo_clear()
        if self.in_output_block(reg) or reg in (
            R.WHO_AM_I,
            R.STATUS_REG,
            R.FIFO_STATUS1,
            R.FIFO_STATUS2,
        ):
            return
        self.regs[reg] = value

    def read_register(self, reg: int) -> int:
        if reg == R.FIFO_STATUS1:
            return len(self.fifo) & 0xFF
        if reg == R.FIFO_STATUS2:
            n = len(self.fifo)
            value = (n >> 8) & 0x03
            if self.fifo_overflowed:
                value |= R.FIFO_STATUS2_OVR_IA | R.FIFO_STATUS2_OVR_LATCHED
                self.fifo_overflowed = False
            if n >= R.FIFO_WORDS:
                value |= R.FIFO_STATUS2_FULL_IA
            return value
        if reg == R.FIFO_DATA_OUT_TAG:
            self._pop_word()
        if reg == R.STATUS_REG:
            return 0x07 if self.running() else 0x00
        return super().read_register(reg)
