"""InvenSense MPU-6050 driver (register map: :mod:`firmware_bridge.registers.mpu6050`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from firmware_bridge.drivers.base import (
    DEG,
    BaseImuDriver,
    ImuConfig,
    SelfTestResult,
    g_to_m_s2,
    pick_at_least,
)
from firmware_bridge.errors import ConfigurationError
from firmware_bridge.registers import mpu6050 as R


class Mpu6050(BaseImuDriver):
    """MPU-6050: 14-byte big-endian burst from ACCEL_XOUT_H (acc, temp, gyro).

    ``configure`` picks the nearest supported settings at or above the request:
    ranges ±2/4/8/16 g and ±250/500/1000/2000 dps; the digital low-pass (DLPF_CFG) with
    the largest accelerometer bandwidth not above ``dlpf_hz`` (default: half the output
    rate, anti-aliasing); the sample rate 1 kHz / (1 + SMPLRT_DIV) at or above ``odr_hz``.
    """

    chip: ClassVar[str] = "mpu6050"
    WHO_AM_I_REG = R.WHO_AM_I
    WHO_AM_I_VALUE = R.WHO_AM_I_VALUE
    ADDRESSES = R.ADDRESSES
    BURST_REG = R.ACCEL_XOUT_H
    BURST_LEN = R.BURST_LENGTH
    _DTYPE = ">i2"
    _LAYOUT = (0, 3, 4)

    RESET_WAIT_S = 0.1  # [RM 107/104]: InvenSense reference code waits 100 ms after each reset
    GYRO_STARTUP_S = 0.03  # [PS 6.1] gyroscope start-up time, typical 30 ms

    def _temp_c(self, raw: int) -> float:
        return raw / 340.0 + 36.53

    def reset(self) -> float:
        self.write_reg(R.PWR_MGMT_1, R.PWR1_DEVICE_RESET)
        self._fifo_enabled = False
        self.config = None
        return self.RESET_WAIT_S

    def initialize(
        self,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
        odr_hz: float = 100.0,
        dlpf_hz: float | None = None,
    ) -> Iterator[float]:
        self.probe()
        yield self.reset()
        self.write_reg(R.SIGNAL_PATH_RESET, R.SIGNAL_PATH_RESET_ALL)
        yield self.RESET_WAIT_S
        self.configure(accel_range_g, gyro_range_dps, odr_hz, dlpf_hz)
        yield self.GYRO_STARTUP_S

    @staticmethod
    def choose(
        accel_range_g: float, gyro_range_dps: float, odr_hz: float, dlpf_hz: float | None
    ) -> tuple[int, int, int, int, ImuConfig]:
        """Register codes (AFS_SEL, FS_SEL, DLPF_CFG, SMPLRT_DIV) and the resulting config."""
        a_range = int(pick_at_least(R.ACCEL_RANGES, accel_range_g))
        g_range = int(pick_at_least(R.GYRO_RANGES, gyro_range_dps))
        afs, a_lsb_per_g = R.ACCEL_RANGES[a_range]
        fs, g_lsb_per_dps = R.GYRO_RANGES[g_range]
        wanted_bw = dlpf_hz if dlpf_hz is not None else odr_hz / 2.0
        cfg = max(R.DLPF)  # narrowest as fallback
        for code in sorted(R.DLPF):  # widest first
            if R.DLPF[code][0] <= wanted_bw + 1e-9:
                cfg = code
                break
        if dlpf_hz is None and cfg == 0:
            cfg = 1  # keep the 1 kHz internal rate unless 260 Hz was asked for explicitly
        base = R.gyro_output_rate_hz(cfg)
        div = math.floor(base / odr_hz + 1e-9) - 1
        div = min(max(div, 0), 255)
        config = ImuConfig(
            accel_range_g=a_range,
            gyro_range_dps=g_range,
            odr_hz=base / (1 + div),
            dlpf_hz=R.DLPF[cfg][0],
            acc_lsb_m_s2=g_to_m_s2(a_lsb_per_g),
            gyr_lsb_rad_s=DEG / g_lsb_per_dps,
            accel_delay_s=R.DLPF_DELAY_S[cfg][0],
            gyro_delay_s=R.DLPF_DELAY_S[cfg][1],
            delay_source="RM-MPU-6000A-00 rev 4.2, register 26 (DLPF_CFG table)",
        )
        return afs, fs, cfg, div, config

    def configure(
        self,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
        odr_hz: float = 100.0,
        dlpf_hz: float | None = None,
    ) -> ImuConfig:
        afs, fs, cfg, div, config = self.choose(accel_range_g, gyro_range_dps, odr_hz, dlpf_hz)
        want = bytes([div, cfg, fs << R.FS_SHIFT, afs << R.FS_SHIFT])
        with self.bus.locked():
            self.write_reg(R.PWR_MGMT_1, R.PWR1_CLKSEL_PLL_XGYRO)  # wake, PLL clock
            self.write_reg(R.SMPLRT_DIV, want[0])
            self.write_reg(R.CONFIG, want[1])
            self.write_reg(R.GYRO_CONFIG, want[2])
            self.write_reg(R.ACCEL_CONFIG, want[3])
            back = self.read_regs(R.SMPLRT_DIV, 4)
            pwr = self.read_reg(R.PWR_MGMT_1)
        if back != want or pwr & R.PWR1_SLEEP:
            raise ConfigurationError(
                f"{self.label}: configuration read back as {back.hex()} (PWR_MGMT_1 "
                f"0x{pwr:02X}), wrote {want.hex()}: the chip did not take it (brown-out?)"
            )
        self._set_scales(config)
        self._expected = [(R.SMPLRT_DIV, want), (R.PWR_MGMT_1, bytes([R.PWR1_CLKSEL_PLL_XGYRO]))]
        return config

    # ---- FIFO -----------------------------------------------------------------------
    def enable_fifo(self) -> None:
        """Accel + temperature + gyro into the 1024-byte FIFO, 14 bytes per sample."""
        with self.bus.locked():
            self.write_reg(R.USER_CTRL, R.USER_CTRL_FIFO_RESET)
            self.write_reg(R.FIFO_EN, R.FIFO_EN_ALL_IMU)
            self.write_reg(R.USER_CTRL, R.USER_CTRL_FIFO_EN)
            self.read_reg(R.INT_STATUS)  # clear a stale FIFO_OFLOW_INT
        self._fifo_enabled = True
        self._expected = [
            *self._expected[:2],
            (R.FIFO_EN, bytes([R.FIFO_EN_ALL_IMU])),
            (R.USER_CTRL, bytes([R.USER_CTRL_FIFO_EN])),
        ]

    def reset_fifo(self) -> None:
        self.write_reg(R.USER_CTRL, R.USER_CTRL_FIFO_RESET | R.USER_CTRL_FIFO_EN)

    def fifo_level(self) -> tuple[int, bool]:
        """FIFO bytes; near full, INT_STATUS tells whether it overflowed: the oldest bytes
        are then lost and frames misaligned (1024 is not a multiple of 14), so the FIFO is
        reset (level 0, counted in ``fifo_overflows``)."""
        count = int.from_bytes(self.read_regs(R.FIFO_COUNTH, 2), "big")
        if count > R.FIFO_SIZE - R.BURST_LENGTH:
            status = self.read_reg(R.INT_STATUS)
            if status & R.INT_FIFO_OFLOW or count % R.BURST_LENGTH:
                self.fifo_overflows += 1
                self.reset_fifo()
                return 0, True
        return count, False

    def read_fifo(self, out: np.ndarray, temps: np.ndarray, level: int | None = None) -> int:
        """Drain whole samples (``level``: bytes from :meth:`fifo_level`, read when None;
        an overflowed FIFO is reset and yields 0)."""
        if level is None:
            level, overflowed = self.fifo_level()
            if overflowed:
                return 0
        count = level
        n = min(count // R.BURST_LENGTH, len(out))
        if n == 0:
            return 0
        data = self.read_regs(R.FIFO_R_W, n * R.BURST_LENGTH)
        words = np.frombuffer(data, dtype=">i2").reshape(n, 7)
        np.multiply(words[:, 0:3], self._acc_scale, out=out[:n, 0:3])
        np.multiply(words[:, 4:7], self._gyr_scale, out=out[:n, 3:6])
        np.add(words[:, 3] / 340.0, 36.53, out=temps[:n])
        return n

    # ---- self-test ------------------------------------------------------------------
    def self_test(self, n_average: int = 10) -> SelfTestResult:
        """[RM 13-16]: self-test response (ST on − ST off) vs factory trim, within ±14 %.

        The sensor must be still. Restores the previous configuration afterwards.
        """
        previous = self.config
        self.configure(R.SELF_TEST_ACCEL_RANGE_G, R.SELF_TEST_GYRO_RANGE_DPS, 1000.0, 44.0)
        self._sleep(0.02)
        off = self._average_raw(n_average)
        fs = R.GYRO_RANGES[R.SELF_TEST_GYRO_RANGE_DPS][0]
        afs = R.ACCEL_RANGES[R.SELF_TEST_ACCEL_RANGE_G][0]
        with self.bus.locked():
            self.write_reg(R.GYRO_CONFIG, R.GYRO_ST_XYZ | (fs << R.FS_SHIFT))
            self.write_reg(R.ACCEL_CONFIG, R.ACCEL_ST_XYZ | (afs << R.FS_SHIFT))
        self._sleep(0.02)
        on = self._average_raw(n_average)
        codes = self.read_regs(R.SELF_TEST_X, 4)
        accel_codes, gyro_codes = R.decode_self_test_codes(codes)
        ft = [R.accel_factory_trim(c) for c in accel_codes] + [
            R.gyro_factory_trim(c, i) for i, c in enumerate(gyro_codes)
        ]
        response = on - off
        change = [
            (float(response[i]) - ft[i]) / ft[i] if ft[i] != 0 else math.inf for i in range(6)
        ]
        passed = all(abs(c) <= R.SELF_TEST_TOLERANCE for c in change)
        if previous is not None:
            self.configure(
                previous.accel_range_g, previous.gyro_range_dps, previous.odr_hz, previous.dlpf_hz
            )
        else:
            self.configure()
        names = ["ax", "ay", "az", "gx", "gy", "gz"]
        return SelfTestResult(
            passed=passed,
            accel=[float(v) for v in change[:3]],
            gyro=[float(v) for v in change[3:]],
            criterion="|(response − factory trim) / factory trim| ≤ 14 %",
            details={f"change_{n}": float(c) for n, c in zip(names, change, strict=True)},
        )
