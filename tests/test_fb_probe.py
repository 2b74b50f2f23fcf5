"""`sspinn-edge probe`: scan, identify, self-test, match the sensor map."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main
from firmware_bridge.bus import LockedBus
from firmware_bridge.emulation import build_emulated_bus
from firmware_bridge.probe import scan
from firmware_bridge.sensor_map import SEGMENTS, default_sensor_map

ROOT = Path(__file__).resolve().parents[1]
EXE = ROOT / ".venv" / "bin" / "sspinn-edge"
WALKING = "edge/sample_data/imu/P01_walking.csv"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "edge.cli"]
    return subprocess.run(
        [*exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_cli_json_lists_the_seven_sensors_with_segments() -> None:
    proc = _run("probe", "--simulate", WALKING, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and report["mux"] == {"address": "0x70", "found": True}
    devices = report["devices"]
    assert [d["segment"] for d in devices] == list(SEGMENTS)
    assert [d["channel"] for d in devices] == list(range(7))
    assert all(d["chip"] == "mpu6050" and d["who_am_i"] == "0x68" for d in devices)
    assert all(d["self_test"] == "pass" for d in devices)
    assert report["missing"] == []


def test_cli_in_process_table_and_lsm6dsox(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--simulate", "P01_running", "--chip", "lsm6dsox"]) == 0
    out = capsys.readouterr().out
    assert "TCA9548A at 0x70: found" in out and "all sensors found" in out
    assert out.count("lsm6dsox  0x6C") == 7
    for seg in SEGMENTS:
        assert seg in out


def test_cli_with_a_sensor_map_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    smap = default_sensor_map(chips={"foot_r": "lsm6dsox"})
    path = tmp_path / "map.json"
    path.write_text(smap.model_dump_json())
    assert main(["probe", "--simulate", WALKING, "--config", str(path), "--json"]) == 0
    devices = json.loads(capsys.readouterr().out)["devices"]
    assert devices[3]["chip"] == "lsm6dsox" and devices[3]["segment"] == "foot_r"


def test_cli_unknown_recording_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--simulate", "no_such_trial"]) == 2
    assert "cannot read recording 'no_such_trial'" in capsys.readouterr().err


@pytest.mark.skipif(os.path.exists("/dev/i2c-1"), reason="this machine has an I2C bus")
def test_cli_without_a_bus_explains_instead_of_crashing() -> None:
    proc = _run("probe", "--bus", "1")
    assert proc.returncode == 2
    assert "cannot open /dev/i2c-1" in proc.stderr and "--simulate" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_scan_reports_faults() -> None:
    smap = default_sensor_map(chips={"foot_l": "lsm6dsox"})
    imu = np.zeros((3, 7, 6))
    imu[:, :, 1] = 9.81
    hw = build_emulated_bus(imu, SEGMENTS, 100.0, smap, advance="hold")
    hw.device("tibia_r").vanish()
    hw.device("femur_l").set_who_am_i(0x98)
    hw.device("pelvis").break_self_test()
    hw.device("foot_l").break_self_test()
    report = scan(LockedBus(hw.smbus), smap, sleep=lambda s: None)
    assert not report.ok
    by_sensor = {d.sensor: d for d in report.devices}
    assert by_sensor["pelvis"].self_test == "fail"
    assert by_sensor["foot_l"].self_test == "fail" and by_sensor["foot_l"].chip == "lsm6dsox"
    assert by_sensor["femur_r"].self_test == "pass"
    assert by_sensor["femur_l"].chip is None and by_sensor["femur_l"].who_am_i == 0x98
    assert "expects mpu6050" in by_sensor["femur_l"].note
    assert [m["segment"] for m in report.missing] == ["tibia_r"]
    assert "channel 2, address 0x68" in str(report.missing[0]["why"])
    assert hw.mux.mask == 0  # channels disconnected after the scan
    text = report.table()
    assert "MISSING tibia_r" in text and "PROBLEMS" in text


def test_scan_finds_unmapped_devices_and_a_missing_mux() -> None:
    imu = np.zeros((3, 7, 6))
    hw = build_emulated_bus(imu, SEGMENTS, 100.0, advance="hold")
    report = scan(LockedBus(hw.smbus), None, self_test=False)
    assert len(report.devices) == 7 and all(d.sensor is None for d in report.devices)
    hw.mux.vanish()
    report = scan(LockedBus(hw.smbus), None, self_test=False)
    assert not report.mux_found and report.devices == []
    assert "no TCA9548A multiplexer answers at 0x70" in report.errors[0]
