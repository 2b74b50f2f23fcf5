"""The daemon on an emulated I2C bus replaying a recording (no hardware needed).

Mean-cycle recordings are tiled at the daemon's sample rate (exactly as ``sspinn-eval``
does), then the register-level emulated chips replay them through the real drivers:
the estimates differ from ``sspinn-eval``'s only by the chips' 16-bit quantisation.
"""

from __future__ import annotations

import logging
import math
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from edge.bundle import read_bundle
from edge.config import DaemonConfig
from edge.daemon.daemon import DaemonParts
from edge.mqtt.broker_address import parse_broker_address
from edge.mqtt.publish_settings import PublishSettings
from edge.recording import Recording, read_recording, resample, tile_cycles
from edge.simulated_hardware import build_simulated_hardware, load_recording
from firmware_bridge.bus import LockedBus
from firmware_bridge.clock import SimulatedClock, SystemClock
from firmware_bridge.emulation import EmulatedHardware
from firmware_bridge.sensor_map import SensorMap

log = logging.getLogger(__name__)


def default_bundle_path() -> Path:
    """The shipped int8 bundle (``edge/models/default.sspinn``)."""
    return Path(str(resources.files("edge") / "models" / "default.sspinn"))


def replay_recording(
    rec: Recording | str | Path, rate_hz: float, duration_s: float | None
) -> Recording:
    """The recording at ``rate_hz``, long enough for ``duration_s`` (mean cycles tiled)."""
    rec = rec if isinstance(rec, Recording) else load_recording(rec)
    if rec.is_mean_cycle:
        period = rec.meta.cycle_duration_s or rec.n_samples * rec.meta.sample_period_s
        want = duration_s if duration_s is not None else 60.0
        return tile_cycles(rec, max(10, math.ceil(want / period) + 1), rate_hz=rate_hz)
    if abs(rec.sample_rate_hz - rate_hz) > 1e-6 * rate_hz:
        return resample(rec, rate_hz)
    return rec


def simulation_config(
    rec: Recording,
    *,
    broker: str | None,
    device_id: str,
    bundle: Path,
    record_dir: Path | None,
    publish: PublishSettings,
    segment_s: float = 60.0,
    mode: str = "polled",
) -> DaemonConfig:
    """A daemon config for replaying ``rec``: participant from its sidecar, rate from the
    bundle, estimates published with ``publish``, MQTT from ``broker`` (see
    :func:`parse_broker_address`; ``mqtts://`` turns TLS on). ``mode``: the acquisition
    (a replay is polled by default: one recorded row per sample, exactly)."""
    manifest = read_bundle(bundle).manifest
    address = parse_broker_address(broker or "127.0.0.1:1883")
    data = {
        "device": {"id": device_id, "name": f"simulated {device_id}"},
        "participant": rec.meta.participant.model_dump(),
        "sampling": {"rate_hz": manifest.sample_rate_hz, "mode": mode},
        "mqtt": {
            "host": address.host,
            "port": address.port,
            **publish.model_dump(),
            "health_interval_s": 2.0,
        },
        "model": {"bundle": str(bundle)},
        "mounting": {"persist": False},  # a replay follows its sidecar, keeps nothing
        "recorder": {
            "dir": str(record_dir or Path(tempfile.gettempdir()) / "sspinn-recordings"),
            "enabled_at_start": record_dir is not None,
            "segment_s": segment_s,
        },
    }
    if address.tls:
        data["mqtt"]["tls"] = {}
    return DaemonConfig.model_validate(data)


def simulation_bundle(base: DaemonConfig | None, bundle: Path | None) -> Path:
    """The bundle a replay runs: ``bundle`` when given, else the config's ``model.bundle``
    when that file exists (on a laptop the Pi's path usually does not: then, with a
    warning, the shipped bundle)."""
    if bundle is not None:
        return bundle
    if base is not None:
        if base.model.bundle.is_file():
            return base.model.bundle
        log.warning(
            "model.bundle %s not found here: simulating with the shipped bundle",
            base.model.bundle,
        )
    return default_bundle_path()


