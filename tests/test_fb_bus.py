"""The locked bus, the multiplexer driver and the emulated bus's wire behaviour."""

from __future__ import annotations

import errno
import threading

import numpy as np
import pytest
from smbus2 import i2c_msg

from firmware_bridge.bench import run as bench_run
from firmware_bridge.bus import LockedBus
from firmware_bridge.drivers import Mpu6050
from firmware_bridge.emulation import (
    EmulatedMpu6050,
    EmulatedSMBus,
    EmulatedTCA9548A,
    ReplaySource,
)
from firmware_bridge.errors import BusError
from firmware_bridge.i2c_timing import nack_bits, transfer_bits
from firmware_bridge.tca9548a import TCA9548A


def _bus_with_two_chips():
    """MPU-6050s at 0x68 on channels 1 and 2 holding different (still) values."""
    imu = np.zeros((1, 2, 6))
    imu[0, 0, :3] = (1.0, 2.0, 3.0)
    imu[0, 1, :3] = (-4.0, -5.0, -6.0)
    source = ReplaySource(imu, ["a", "b"], 100.0)
    smbus = EmulatedSMBus()
    mux = smbus.add_mux(EmulatedTCA9548A())
    a = smbus.attach(EmulatedMpu6050(0x68, source, "a", advance="hold"), channel=1)
    b = smbus.attach(EmulatedMpu6050(0x68, source, "b", advance="hold"), channel=2)
    return smbus, mux, a, b


def test_routing_through_the_multiplexer() -> None:
    smbus, mux, _, _ = _bus_with_two_chips()
    with pytest.raises(OSError) as info:
        smbus.read_byte_data(0x68, 0x75)  # no channel connected
    assert info.value.errno == errno.EREMOTEIO
    smbus.write_byte(0x70, 0b10)
    assert smbus.read_byte_data(0x68, 0x75) == 0x68
    assert smbus.read_byte(0x70) == 0b10 and mux.mask == 0b10


def test_two_chips_answering_at_once_read_as_wired_and() -> None:
    smbus, _, a, b = _bus_with_two_chips()
    a.regs[0x19], b.regs[0x19] = 0b1100, 0b1010
    smbus.write_byte(0x70, 0b110)  # both channels: address conflict on the wire
    assert smbus.read_byte_data(0x68, 0x19) == 0b1000


def test_smbus_block_limit_and_i2c_rdwr_fill_buffers() -> None:
    smbus, _, a, _ = _bus_with_two_chips()
    smbus.write_byte(0x70, 0b10)
    with pytest.raises(ValueError, match="over 32 bytes"):
        smbus.read_i2c_block_data(0x68, 0x00, 33)
    a.regs[0x10:0x40] = bytes(range(0x30))
    w, r = i2c_msg.write(0x68, [0x10]), i2c_msg.read(0x68, 0x2B)  # 43 bytes, one transfer
    smbus.i2c_rdwr(w, r)
    assert bytes(r) == bytes(range(0x2B))
    assert a.regs[0x3A] == 0  # INT_STATUS clears on read


def test_bit_costs() -> None:
    assert transfer_bits([(False, 1), (True, 14)]) == 1 + 9 + 9 + 1 + 9 + 14 * 9 + 1 == 156
    assert transfer_bits([(False, 1)]) == 20  # a TCA9548A channel switch
    assert nack_bits() == 11
    smbus, *_ = _bus_with_two_chips()
    smbus.write_byte(0x70, 0b10)
    before = smbus.traffic.snapshot()
    smbus.read_i2c_block_data(0x68, 0x3B, 14)
    assert smbus.traffic.minus(before).bits == 156
    with pytest.raises(OSError):
        smbus.read_byte(0x55)
    assert smbus.traffic.nacks == 1


def test_locked_bus_errors_carry_where() -> None:
    smbus, _, a, _ = _bus_with_two_chips()
    bus = LockedBus(smbus)
    mux = TCA9548A(bus)
    mux.select(1)
    a.inject_nack(1, err=errno.EIO)
    with pytest.raises(BusError) as info:
        bus.read_byte_data(0x68, 0x75)
    e = info.value
    assert (e.errno, e.address, e.register, e.channel) == (errno.EIO, 0x68, 0x75, 1)
    assert isinstance(e, OSError) and not e.is_nack
    assert str(e) == "read failed at mux channel 1, address 0x68, register 0x75: Input/output error"
    assert bus.stats.errors == 1 and bus.stats.transactions == 2


def test_mux_select_is_cached_and_invalidated() -> None:
    smbus, mux, *_ = _bus_with_two_chips()
    drv_mux = TCA9548A(LockedBus(smbus))
    for _ in range(3):
        drv_mux.select(2)
    assert mux.writes == 1
    drv_mux.invalidate()
    drv_mux.select(2)
    assert mux.writes == 2
    with pytest.raises(ValueError, match=r"0\.\.7"):
        drv_mux.select(8)


def test_lockup_is_a_timeout() -> None:
    smbus, *_ = _bus_with_two_chips()
    bus = LockedBus(smbus)
    smbus.lock_up()
    with pytest.raises(BusError) as info:
        bus.write_byte(0x70, 1)
    assert info.value.is_lockup and info.value.errno == errno.ETIMEDOUT


def test_mux_switch_and_read_are_atomic_across_threads() -> None:
    smbus, *_ = _bus_with_two_chips()
    bus = LockedBus(smbus)
    mux = TCA9548A(bus)
    drivers = [Mpu6050(bus, 0x68, mux=mux, channel=c, sleep=lambda s: None) for c in (1, 2)]
    for d in drivers:
        d.setup()
    wrong: list[int] = []

    def worker(i: int) -> None:
        out = np.empty(6)
        sign = 1 if i == 0 else -1
        for _ in range(300):
            drivers[i].read_into(out)
            if np.sign(out[0]) != sign:
                wrong.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_bench_figures() -> None:
    """The bench's per-sample budget follows from the protocol: 7 × (20 + 156) bits."""
    r = bench_run(end_to_end=False)
    for chip in ("mpu6050", "lsm6dsox"):
        d = r[f"{chip}_direct"]
        assert d["transfers_per_sample"] == 14 and d["host_ioctls_per_sample"] == 14
        assert d["wire_bytes_per_sample"] == 7 * (2 + 17)
        assert d["bits_per_sample"] == 7 * (20 + 156)
        assert d["bus_time_per_sample_us"] == pytest.approx(3080.0)
        assert d["max_rate_hz"] == pytest.approx(324.675, abs=1e-3)
        assert r[f"{chip}_fifo_batch32"]["max_rate_hz"] > r[f"{chip}_fifo_batch8"]["max_rate_hz"]
    assert r["meets_target"] is True and r["direct_sustains_high_rate"] is False


@pytest.mark.slow
def test_bench_fifo_acquisition_end_to_end() -> None:
    """The bench's FIFO run at 100 Hz: every frame, nothing lost, the bus part-used."""
    from firmware_bridge.bench import _fifo_acquisition

    r = _fifo_acquisition("mpu6050", 100.0, seconds=2.0)
    assert r["odr_hz"] == 100.0 and r["samples_lost"] == 0 and r["frames_with_nan"] == 0
    assert r["frames_per_s"] == pytest.approx(100.0, abs=1.5)  # start-up wait included
    assert 20.0 < r["bus_occupancy_pct"] < 80.0
    assert r["host_us_per_frame_excl_emulator"] > 0.0
