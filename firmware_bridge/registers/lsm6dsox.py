"""STMicroelectronics LSM6DSOX register map.

Reference: [DS] "LSM6DSOX iNEMO inertial module", datasheet DS12814, chapter "Register
description" (each register has its own section, titled "NAME (xxh)"; cited below by
name), mechanical characteristics table (sensitivities), "FIFO" section (7-byte words:
1 tag + 6 data; 3 kbyte = 512 words uncompressed, 9 kbyte with compression). Output
registers are little-endian (low byte at the lower address).
"""

from __future__ import annotations

WHO_AM_I_VALUE = 0x6C  # [DS WHO_AM_I (0Fh)]
ADDRESSES = (0x6A, 0x6B)  # SA0 low / high [DS, I2C operation]

# --- registers [DS, "NAME (xxh)" sections] ---
FUNC_CFG_ACCESS = 0x01
FIFO_CTRL1 = 0x07  # WTM[7:0]
FIFO_CTRL2 = 0x08  # WTM[8] bit 0
FIFO_CTRL3 = 0x09  # BDR_GY[3:0] bits 7:4, BDR_XL[3:0] bits 3:0
FIFO_CTRL4 = 0x0A  # DEC_TS_BATCH 7:6, ODR_T_BATCH 5:4, FIFO_MODE[2:0]
INT1_CTRL = 0x0D
WHO_AM_I = 0x0F
CTRL1_XL = 0x10  # ODR_XL[3:0] 7:4, FS_XL[1:0] 3:2, LPF2_XL_EN 1
CTRL2_G = 0x11  # ODR_G[3:0] 7:4, FS_G[1:0] 3:2, FS_125 1
CTRL3_C = 0x12  # BOOT 7, BDU 6, H_LACTIVE 5, PP_OD 4, SIM 3, IF_INC 2, SW_RESET 0
CTRL4_C = 0x13  # LPF1_SEL_G 1
CTRL5_C = 0x14  # ROUNDING 6:5, ST_G[1:0] 3:2, ST_XL[1:0] 1:0
CTRL6_C = 0x15  # FTYPE[2:0] (gyro LPF1 bandwidth)
CTRL7_G = 0x16
CTRL8_XL = 0x17  # HPCF_XL[2:0] 7:5 (LPF2 cut-off), HP_SLOPE_XL_EN 2
CTRL9_XL = 0x18
CTRL10_C = 0x19  # TIMESTAMP_EN 5
STATUS_REG = 0x1E  # TDA 2, GDA 1, XLDA 0
OUT_TEMP_L = 0x20  # 0x20..0x21
OUTX_L_G = 0x22  # 0x22..0x27
OUTX_L_A = 0x28  # 0x28..0x2D
FIFO_STATUS1 = 0x3A  # DIFF_FIFO[7:0] (words)
FIFO_STATUS2 = 0x3B  # WTM_IA 7, OVR_IA 6, FULL_IA 5, CNT_BDR_IA 4, OVR_LATCHED 3,
#                      DIFF_FIFO[9:8] 1:0
TIMESTAMP0 = 0x40  # 32-bit, 25 µs per LSB
FIFO_DATA_OUT_TAG = 0x78  # TAG_SENSOR[4:0] 7:3, TAG_CNT[1:0] 2:1, TAG_PARITY 0
FIFO_DATA_OUT_X_L = 0x79  # .. 0x7E; a multi-byte read rolls back from 0x7E to 0x78

# --- bits ---
CTRL3_BOOT = 0x80
CTRL3_BDU = 0x40
CTRL3_IF_INC = 0x04
CTRL3_SW_RESET = 0x01
CTRL3_DEFAULT = 0x04  # IF_INC set at power-on
CTRL1_LPF2_XL_EN = 0x02
CTRL2_FS_125 = 0x02
CTRL5_ST_G_POS = 0x04  # ST_G = 01 positive sign self-test
CTRL5_ST_XL_POS = 0x01  # ST_XL = 01 positive sign self-test
FIFO_MODE_BYPASS = 0x00
FIFO_MODE_FIFO = 0x01
FIFO_MODE_CONTINUOUS = 0x06
FIFO_MODE_MASK = 0x07
ODR_T_BATCH_52HZ = 0x30  # FIFO_CTRL4[5:4] = 11: temperature batched at 52 Hz
FIFO_STATUS2_WTM_IA = 0x80
FIFO_STATUS2_OVR_IA = 0x40
FIFO_STATUS2_FULL_IA = 0x20
FIFO_STATUS2_OVR_LATCHED = 0x08

FIFO_WORDS = 512  # uncompressed capacity [DS, FIFO]
FIFO_WORD_BYTES = 7
TAG_GYRO = 0x01  # gyroscope NC [DS FIFO_DATA_OUT_TAG (78h)]
TAG_ACCEL = 0x02  # accelerometer NC
TAG_TEMPERATURE = 0x03
TAG_TIMESTAMP = 0x04
TAG_SHIFT = 3

BURST_REGISTER = OUT_TEMP_L
BURST_LENGTH = 14  # temp(2) gyro(6) accel(6), needs IF_INC (default)

# --- output data rates: code → Hz [DS CTRL1_XL (10h), CTRL2_G (11h)] (same codes for XL and G) ---
ODR_CODES: dict[int, float] = {
    1: 12.5,
    2: 26.0,
    3: 52.0,
    4: 104.0,
    5: 208.0,
    6: 416.0,
    7: 833.0,
    8: 1666.0,
    9: 3332.0,
    10: 6664.0,
}

# --- full scale [DS mechanical characteristics] ---
#: ±g → (FS_XL code, mg per LSB); note code 01 is ±16 g
ACCEL_RANGES: dict[int, tuple[int, float]] = {
    2: (0b00, 0.061),
    4: (0b10, 0.122),
    8: (0b11, 0.244),
    16: (0b01, 0.488),
}
#: ±dps → (CTRL2_G bits 3:1 = FS_G[1:0],FS_125, mdps per LSB)
GYRO_RANGES: dict[int, tuple[int, float]] = {
    125: (0b001, 4.375),
    250: (0b000, 8.75),
    500: (0b010, 17.5),
    1000: (0b100, 35.0),
    2000: (0b110, 70.0),
}

#: Accelerometer low-pass: divisor of ODR → (LPF2_XL_EN, HPCF_XL) [DS CTRL8_XL (17h)].
#: ODR/2 is LPF1 only (LPF2 off).
ACCEL_LPF_DIVISORS: dict[int, tuple[int, int]] = {
    2: (0, 0b000),
    10: (1, 0b001),
    20: (1, 0b010),
    45: (1, 0b011),
    100: (1, 0b100),
    200: (1, 0b101),
    400: (1, 0b110),
    800: (1, 0b111),
}

# --- temperature [DS temperature sensor characteristics]: 256 LSB/°C, 0 LSB at 25 °C ---
TEMP_LSB_PER_C = 256.0
TEMP_OFFSET_C = 25.0


def temp_c_from_raw(raw: int | float) -> float:
    return raw / TEMP_LSB_PER_C + TEMP_OFFSET_C


def temp_raw_from_c(temp_c: float) -> float:
    return (temp_c - TEMP_OFFSET_C) * TEMP_LSB_PER_C


# --- self-test [DS mechanical characteristics, self-test limits]: done at ±4 g and ±2000 dps ---
SELF_TEST_ACCEL_RANGE_G = 4
SELF_TEST_GYRO_RANGE_DPS = 2000
SELF_TEST_ACCEL_MG = (50.0, 1700.0)  # |output change| limits per axis
SELF_TEST_GYRO_DPS = (150.0, 700.0)
