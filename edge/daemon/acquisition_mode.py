"""The daemon's acquisition from ``[sampling]``: FIFO-driven (default) or polled."""

from __future__ import annotations

from collections.abc import Callable

from edge.config import SamplingConfig
from firmware_bridge.acquisition import Acquisition, AcquisitionSettings
from firmware_bridge.bus import LockedBus
from firmware_bridge.clock import Clock
from firmware_bridge.fifo_acquisition import FifoAcquisition
from firmware_bridge.sampler import FixedRateSampler
from firmware_bridge.sensor_map import SensorMap


def make_acquisition(
    sampling: SamplingConfig,
    bus: LockedBus,
    sensor_map: SensorMap,
    clock: Clock,
    bus_recovery: Callable[[], None] | None = None,
) -> Acquisition:
    """The chips set to ``rate_hz``; in FIFO mode frames come on a ``rate_hz`` grid."""
    settings = AcquisitionSettings(odr_hz=sampling.rate_hz)
    if sampling.mode == "fifo":
        return FifoAcquisition(
            bus,
            sensor_map,
            clock=clock,
            settings=settings,
            bus_recovery=bus_recovery,
            rate_hz=sampling.rate_hz,
        )
    return Acquisition(bus, sensor_map, clock=clock, settings=settings, bus_recovery=bus_recovery)


def make_sampler(sampling: SamplingConfig, clock: Clock) -> FixedRateSampler:
    """Polled: one tick per sample. FIFO: one tick per drain (``drain_interval_ms``)."""
    if sampling.mode == "fifo":
        return FixedRateSampler(1000.0 / sampling.drain_interval_ms, clock)
    return FixedRateSampler(sampling.rate_hz, clock)


def device_settings(sampling: SamplingConfig, sensor_map: SensorMap) -> dict[str, object]:
    """What the recording sidecar's ``device`` says about acquisition: the mode, and per
    sensor the chip's actual rate, low-pass and its group delay (datasheet; None where
    the datasheet does not publish one)."""
    from firmware_bridge.drivers import DRIVERS

    settings = AcquisitionSettings(odr_hz=sampling.rate_hz)
    per_sensor = {}
    for s in sensor_map.sensors:
        cfg = DRIVERS[s.chip].choose(  # type: ignore[attr-defined]
            settings.accel_range_g, settings.gyro_range_dps, settings.odr_hz, settings.dlpf_hz
        )[-1]
        per_sensor[s.label] = cfg.as_dict()
    out: dict[str, object] = {"mode": sampling.mode, "chips": per_sensor}
    if sampling.mode == "fifo":
        out["drain_interval_s"] = sampling.drain_interval_ms / 1e3
    return out
