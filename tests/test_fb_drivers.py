"""Drivers against register-level emulated chips: correct to the bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.recording import bundled_recording_path, read_recording
from edge.simulated_hardware import build_simulated_hardware, sensor_map_for
from firmware_bridge.acquisition import Acquisition, AcquisitionSettings, Quality
from firmware_bridge.bus import LockedBus
from firmware_bridge.clock import SimulatedClock
from firmware_bridge.drivers import Lsm6dsox, Mpu6050
from firmware_bridge.emulation import (
    EmulatedLsm6dsox,
    EmulatedMpu6050,
    EmulatedSMBus,
    EmulatedTCA9548A,
    ReplaySource,
    build_emulated_bus,
)
from firmware_bridge.errors import WiringError
from firmware_bridge.sensor_map import SensorConfig, SensorMap
from firmware_bridge.tca9548a import TCA9548A

G = 9.80665
CHIPS = ["mpu6050", "lsm6dsox"]
# datasheet sensitivities at ±16 g / ±2000 dps, written out independently of the code
LSB = {
    "mpu6050": (G / 2048.0, math.radians(1 / 16.4)),
    "lsm6dsox": (0.488e-3 * G, math.radians(70e-3)),
}


def _no_sleep(_s: float) -> None:
    return None


def _replay_errors_in_lsb(rec, smap, chip: str, n_reads: int) -> np.ndarray:
    hw = build_simulated_hardware(rec, smap)
    acq = Acquisition(
        LockedBus(hw.smbus),
        hw.sensor_map,
        clock=SimulatedClock(),
        settings=AcquisitionSettings(accel_range_g=16, gyro_range_dps=2000, stuck_after=None),
    )
    assert acq.start() == {}
    acc_lsb, gyr_lsb = LSB[chip]
    for d in acq.drivers:
        assert d.config.acc_lsb_m_s2 == pytest.approx(acc_lsb, rel=1e-12)
        assert d.config.gyr_lsb_rad_s == pytest.approx(gyr_lsb, rel=1e-12)
    scale = np.array([acc_lsb] * 3 + [gyr_lsb] * 3)
    worst = np.zeros((len(rec.sensors), 6))
    for k in range(n_reads):
        frame = acq.read()
        assert frame.ok.all() and not frame.quality.any()
        expected = rec.imu[k % rec.n_samples]
        worst = np.maximum(worst, np.abs(frame.data - expected) / scale)
    return worst


@pytest.mark.parametrize("chip", CHIPS)
def test_replay_of_p01_walking_within_one_lsb(chip: str) -> None:
    """Acceptance: every channel of every sensor within 1 LSB (rounding gives ≤ 0.5)."""
    rec = read_recording(bundled_recording_path("P01_walking"))
    worst = _replay_errors_in_lsb(rec, sensor_map_for(rec, chip=chip), chip, 2 * rec.n_samples)
    assert worst.shape == (7, 6)
    assert worst.max() <= 0.5 + 1e-6, worst
    # the test is not vacuous: the data move by many LSB
    acc_lsb, gyr_lsb = LSB[chip]
    assert np.ptp(rec.imu[:, :, :3]) / acc_lsb > 1000
    assert np.ptp(rec.imu[:, :, 3:]) / gyr_lsb > 1000


def test_replay_with_rotated_mountings_and_mixed_chips() -> None:
    """The emulated chip applies the inverse mounting; driver + map gives segment axes."""
    rec = read_recording(bundled_recording_path("P01_running"))  # up to 10.8 g, 850 °/s
    axes = {
        "pelvis": ("-y", "x", "z"),
        "femur_r": ("y", "-x", "z"),
        "tibia_r": ("-x", "-y", "z"),
        "foot_r": ("z", "y", "-x"),
        "femur_l": ("x", "-z", "y"),
        "tibia_l": ("-z", "-x", "y"),
        "foot_l": ("x", "y", "z"),
    }
    chips = {"pelvis": "lsm6dsox", "tibia_r": "lsm6dsox", "foot_l": "lsm6dsox"}
    sensors = []
    for i, name in enumerate(rec.sensors):
        chip = chips.get(name, "mpu6050")
        sensors.append(
            SensorConfig(
                segment=name,
                chip=chip,
                channel=i,
                address=0x6B if chip == "lsm6dsox" else 0x69,
                axes=axes[name],
            )
        )
    smap = SensorMap(sensors=sensors)
    hw = build_simulated_hardware(rec, smap)
    acq = Acquisition(LockedBus(hw.smbus), smap, clock=SimulatedClock())
    assert acq.start() == {}
    worst = np.zeros((7, 6))
    for k in range(rec.n_samples):
        frame = acq.read()
        for s, name in enumerate(rec.sensors):
            acc_lsb, gyr_lsb = LSB[chips.get(name, "mpu6050")]
            err = np.abs(frame.data[s] - rec.imu[k, s])
            worst[s] = np.maximum(worst[s], err / np.array([acc_lsb] * 3 + [gyr_lsb] * 3))
    assert worst.max() <= 0.5 + 1e-6, worst


def _single(chip: str, values: np.ndarray, address: int | None = None):
    """One emulated chip on channel 2 holding ``values`` (6,) in chip = segment axes."""
    source = ReplaySource(values.reshape(1, 1, 6), ["s"], 100.0)
    cls = EmulatedMpu6050 if chip == "mpu6050" else EmulatedLsm6dsox
    address = address or (0x68 if chip == "mpu6050" else 0x6A)
    smbus = EmulatedSMBus()
    mux = smbus.add_mux(EmulatedTCA9548A())
    dev = smbus.attach(cls(address, source, "s", advance="hold", temp_c=25.5), channel=2)
    bus = LockedBus(smbus)
    driver_cls = Mpu6050 if chip == "mpu6050" else Lsm6dsox
    driver = driver_cls(bus, address, mux=TCA9548A(bus), channel=2, sleep=_no_sleep)
    return smbus, mux, dev, bus, driver


def test_register_bytes_and_endianness() -> None:
    """+1 g on x at ±16 g: MPU-6050 0x0800 big-endian at 0x3B; LSM6DSOX 2049 LSB
    (1/0.488 mg) little-endian at 0x28. Decoded here from raw bus bytes, not by a driver."""
    values = np.array([G, -2 * G, 0.0, math.radians(100.0), 0.0, -math.radians(1000.0)])
    _, _, _, bus, drv = _single("mpu6050", values)
    drv.setup()
    with bus.locked():
        drv.mux.select(2)
        raw = bytes(bus.read_i2c_block_data(0x68, 0x3B, 14))
    assert raw[0:2] == bytes([0x08, 0x00])  # ACCEL_XOUT = 2048
    assert int.from_bytes(raw[2:4], "big", signed=True) == -4096
    assert int.from_bytes(raw[8:10], "big", signed=True) == 1640  # 100 °/s × 16.4
    assert int.from_bytes(raw[12:14], "big", signed=True) == -16400
    assert int.from_bytes(raw[6:8], "big", signed=True) == round((25.5 - 36.53) * 340)

    _, _, _, bus, drv = _single("lsm6dsox", values)
    drv.setup()
    with bus.locked():
        drv.mux.select(2)
        raw = bytes(bus.read_i2c_block_data(0x6A, 0x20, 14))
    assert int.from_bytes(raw[0:2], "little", signed=True) == 128  # (25.5 − 25) × 256
    assert int.from_bytes(raw[2:4], "little", signed=True) == round(100 / 0.070)
    assert int.from_bytes(raw[8:10], "little", signed=True) == round(1000 / 0.488)
    assert raw[8] == round(1000 / 0.488) & 0xFF  # low byte first


@pytest.mark.parametrize("chip", CHIPS)
def test_one_burst_read_per_sample(chip: str) -> None:
    smbus, _, _, _, drv = _single(chip, np.zeros(6))
    drv.setup()
    drv.read()  # mux already on channel 2 after setup: no switch needed
    before = smbus.traffic.snapshot()
    sample = drv.read()
    d = smbus.traffic.minus(before)
    assert (d.transfers, d.messages, d.data_bytes) == (1, 2, 15)  # reg byte + 14 data
    assert sample.acc.shape == (3,) and sample.gyr.shape == (3,)
    assert sample.temp_c == pytest.approx(25.5, abs=1 / 256 if chip == "lsm6dsox" else 1 / 340)


@pytest.mark.parametrize("chip", CHIPS)
def test_saturation_is_flagged(chip: str) -> None:
    values = np.array([20 * G, 0, 0, 0, 0, math.radians(2500.0)])  # beyond ±16 g, ±2000 °/s
    _, _, _, _, drv = _single(chip, values)
    drv.setup()
    out = np.empty(6)
    drv.read_into(out)
    assert drv.saturated
    assert out[0] == pytest.approx(32767 * drv.config.acc_lsb_m_s2)
    assert out[5] == pytest.approx(32767 * drv.config.gyr_lsb_rad_s)


def test_saturated_quality_flag_in_acquisition() -> None:
    imu = np.zeros((4, 7, 6))
    imu[:, 3, 0] = 17 * G
    names = ("pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l")
    hw = build_emulated_bus(imu, names, 100.0)
    acq = Acquisition(LockedBus(hw.smbus), hw.sensor_map, clock=SimulatedClock())
    acq.start()
    frame = acq.read()
    assert frame.quality[3] & Quality.SATURATED
    assert not frame.quality[2] & Quality.SATURATED


@pytest.mark.parametrize("chip", CHIPS)
def test_wrong_who_am_i_says_check_your_wiring(chip: str) -> None:
    _, _, dev, _, drv = _single(chip, np.zeros(6))
    dev.set_who_am_i(0x70)
    with pytest.raises(WiringError) as info:
        drv.probe()
    msg = str(info.value)
    assert "check your wiring" in msg and "0x70" in msg and "WHO_AM_I" in msg


def test_absent_chip_says_check_your_wiring() -> None:
    _, _, dev, _, drv = _single("mpu6050", np.zeros(6))
    dev.vanish()
    with pytest.raises(WiringError, match=r"no mpu6050 answers at ch2:0x68.*check your wiring"):
        drv.probe()


def test_configure_picks_supported_settings() -> None:
    cfg = Mpu6050.choose(16, 2000, 400.0, None)[-1]
    assert cfg.odr_hz == 500.0 and cfg.dlpf_hz == 184.0  # 1 kHz/(1+1); widest ≤ 200 Hz
    cfg = Mpu6050.choose(10, 300, 100.0, None)[-1]
    assert (cfg.accel_range_g, cfg.gyro_range_dps, cfg.odr_hz, cfg.dlpf_hz) == (16, 500, 100, 44)
    ctrl1, ctrl2, ctrl8, code, cfg = Lsm6dsox.choose(16, 2000, 400.0, 20.0)
    assert cfg.odr_hz == 416.0 and code == 6
    assert ctrl1 == (6 << 4) | (0b01 << 2) | 0x02  # ODR 416, ±16 g, LPF2 on
    assert cfg.dlpf_hz == pytest.approx(416 / 45) and ctrl8 == 0b011 << 5
    assert ctrl2 == (6 << 4) | (0b110 << 1)


@pytest.mark.parametrize("chip", CHIPS)
def test_chip_reset_restores_power_on_state(chip: str) -> None:
    _, _, dev, _, drv = _single(chip, np.zeros(6))
    drv.setup()
    assert dev.running()
    drv.reset()
    assert not dev.running()  # MPU-6050 back in SLEEP, LSM6DSOX back to ODR = 0


def _ramp_fifo(chip: str):
    """Clock-driven chip whose replay rate equals its ODR: row k has gyr_z = k LSB-ish."""
    odr = 500.0 if chip == "mpu6050" else 416.0
    n = 2000
    imu = np.zeros((n, 1, 6))
    imu[:, 0, 1] = G
    imu[:, 0, 5] = np.arange(n) * 0.01  # rad/s, strictly increasing
    source = ReplaySource(imu, ["s"], odr, loop=False)
    clock = SimulatedClock()
    smbus = EmulatedSMBus()
    cls = EmulatedMpu6050 if chip == "mpu6050" else EmulatedLsm6dsox
    addr = 0x68 if chip == "mpu6050" else 0x6A
    dev = smbus.attach(cls(addr, source, "s", advance="clock", clock=clock))
    drv = (Mpu6050 if chip == "mpu6050" else Lsm6dsox)(LockedBus(smbus), addr, sleep=_no_sleep)
    drv.setup(odr_hz=400.0)
    assert drv.config.odr_hz == odr
    drv.enable_fifo()
    return clock, dev, drv, odr


@pytest.mark.parametrize("chip", CHIPS)
def test_fifo_returns_every_sample_in_order(chip: str) -> None:
    clock, _, drv, odr = _ramp_fifo(chip)
    out = np.empty((64, 6))
    temps = np.empty(64)
    got = []
    for _ in range(5):
        clock.advance(16 / odr)
        n = drv.read_fifo(out, temps)
        got.append(out[:n].copy())
        assert np.isfinite(temps[:n]).all() or chip == "lsm6dsox"
    samples = np.concatenate(got)
    assert 78 <= len(samples) <= 82
    lsb = drv.config.gyr_lsb_rad_s
    steps = np.diff(samples[:, 5])
    assert np.abs(steps - 0.01).max() <= lsb  # consecutive rows, none lost or repeated
    assert np.abs(samples[:, 1] - G).max() <= drv.config.acc_lsb_m_s2 / 2 + 1e-12


def test_mpu6050_fifo_overflow_is_detected_and_reset() -> None:
    clock, dev, drv, odr = _ramp_fifo("mpu6050")
    out = np.empty((128, 6))
    temps = np.empty(128)
    clock.advance(1.0)  # 500 samples × 14 B ≫ 1024 B
    assert drv.read_fifo(out, temps) == 0
    assert drv.fifo_overflows == 1
    assert len(dev._fifo_bytes) == 0  # the driver reset the misaligned FIFO
    clock.advance(10 / odr)
    n = drv.read_fifo(out, temps)
    assert 9 <= n <= 11
    assert np.abs(np.diff(out[:n, 5]) - 0.01).max() <= drv.config.gyr_lsb_rad_s


@pytest.mark.parametrize("chip", CHIPS)
def test_self_test_passes_and_detects_broken_mems(chip: str) -> None:
    values = np.array([0.5, G, 0.2, 0.01, -0.02, 0.03])  # still, upright
    _, _, dev, _, drv = _single(chip, values)
    drv.setup()
    result = drv.self_test()
    assert result.passed, result
    assert drv.config.accel_range_g == 16  # configuration restored
    dev.break_self_test()
    assert not drv.self_test().passed
