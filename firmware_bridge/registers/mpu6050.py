"""InvenSense/TDK MPU-6050 register map.

References:
- [RM] "MPU-6000 and MPU-6050 Register Map and Descriptions", RM-MPU-6000A-00 rev 4.2.
- [PS] "MPU-6000 and MPU-6050 Product Specification", PS-MPU-6000A-00 rev 3.4.
Sections of [RM] are titled by decimal register number ("Register 26 – Configuration");
the comments below cite them that way. Measurement registers are big-endian (high byte
at the lower address).
"""

from __future__ import annotations

import math

WHO_AM_I_VALUE = 0x68  # [RM Register 117]: bits 6:1 = 0b110100, AD0 not reflected
ADDRESSES = (0x68, 0x69)  # AD0 low / high [PS, I2C interface]

# --- registers ([RM] decimal register number in brackets) ---
SELF_TEST_X = 0x0D  # [13] XA_TEST[4:2] (bits 7:5), XG_TEST[4:0]
SELF_TEST_Y = 0x0E
SELF_TEST_Z = 0x0F
SELF_TEST_A = 0x10  # [16] XA_TEST[1:0] bits 5:4, YA_TEST[1:0] 3:2, ZA_TEST[1:0] 1:0
SMPLRT_DIV = 0x19  # [25] sample rate = gyro output rate / (1 + SMPLRT_DIV)
CONFIG = 0x1A  # [26] EXT_SYNC_SET[5:3], DLPF_CFG[2:0]
GYRO_CONFIG = 0x1B  # [27] XG_ST 7, YG_ST 6, ZG_ST 5, FS_SEL[4:3]
ACCEL_CONFIG = 0x1C  # [28] XA_ST 7, YA_ST 6, ZA_ST 5, AFS_SEL[4:3]
FIFO_EN = 0x23  # [35]
INT_PIN_CFG = 0x37  # [55]
INT_ENABLE = 0x38  # [56]
INT_STATUS = 0x3A  # [58] cleared on read
ACCEL_XOUT_H = 0x3B  # [59-64] ACCEL_XOUT_H..ACCEL_ZOUT_L 0x3B..0x40
TEMP_OUT_H = 0x41  # [65-66]
GYRO_XOUT_H = 0x43  # [67-72]
SIGNAL_PATH_RESET = 0x68  # [104] GYRO_RESET 2, ACCEL_RESET 1, TEMP_RESET 0
USER_CTRL = 0x6A  # [106]
PWR_MGMT_1 = 0x6B  # [107] reset value 0x40 (SLEEP)
PWR_MGMT_2 = 0x6C  # [108]
FIFO_COUNTH = 0x72  # [114-115] FIFO_COUNT[15:8], big-endian with FIFO_COUNTL
FIFO_COUNTL = 0x73
FIFO_R_W = 0x74  # [116] reads pop the FIFO; the address does not auto-increment
WHO_AM_I = 0x75  # [117]

# --- bits ---
PWR1_DEVICE_RESET = 0x80
PWR1_SLEEP = 0x40
PWR1_CLKSEL_PLL_XGYRO = 0x01  # [107] recommended clock source
SIGNAL_PATH_RESET_ALL = 0x07
USER_CTRL_FIFO_EN = 0x40
USER_CTRL_FIFO_RESET = 0x04
USER_CTRL_SIG_COND_RESET = 0x01
FIFO_EN_TEMP = 0x80
FIFO_EN_XG = 0x40
FIFO_EN_YG = 0x20
FIFO_EN_ZG = 0x10
FIFO_EN_ACCEL = 0x08
FIFO_EN_ALL_IMU = FIFO_EN_TEMP | FIFO_EN_XG | FIFO_EN_YG | FIFO_EN_ZG | FIFO_EN_ACCEL
INT_FIFO_OFLOW = 0x10
INT_DATA_RDY = 0x01
GYRO_ST_XYZ = 0xE0
ACCEL_ST_XYZ = 0xE0
FS_SHIFT = 3
FS_MASK = 0x18

FIFO_SIZE = 1024  # bytes [PS, FIFO]
BURST_LENGTH = 14  # accel(6) temp(2) gyro(6) from ACCEL_XOUT_H