def simulation_config_from(
    base: DaemonConfig,
    rec: Recording,
    *,
    bundle: Path,
    broker: str | None = None,
    device_id: str | None = None,
    record_dir: Path | None = None,
    publish: PublishSettings | None = None,
    segment_s: float | None = None,
) -> DaemonConfig:
    """A user's own daemon config (``sspinn-edge simulate --config``) for replaying ``rec``.

    Kept from ``base``: device id and name, every ``[mqtt]`` setting (broker, login, TLS,
    topic prefix, publish rate and batching, health interval, Home Assistant discovery),
    the recorder, the model's trust settings, GPIO, the functional mounting settings.
    What a replay dictates replaces the rest: the wearer is the recording's participant
    (the model's body inputs must match the data), the sample rate is the bundle's, the
    sensors are the emulated ones, and nothing is persisted to the mounting file.

    Args:
        bundle: the bundle to run (:func:`simulation_bundle`).
        broker: replaces host, port and TLS (``mqtts://`` keeps the config's ``[mqtt.tls]``,
            else the system CAs); the login is kept.
        device_id, publish, segment_s: replace the config's values when given.
        record_dir: recordings go there, recording from the start.
    """
    data = base.model_dump(exclude={"sensors"})
    if base.mqtt.password is not None:
        data["mqtt"]["password"] = base.mqtt.password.get_secret_value()
    data["participant"] = rec.meta.participant.model_dump()
    data["sampling"]["rate_hz"] = read_bundle(bundle).manifest.sample_rate_hz
    data["model"]["bundle"] = str(bundle)
    data["mounting"]["persist"] = False  # a replay follows its sidecar, keeps nothing
    if device_id is not None:
        data["device"]["id"] = device_id
    if broker is not None:
        address = parse_broker_address(broker)
        data["mqtt"].update(host=address.host, port=address.port)
        data["mqtt"]["tls"] = (data["mqtt"]["tls"] or {}) if address.tls else None
    if publish is not None:
        data["mqtt"].update(publish.model_dump())
    if record_dir is not None:
        data["recorder"].update(dir=str(record_dir), enabled_at_start=True)
    if segment_s is not None:
        data["recorder"]["segment_s"] = segment_s
    return DaemonConfig.model_validate(data)


def simulated_parts(rec: Recording, *, fast: bool, mode: str = "polled") -> DaemonParts:
    """Emulated TCA9548A + 7 IMUs replaying ``rec`` one sample per read; the data have
    been through the recording's sidecar ``calibration``, so a segment-axis model undoes
    what that leaves (:mod:`edge.mounting.rule`), else the on-device functional estimate.
    GPIO pins are gpiozero mock pins; the mux reset pin resets the emulated TCA9548A.

    ``mode="fifo"``: the chips sample on ``clock`` at their output data rate into their
    FIFOs (for a config with ``sampling.mode = "fifo"``)."""
    clock = SimulatedClock() if fast else SystemClock()
    if mode == "fifo":
        hw = build_simulated_hardware(rec, advance="clock", clock=clock)
    else:
        hw = build_simulated_hardware(rec, advance="per_read")
    return DaemonParts(
        bus=LockedBus(hw.smbus),
        sensor_map=hw.sensor_map,
        clock=clock,
        calibration=rec.meta.calibration,
        polled_only=mode != "fifo",
        **_emulated_gpio(hw),
    )


def _emulated_gpio(hw: EmulatedHardware) -> dict[str, Any]:
    """The ``[gpio]`` pins on gpiozero mock pins, the mux reset pin wired to the emulated
    TCA9548A's RESET, and the hardware itself (fault injection)."""
    from gpiozero.pins.mock import MockFactory

    return {
        "pin_factory": MockFactory(),
        "on_mux_reset": hw.mux.hardware_reset if hw.mux is not None else None,
        "hardware": hw,
    }


def recording_parts(
    spec: str | Path, cfg: DaemonConfig, sensor_map: SensorMap, duration_s: float | None
) -> tuple[DaemonParts, float]:
    """``sspinn-edge run --simulate``: the config's own sensor map on an emulated bus that
    replays the recording ``spec`` (CSV path, NAME or bundled:NAME) at the config's rate,
    in real time, acquired as ``[sampling] mode`` says (FIFO: the emulated chips sample on
    the real clock into their FIFOs). Returns the parts and the replay's length (s).

    Raises:
        RecordingError: unknown or unreadable recording.
        ValueError: a configured sensor the recording does not have.
    """
    rec = replay_recording(load_recording(spec), cfg.sampling.rate_hz, duration_s)
    missing = [s.label for s in sensor_map.sensors if s.label not in rec.sensors]
    if missing:
        raise ValueError(
            f"the recording has no sensor {', '.join(missing)} of [sensors]; "
            f"it has {', '.join(rec.sensors)}"
        )
    clock = SystemClock()
    if cfg.sampling.mode == "fifo":  # the chips sample on the real clock into their FIFOs
        hw = build_simulated_hardware(rec, sensor_map, advance="clock", clock=clock)
    else:
        hw = build_simulated_hardware(rec, sensor_map, advance="per_read")
    parts = DaemonParts(
        bus=LockedBus(hw.smbus),
        sensor_map=sensor_map,
        clock=clock,
        calibration=rec.meta.calibration,
        **_emulated_gpio(hw),
    )
    return parts, rec.n_samples / cfg.sampling.rate_hz


__all__ = [
    "default_bundle_path",
    "read_recording",
    "recording_parts",
    "replay_recording",
    "simulated_parts",
    "simulation_bundle",
    "simulation_config",
    "simulation_config_from",
]
