"""ST LSM6DSOX driver (register map: :mod:`firmware_bridge.registers.lsm6dsox`)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from firmware_bridge.drivers.base import (
    DEG,
    BaseImuDriver,
    ImuConfig,
    SelfTestResult,
    pick_at_least,
)
from firmware_bridge.errors import ConfigurationError
from firmware_bridge.registers import STANDARD_GRAVITY
from firmware_bridge.registers import lsm6dsox as R

_WORD = struct.Struct("<B3h")


class Lsm6dsox(BaseImuDriver):
    """LSM6DSOX: 14-byte little-endian burst from OUT_TEMP_L (temp, gyro, acc), BDU on.

    ``configure`` picks: ranges ±2/4/8/16 g and ±125..2000 dps; the same ODR for both
    sensors, the lowest of 12.5..6664 Hz at or above ``odr_hz``; the accelerometer
    low-pass as ODR/2 (LPF1 only) or LPF2 at ODR/10..ODR/800, the widest not above
    ``dlpf_hz`` (default ODR/2). The gyroscope LPF1 is left off (its bandwidth then
    follows the ODR).
    """

    chip: ClassVar[str] = "lsm6dsox"
    WHO_AM_I_REG = R.WHO_AM_I
    WHO_AM_I_VALUE = R.WHO_AM_I_VALUE
    ADDRESSES = R.ADDRESSES
    BURST_REG = R.BURST_REGISTER
    BURST_LEN = R.BURST_LENGTH
    _DTYPE = "<i2"
    _LAYOUT = (4, 0, 1)

    RESET_POLL_S = 0.001  # SW_RESET completes in ~50 µs; poll a few times
    TURN_ON_S = 0.07  # gyroscope turn-on time (DS: 70 ms typical)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pending: dict[int, np.ndarray] = {}
        self._last_temp_c = float("nan")

    def _temp_c(self, raw: int) -> float:
        return raw / R.TEMP_LSB_PER_C + R.TEMP_OFFSET_C

    def reset(self) -> float:
        self.write_reg(R.CTRL3_C, R.CTRL3_DEFAULT | R.CTRL3_SW_RESET)
        self._fifo_enabled = False
        self.config = None
        return self.RESET_POLL_S

    def initialize(
        self,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
        odr_hz: float = 100.0,
        dlpf_hz: float | None = None,
    ) -> Iterator[float]:
        self.probe()
        yield self.reset()
        for _ in range(10):
            if not self.read_reg(R.CTRL3_C) & R.CTRL3_SW_RESET:
                break
            yield self.RESET_POLL_S
        else:
            raise ConfigurationError(f"{self.label}: SW_RESET did not complete")
        self.configure(accel_range_g, gyro_range_dps, odr_hz, dlpf_hz)
        yield self.TURN_ON_S

    @staticmethod
    def choose(
        accel_range_g: float, gyro_range_dps: float, odr_hz: float, dlpf_hz: float | None
    ) -> tuple[int, int, int, int, ImuConfig]:
        """Register values (CTRL1_XL, CTRL2_G, CTRL8_XL, ODR code) and the config."""
        a_range = int(pick_at_least(R.ACCEL_RANGES, accel_range_g))
        g_range = int(pick_at_least(R.GYRO_RANGES, gyro_range_dps))
        fs_xl, mg_per_lsb = R.ACCEL_RANGES[a_range]
        fs_g, mdps_per_lsb = R.GYRO_RANGES[g_range]
        odr_code = min(R.ODR_CODES, key=lambda c: R.ODR_CODES[c])
        for code in sorted(R.ODR_CODES, key=lambda c: R.ODR_CODES[c]):
            odr_code = code
            if R.ODR_CODES[code] >= odr_hz - 1e-9:
                break
        odr = R.ODR_CODES[odr_code]
        wanted_bw = dlpf_hz if dlpf_hz is not None else odr / 2.0
        divisor = max(R.ACCEL_LPF_DIVISORS)
        for d in sorted(R.ACCEL_LPF_DIVISORS):  # widest bandwidth first
            if odr / d <= wanted_bw + 1e-9:
                divisor = d
                break
        lpf2_en, hpcf = R.ACCEL_LPF_DIVISORS[divisor]
        ctrl1 = (odr_code << 4) | (fs_xl << 2) | (R.CTRL1_LPF2_XL_EN if lpf2_en else 0)
        ctrl2 = (odr_code << 4) | (fs_g << 1)
        ctrl8 = hpcf << 5
        config = ImuConfig(
            accel_range_g=a_range,
            gyro_range_dps=g_range,
            odr_hz=odr,
            dlpf_hz=odr / divisor,
            acc_lsb_m_s2=mg_per_lsb * 1e-3 * STANDARD_GRAVITY,
            gyr_lsb_rad_s=mdps_per_lsb * 1e-3 * DEG,
            delay_source=(
                "not published in DS12814 (no group delay per ODR/LPF setting): "
                "measure it with a step, or leave it null"
            ),
        )
        return ctrl1, ctrl2, ctrl8, odr_code, config

    def configure(
        self,
        accel_range_g: int = 16,
        gyro_range_dps: int = 2000,
        odr_hz: float = 100.0,
        dlpf_hz: float | None = None,
    ) -> ImuConfig:
        ctrl1, ctrl2, ctrl8, _, config = self.choose(accel_range_g, gyro_range_dps, odr_hz, dlpf_hz)
        ctrl3 = R.CTRL3_BDU | R.CTRL3_IF_INC
        with self.bus.locked():
            self.write_reg(R.CTRL3_C, ctrl3)
            self.write_reg(R.CTRL8_XL, ctrl8)
            self.write_reg(R.CTRL1_XL, ctrl1)
            self.write_reg(R.CTRL2_G, ctrl2)
            back = self.read_regs(R.CTRL1_XL, 3)
            back8 = self.read_reg(R.CTRL8_XL)
        if back != bytes([ctrl1, ctrl2, ctrl3]) or back8 != ctrl8:
            raise ConfigurationError(
                f"{self.label}: configuration read back as {back.hex()}/{back8:02x}, wrote "
                f"{bytes([ctrl1, ctrl2, ctrl3]).hex()}/{ctrl8:02x}: the chip did not take it"
            )
        self._set_scales(config)
        self._expected = [(R.CTRL1_XL, bytes([ctrl1, ctrl2, ctrl3])), (R.CTRL8_XL, bytes([ctrl8]))]
        return config

    # ---- FIFO -----------------------------------------------------------------------
    def enable_fifo(self) -> None:
        """Continuous mode; gyro and accel batched at the ODR, temperature at 52 Hz."""
        if self.config is None:
            raise ConfigurationError(f"{self.label}: configure() before enable_fifo()")
        code = next(c for c, hz in R.ODR_CODES.items() if hz == self.config.odr_hz)
        with self.bus.locked():
            self.write_reg(R.FIFO_CTRL4, R.FIFO_MODE_BYPASS)  # clears the FIFO
            self.write_reg(R.FIFO_CTRL3, (code << 4) | code)
            self.write_reg(R.FIFO_CTRL4, R.ODR_T_BATCH_52HZ | R.FIFO_MODE_CONTINUOUS)
        self._pending.clear()
        self._fifo_enabled = True
        self._expected = [
            *self._expected[:2],
            (R.FIFO_CTRL3, bytes([(code << 4) | code])),
            (R.FIFO_CTRL4, bytes([R.ODR_T_BATCH_52HZ | R.FIFO_MODE_CONTINUOUS])),
        ]

    def flush_fifo(self) -> None:
        """Empty the FIFO (bypass, then continuous again)."""
        with self.bus.locked():
            self.write_reg(R.FIFO_CTRL4, R.FIFO_MODE_BYPASS)
            self.write_reg(R.FIFO_CTRL4, R.ODR_T_BATCH_52HZ | R.FIFO_MODE_CONTINUOUS)
        self._pending.clear()

    def fifo_level(self) -> tuple[int, bool]:
        """FIFO words; after an overrun (continuous mode overwrote the oldest words) the
        FIFO is flushed so that the stream restarts on whole samples (level 0, counted in
        ``fifo_overflows``)."""
        status = self.read_regs(R.FIFO_STATUS1, 2)
        if status[1] & R.FIFO_STATUS2_OVR_IA:
            self.fifo_overflows += 1
            self.flush_fifo()
            return 0, True
        return ((status[1] & 0x03) << 8) | status[0], False

    def read_fifo(self, out: np.ndarray, temps: np.ndarray, level: int | None = None) -> int:
        """Pair gyroscope and accelerometer words of the same batch slot (TAG_CNT).

        ``level``: words from :meth:`fifo_level` (read when None). Reads at most
        ``2*len(out)`` data words plus the temperature words among them.
        """
        if level is None:
            level, overflowed = self.fifo_level()
            if overflowed:
                return 0
        words = min(level, 2 * len(out) + 2 * len(out) // 8 + 2)
        if words == 0:
            return 0
        data = self.read_regs(R.FIFO_DATA_OUT_TAG, words * R.FIFO_WORD_BYTES)
        n = 0
        for i in range(words):
            tag_byte, x, y, z = _WORD.unpack_from(data, i * R.FIFO_WORD_BYTES)
            tag = tag_byte >> R.TAG_SHIFT
            cnt = (tag_byte >> 1) & 0x03
            if tag == R.TAG_TEMPERATURE:
                self._last_temp_c = self._temp_c(x)
                continue
            if tag not in (R.TAG_GYRO, R.TAG_ACCEL):
                continue
            slot = self._pending.get(cnt)
            if slot is None:
                slot = np.full(6, np.nan)
                self._pending[cnt] = slot
            if tag == R.TAG_ACCEL:
                slot[0:3] = (x * self._acc_scale, y * self._acc_scale, z * self._acc_scale)
            else:
                slot[3:6] = (x * self._gyr_scale, y * self._gyr_scale, z * self._gyr_scale)
            if not np.isnan(slot).any():
                if n < len(out):
                    out[n] = slot
                    temps[n] = self._last_temp_c
                    n += 1
                del self._pending[cnt]
        return n

    # ---- self-test ------------------------------------------------------------------
    def self_test(self, n_average: int = 5) -> SelfTestResult:
        """Positive-sign self-test at ±4 g / ±2000 dps; |change| within the DS limits.

        The sensor must be still. Restores the previous configuration afterwards.
        """
        previous = self.config
        self.configure(R.SELF_TEST_ACCEL_RANGE_G, R.SELF_TEST_GYRO_RANGE_DPS, 208.0, None)
        self._sleep(0.1)
        off = self._average_raw(n_average)
        self.write_reg(R.CTRL5_C, R.CTRL5_ST_XL_POS | R.CTRL5_ST_G_POS)
        self._sleep(0.1)
        on = self._average_raw(n_average)
        self.write_reg(R.CTRL5_C, 0)
        _, mg_per_lsb = R.ACCEL_RANGES[R.SELF_TEST_ACCEL_RANGE_G]
        _, mdps_per_lsb = R.GYRO_RANGES[R.SELF_TEST_GYRO_RANGE_DPS]
        delta = np.abs(on - off)
        acc_mg = [float(v * mg_per_lsb) for v in delta[:3]]
        gyr_dps = [float(v * mdps_per_lsb * 1e-3) for v in delta[3:]]
        lo_a, hi_a = R.SELF_TEST_ACCEL_MG
        lo_g, hi_g = R.SELF_TEST_GYRO_DPS
        passed = all(lo_a <= v <= hi_a for v in acc_mg) and all(lo_g <= v <= hi_g for v in gyr_dps)
        if previous is not None:
            self.configure(
                previous.accel_range_g, previous.gyro_range_dps, previous.odr_hz, previous.dlpf_hz
            )
        else:
            self.configure()
        return SelfTestResult(
            passed=passed,
            accel=acc_mg,
            gyro=gyr_dps,
            criterion=f"accel change {lo_a:g}..{hi_a:g} mg, gyro change {lo_g:g}..{hi_g:g} dps",
        )