# --- full-scale ranges and sensitivities [PS, Tables 6.1 and 6.2] ---
#: ±g → (AFS_SEL code, LSB per g)
ACCEL_RANGES: dict[int, tuple[int, float]] = {
    2: (0, 16384.0),
    4: (1, 8192.0),
    8: (2, 4096.0),
    16: (3, 2048.0),
}
#: ±dps → (FS_SEL code, LSB per °/s)
GYRO_RANGES: dict[int, tuple[int, float]] = {
    250: (0, 131.0),
    500: (1, 65.5),
    1000: (2, 32.8),
    2000: (3, 16.4),
}

#: DLPF_CFG → (accelerometer bandwidth Hz, gyroscope bandwidth Hz) [RM 26];
#: code 0 (260 Hz) runs the gyroscope at 8 kHz, codes 1..6 at 1 kHz.
DLPF: dict[int, tuple[float, float]] = {
    0: (260.0, 256.0),
    1: (184.0, 188.0),
    2: (94.0, 98.0),
    3: (44.0, 42.0),
    4: (21.0, 20.0),
    5: (10.0, 10.0),
    6: (5.0, 5.0),
}


#: DLPF_CFG → (accelerometer delay s, gyroscope delay s) [RM 26, the same table].
DLPF_DELAY_S: dict[int, tuple[float, float]] = {
    0: (0.0, 0.00098),
    1: (0.0020, 0.0019),
    2: (0.0030, 0.0028),
    3: (0.0049, 0.0048),
    4: (0.0085, 0.0083),
    5: (0.0138, 0.0134),
    6: (0.0190, 0.0186),
}


def gyro_output_rate_hz(dlpf_cfg: int) -> float:
    """Gyroscope output rate before SMPLRT_DIV [RM 25]."""
    return 8000.0 if dlpf_cfg in (0, 7) else 1000.0


def temp_c_from_raw(raw: int | float) -> float:
    """Temperature in °C = TEMP_OUT / 340 + 36.53 [RM 65-66]."""
    return raw / 340.0 + 36.53


def temp_raw_from_c(temp_c: float) -> float:
    return (temp_c - 36.53) * 340.0


# --- self-test [RM 13-16] (done at ±250 dps and ±8 g) ---
SELF_TEST_GYRO_RANGE_DPS = 250
SELF_TEST_ACCEL_RANGE_G = 8
SELF_TEST_TOLERANCE = 0.14  # |(STR − FT)/FT| must stay within ±14 % [PS, Tables 6.1 and 6.2]


def gyro_factory_trim(code: int, axis: int) -> float:
    """Factory trim FT (LSB at ±250 dps) of a 5-bit XG/YG/ZG_TEST code; Y is negative."""
    if code == 0:
        return 0.0
    ft = 25.0 * 131.0 * 1.046 ** (code - 1)
    return -ft if axis == 1 else ft


def accel_factory_trim(code: int) -> float:
    """Factory trim FT (LSB at ±8 g) of a 5-bit XA/YA/ZA_TEST code."""
    if code == 0:
        return 0.0
    return 4096.0 * 0.34 * (0.92 / 0.34) ** ((code - 1) / (2**5 - 2))


def decode_self_test_codes(st: bytes | list[int]) -> tuple[list[int], list[int]]:
    """Split SELF_TEST_X..SELF_TEST_A (4 bytes) into (accel codes, gyro codes) per axis."""
    x, y, z, a = st[0], st[1], st[2], st[3]
    accel = [
        ((x >> 3) & 0x1C) | ((a >> 4) & 0x03),
        ((y >> 3) & 0x1C) | ((a >> 2) & 0x03),
        ((z >> 3) & 0x1C) | (a & 0x03),
    ]
    gyro = [x & 0x1F, y & 0x1F, z & 0x1F]
    return accel, gyro


def encode_self_test_codes(accel: list[int], gyro: list[int]) -> bytes:
    """Inverse of :func:`decode_self_test_codes` (used by the emulated chip)."""
    regs = [((accel[i] & 0x1C) << 3) | (gyro[i] & 0x1F) for i in range(3)]
    a = ((accel[0] & 0x03) << 4) | ((accel[1] & 0x03) << 2) | (accel[2] & 0x03)
    return bytes([*regs, a])


def dps_to_rad(dps: float) -> float:
    return dps * math.pi / 180.0
