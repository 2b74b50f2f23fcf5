"""What the hardware commands share: the I2C bus opener, the sensor map and recording
arguments, and the real-bus prelude of ``probe`` / ``calibrate``.

Every failure raises :class:`edge.cli.exit_codes.CommandFailed` with a message that says
what to do (enable I2C, join the ``i2c`` group, use ``--simulate``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.exit_codes import CommandFailed

if TYPE_CHECKING:
    from edge.recording import Recording
    from firmware_bridge.bus import LockedBus
    from firmware_bridge.sensor_map import SensorMap


def add_sensor_arguments(p: argparse.ArgumentParser, simulate_help: str) -> None:
    """``--simulate``, ``--bus`` and ``--config``, as ``probe`` and ``calibrate`` take them."""
    p.add_argument("--simulate", metavar="RECORDING", help=simulate_help)
    p.add_argument("--bus", type=int, default=None, help="I2C bus number (default: 1)")
    p.add_argument("--config", type=Path, help="sensor map file (JSON or TOML)")


def open_i2c_bus(bus_number: int) -> Any:
    """``smbus2.SMBus(n)``; raises CommandFailed explaining how to get a bus."""
    try:
        from smbus2 import SMBus
    except ImportError:
        raise CommandFailed(
            "smbus2 is not installed: pip install 'sspinnpose-edge[edge]'"
        ) from None
    dev = f"/dev/i2c-{bus_number}"
    try:
        return SMBus(bus_number)
    except FileNotFoundError:
        raise CommandFailed(
            f"cannot open {dev}: no such I2C bus on this machine.\n"
            "On a Raspberry Pi enable I2C (sudo raspi-config → Interface Options → I2C, or "
            "dtparam=i2c_arm=on in /boot/firmware/config.txt) and reboot.\n"
            "Off a Pi, use the emulated bus: sspinn-edge probe --simulate P01_walking"
        ) from None
    except PermissionError:
        raise CommandFailed(
            f"permission denied on {dev}: add your user to the 'i2c' group "
            "(sudo usermod -aG i2c $USER) and log in again"
        ) from None
    except OSError as exc:
        raise CommandFailed(f"cannot open {dev}: {exc}") from None


def load_sensor_map_arg(path: Path | None) -> SensorMap | None:
    """The ``--config`` sensor map, or None when not given."""
    from firmware_bridge.sensor_map import SensorMap

    if path is None:
        return None
    try:
        return SensorMap.from_file(path)
    except (OSError, ValueError) as exc:
        raise CommandFailed(f"sensor map {path}: {exc}") from None


def load_recording_arg(name: str) -> Recording:
    """The ``--simulate`` recording (a CSV path or a bundled name)."""
    from edge.simulated_hardware import load_recording

    try:
        return load_recording(name)
    except (OSError, ValueError) as exc:
        raise CommandFailed(f"cannot read recording {name!r}: {exc}") from None


@dataclass
class RealSensors:
    """The real I2C bus and the sensor map to read it with.

    Attributes:
        bus: the locked bus (close it when done).
        sensor_map: the ``--config`` map, else the default seven-sensor map.
        bus_name: ``/dev/i2c-N`` (for reports).
    """

    bus: LockedBus
    sensor_map: SensorMap
    bus_name: str


def open_real_sensors(bus_number: int | None, smap: SensorMap | None) -> RealSensors:
    """Open the bus (``--bus``, else the map's, else 1) with ``smap`` or the default map."""
    from firmware_bridge.bus import LockedBus
    from firmware_bridge.sensor_map import default_sensor_map

    number = bus_number if bus_number is not None else (smap.bus if smap else 1)
    bus = LockedBus(open_i2c_bus(number), name=f"i2c-{number}")
    return RealSensors(bus, smap or default_sensor_map(), f"/dev/i2c-{number}")
