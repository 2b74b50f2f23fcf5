"""Sensor map validation: config errors say what is wrong and how to fix it."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from firmware_bridge.sensor_map import (
    SEGMENTS,
    Mounting,
    SensorConfig,
    SensorMap,
    default_sensor_map,
)

ROOT = Path(__file__).resolve().parents[1]


def _sensors(**changes: dict) -> list[dict]:
    out = [
        {"segment": seg, "chip": "mpu6050", "channel": i, "address": "0x68"}
        for i, seg in enumerate(SEGMENTS)
    ]
    for seg, change in changes.items():
        out[SEGMENTS.index(seg)].update(change)
    return out


def _error(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        SensorMap.model_validate(data)
    return str(info.value)


def test_default_map() -> None:
    m = default_sensor_map()
    assert m.names == SEGMENTS
    assert [s.channel for s in m.sensors] == list(range(7))
    assert {s.address for s in m.sensors} == {0x68} and m.mux_address == 0x70
    m = default_sensor_map(chip="lsm6dsox", chips={"pelvis": "mpu6050"})
    assert [s.chip for s in m.sensors] == ["mpu6050"] + ["lsm6dsox"] * 6
    assert m.sensors[1].address == 0x6A
    with pytest.raises(ValueError, match="unknown segment"):
        default_sensor_map(chips={"knee": "mpu6050"})


def test_duplicate_segment() -> None:
    msg = _error({"sensors": _sensors(tibia_r={"segment": "femur_r"})})
    assert "both on segment 'femur_r'" in msg and "tibia_r" in msg  # tibia_r now missing


def test_duplicate_channel_and_address() -> None:
    msg = _error({"sensors": _sensors(tibia_r={"channel": 1})})
    assert "tibia_r and femur_r are both at channel 1, address 0x68" in msg
    assert "address pin" in msg


def test_address_must_fit_the_chip() -> None:
    msg = _error({"sensors": _sensors(foot_l={"chip": "lsm6dsox"})})
    assert "foot_l: a lsm6dsox answers only at 0x6A or 0x6B" in msg and "not 0x68" in msg


def test_unknown_keys_and_values() -> None:
    assert "Extra inputs are not permitted" in _error({"sensors": _sensors(pelvis={"chanel": 3})})
    assert "pelvis" in _error({"sensors": _sensors(pelvis={"segment": "knee"})})
    assert "less than or equal to 7" in _error({"sensors": _sensors(pelvis={"channel": 9})})
    assert "is not an integer" in _error({"sensors": _sensors(pelvis={"address": "sixty"})})


def test_missing_segments_unless_partial() -> None:
    msg = _error({"sensors": _sensors()[:3]})
    assert "segments without a sensor: femur_l, tibia_l, foot_l, foot_r" not in msg
    assert "foot_r, femur_l, tibia_l, foot_l" in msg and "allow_partial" in msg
    m = SensorMap.model_validate({"sensors": _sensors()[:3], "allow_partial": True})
    assert len(m.sensors) == 3


def test_direct_sensor_collides_with_channel_sensor() -> None:
    msg = _error({"sensors": _sensors(pelvis={"channel": None})})
    assert "collides with a sensor wired directly" in msg


@pytest.mark.parametrize(
    ("axes", "fragment"),
    [
        (["-x", "y", "z"], "mirror image"),
        (["x", "x", "z"], "exactly once"),
        (["x", "y"], "3 entries"),
        (["x", "up", "z"], "not one of x, y, z"),
        (["--x", "y", "z"], "not one of x, y, z"),
    ],
)
def test_axes_errors(axes: list[str], fragment: str) -> None:
    assert fragment in _error({"sensors": _sensors(pelvis={"axes": axes})})


def test_all_24_rotations_round_trip() -> None:
    rng = np.random.default_rng(0)
    rotations = 0
    for perm in itertools.permutations("xyz"):
        for signs in itertools.product(["", "-"], repeat=3):
            axes = [s + a for s, a in zip(signs, perm, strict=True)]
            try:
                m = Mounting(axes)
            except ValueError:
                continue
            rotations += 1
            assert np.linalg.det(m.matrix) == pytest.approx(1.0)
            seg = rng.normal(size=(5, 6))
            chip = m.to_chip(seg)
            assert np.allclose(chip[:, :3], seg[:, :3] @ m.matrix)  # chip = Mᵀ seg
            out = np.empty_like(seg)
            assert np.array_equal(m.to_segment(chip, out), seg)
    assert rotations == 24


def test_file_formats_and_daemon_table_form(tmp_path: Path) -> None:
    toml = tmp_path / "map.toml"
    toml.write_text(
        "mux_address = 0x71\n"
        + "".join(
            f'[[sensors]]\nsegment = "{seg}"\nchannel = {i}\naddress = 0x69\n'
            for i, seg in enumerate(SEGMENTS)
        )
    )
    m = SensorMap.from_file(toml)
    assert m.mux_address == 0x71 and m.sensors[6].address == 0x69
    js = tmp_path / "map.json"
    js.write_text(default_sensor_map().model_dump_json())
    assert SensorMap.from_file(js) == default_sensor_map()
    # the daemon config example's [sensors.<name>] tables with mux_channel
    table = tomllib.loads((ROOT / "edge" / "config.example.toml").read_text())["sensors"]
    m = SensorMap.model_validate({**table, "allow_partial": True})
    assert m.names[:2] == ("pelvis", "femur_r") and m.sensors[1].channel == 1


def test_sensor_name_can_differ_from_segment() -> None:
    s = SensorConfig(segment="foot_r", name="right_foot", channel=3, address=0x68)
    assert s.label == "right_foot" and s.where() == "channel 3, address 0x68"
