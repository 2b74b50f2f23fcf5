"""Emulated MPU-6050 (register map :mod:`firmware_bridge.registers.mpu6050`)."""

from __future__ import annotations

import math

import numpy as np

from firmware_bridge.emulation.imu import EmulatedImu
from firmware_bridge.registers import STANDARD_GRAVITY
from firmware_bridge.registers import mpu6050 as R

_ACC_LSB_PER_G = {code: lsb for code, lsb in R.ACCEL_RANGES.values()}
_GYR_LSB_PER_DPS = {code: lsb for code, lsb in R.GYRO_RANGES.values()}
_FIFO_SOURCES = (  # FIFO_EN bit → word indices of the 7-word sample, in register order
    (R.FIFO_EN_ACCEL, (0, 1, 2)),
    (R.FIFO_EN_TEMP, (3,)),
    (R.FIFO_EN_XG, (4,)),
    (R.FIFO_EN_YG, (5,)),
    (R.FIFO_EN_ZG, (6,)),
)


class EmulatedMpu6050(EmulatedImu):
    """Register file, big-endian outputs, 1024-byte FIFO (byte-granular overflow, like the
    part: the oldest bytes are lost and sample frames lose alignment), factory trims for
    the self-test (response = trim × (1 + ``self_test_deviation``))."""

    chip = "mpu6050"
    WHO_AM_I_REG = R.WHO_AM_I
    WHO_AM_I_VALUE = R.WHO_AM_I_VALUE
    DATA_START = R.ACCEL_XOUT_H
    LAYOUT = (0, 3, 4)
    DTYPE = ">i2"

    def __init__(
        self,
        *args: object,
        trim_codes: tuple[list[int], list[int]] = ([16, 17, 18], [14, 15, 16]),
        self_test_deviation: float = 0.03,
        **kwargs: object,
    ) -> None:
        self.trim_codes = trim_codes
        self.self_test_deviation = self_test_deviation
        self._fifo_bytes = bytearray()
        self._last_fifo_byte = 0
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def defaults(self) -> dict[int, int]:
        st = R.encode_self_test_codes(*self.trim_codes)
        return {
            R.PWR_MGMT_1: R.PWR1_SLEEP,
            R.SELF_TEST_X: st[0],
            R.SELF_TEST_Y: st[1],
            R.SELF_TEST_Z: st[2],
            R.SELF_TEST_A: st[3],
        }

    def running(self) -> bool:
        return not self.regs[R.PWR_MGMT_1] & R.PWR1_SLEEP

    def odr_hz(self) -> float:
        cfg = self.regs[R.CONFIG] & 0x07
        return R.gyro_output_rate_hz(cfg) / (1 + self.regs[R.SMPLRT_DIV])

    def lsb(self) -> tuple[float, float]:
        afs = (self.regs[R.ACCEL_CONFIG] & R.FS_MASK) >> R.FS_SHIFT
        fs = (self.regs[R.GYRO_CONFIG] & R.FS_MASK) >> R.FS_SHIFT
        return (
            STANDARD_GRAVITY / _ACC_LSB_PER_G[afs],
            math.pi / 180.0 / _GYR_LSB_PER_DPS[fs],
        )

    def temp_raw(self) -> int:
        return int(np.clip(round(R.temp_raw_from_c(self.temp_c)), -32768, 32767))

    def self_test_offset(self) -> np.ndarray | None:
        g_on = self.regs[R.GYRO_CONFIG] & R.GYRO_ST_XYZ
        a_on = self.regs[R.ACCEL_CONFIG] & R.ACCEL_ST_XYZ
        if not (g_on or a_on):
            return None
        afs = (self.regs[R.ACCEL_CONFIG] & R.FS_MASK) >> R.FS_SHIFT
        fs = (self.regs[R.GYRO_CONFIG] & R.FS_MASK) >> R.FS_SHIFT
        k = 1.0 + self.self_test_deviation
        out = np.zeros(6)
        accel_codes, gyro_codes = self.trim_codes
        if a_on:  # trims are LSB at ±8 g (4096 LSB/g)
            for i, c in enumerate(accel_codes):
                out[i] = R.accel_factory_trim(c) / 4096.0 * _ACC_LSB_PER_G[afs] * k
        if g_on:  # trims are LSB at ±250 dps (131 LSB/dps)
            for i, c in enumerate(gyro_codes):
                out[3 + i] = R.gyro_factory_trim(c, i) / 131.0 * _GYR_LSB_PER_DPS[fs] * k
        return out

    # ---- FIFO -----------------------------------------------------------------------
    def fifo_clear(self) -> None:
        super().fifo_clear()
        if hasattr(self, "_fifo_bytes"):
            self._fifo_bytes.clear()

    def fifo_capacity_samples(self) -> int:
        return R.FIFO_SIZE // 6 + 2  # enough to overflow whatever is enabled

    def fifo_push(self, words: np.ndarray) -> None:
        if not self.regs[R.USER_CTRL] & R.USER_CTRL_FIFO_EN:
            return
        enabled = self.regs[R.FIFO_EN]
        raw = words.astype(">i2")
        frame = b"".join(raw[list(idx)].tobytes() for bit, idx in _FIFO_SOURCES if enabled & bit)
        if not frame:
            return
        self._fifo_bytes += frame
        overflow = len(self._fifo_bytes) - R.FIFO_SIZE
        if overflow > 0:
            del self._fifo_bytes[:overflow]
            self.fifo_overflowed = True
            self.regs[R.INT_STATUS] |= R.INT_FIFO_OFLOW

    # ---- registers ------------------------------------------------------------------
    def read(self, n: int) -> bytes:
        if self.pointer != R.FIFO_R_W:
            return super().read(n)
        self.before_read(self.pointer)  # FIFO_R_W does not auto-increment: pop n bytes
        data = bytes(self._fifo_bytes[:n])
        del self._fifo_bytes[:n]
        if data:
            self._last_fifo_byte = data[-1]
        return data + bytes([self._last_fifo_byte]) * (n - len(data))

    def next_pointer(self, reg: int) -> int:
        return reg if reg == R.FIFO_R_W else (reg + 1) & 0xFF

    def write_register(self, reg: int, value: int) -> None:
        if reg == R.PWR_MGMT_1 and value & R.PWR1_DEVICE_RESET:
            self.power_on_reset()
            return
        if reg == R.USER_CTRL and value & R.USER_CTRL_FIFO_RESET:
            self.fifo_clear()
            value &= ~R.USER_CTRL_FIFO_RESET
        if reg == R.SIGNAL_PATH_RESET:
            self.regs[R.ACCEL_XOUT_H : R.ACCEL_XOUT_H + 14] = bytes(14)
            return
        if self.in_output_block(reg) or reg in (R.WHO_AM_I, R.INT_STATUS):
            return  # read-only
        self.regs[reg] = value

    def read_register(self, reg: int) -> int:
        if reg == R.FIFO_R_W:
            if self._fifo_bytes:
                self._last_fifo_byte = self._fifo_bytes.pop(0)
            return self._last_fifo_byte
        if reg == R.FIFO_COUNTH:
            return (len(self._fifo_bytes) >> 8) & 0xFF
        if reg == R.FIFO_COUNTL:
            return len(self._fifo_bytes) & 0xFF
        if reg == R.INT_STATUS:
            value = self.regs[R.INT_STATUS]
            self.regs[R.INT_STATUS] = 0
            return value
        return super().read_register(reg)
