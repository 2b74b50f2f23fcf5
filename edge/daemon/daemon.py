"""The daemon: wires acquisition, the model, MQTT, the recorder and commands together.

Threads: the sampler runs in the caller's thread (``run``); paho's network loop and the
link's sender, the command worker, the recorder's writer and the health publisher run
in their own threads. Nothing on the sampling thread waits for the network or the disk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edge.bundle import BundleError
from edge.config import DaemonConfig
from edge.daemon.acquisition_mode import device_settings, make_acquisition, make_sampler
from edge.daemon.gpio_panel import GpioPanel
from edge.daemon.health import HealthReporter, HealthSource
from edge.daemon.loop import EstimationLoop
from edge.daemon.model_slot import ModelSlot
from edge.daemon.system_health import cpu_temp_c, disk_free_mb
from edge.mounting import Mounting
from edge.mounting.device import DeviceMounting
from edge.mqtt.commands import CommandDispatcher, CommandError, config_handler, record_handler
from edge.mqtt.link import MqttLink
from edge.mqtt.payloads import build_meta
from edge.mqtt.publisher import EstimatePublisher
from edge.mqtt.signed_commands import CommandVerifier
from edge.recorder import Recorder
from edge.recording import Participant, SensorPlacement, Sidecar
from firmware_bridge.bus import LockedBus
from firmware_bridge.calibration import CalibrationApplier, NotStillError, calibrate_still
from firmware_bridge.clock import Clock, SystemClock
from firmware_bridge.fifo_acquisition import FifoAcquisition
from firmware_bridge.gpio import Pattern
from firmware_bridge.sensor_map import SensorMap

log = logging.getLogger(__name__)


@dataclass
class DaemonParts:
    """The hardware side, injectable: a real bus on the Pi, an emulated one in simulation.

    Attributes:
        bus: the locked I2C bus.
        sensor_map: which chip is which segment (positions in segment frames, m).
        clock: the sampler's clock (``SimulatedClock`` runs as fast as possible).
        on_close: released on :meth:`Daemon.close` (e.g. close the SMBus).
        calibration: the calibration the samples have already been through before the
            bus (a replayed recording's sidecar ``calibration``), for the mounting rule.
        polled_only: the chips have no clock of their own (an emulated bus replaying one
            row per read): the acquisition is polled whatever ``sampling.mode`` says.
        pin_factory: gpiozero pin factory for the ``[gpio]`` pins (None: gpiozero's
            default, lgpio on a Pi; a ``MockFactory`` in simulation).
        on_mux_reset: called on each multiplexer reset pulse besides the pin itself (the
            emulated TCA9548A's RESET in simulation).
        hardware: the emulated hardware behind ``bus`` in simulation (fault injection),
            None on a device.
    """

    bus: LockedBus
    sensor_map: SensorMap
    clock: Clock = field(default_factory=SystemClock)
    on_close: Callable[[], None] | None = None
    calibration: dict[str, Any] | None = None
    polled_only: bool = False
    pin_factory: Any = None
    on_mux_reset: Callable[[], None] | None = None
    hardware: Any = None


class Daemon:
    """One device: sample → estimate → publish and record; answer commands.

    Args:
        cfg: validated daemon config.
        parts: the hardware side.
        backpressure: wait for the MQTT queue to drain (simulation as fast as possible;
            never on a real device, where the sampler must keep its rate).
    """

    def __init__(self, cfg: DaemonConfig, parts: DaemonParts, *, backpressure: bool = False):
        self.cfg = cfg
        self.parts = parts
        self.backpressure = backpressure
        rate = cfg.sampling.rate_hz
        smap = parts.sensor_map
        self.names = list(smap.names)
        positions = np.array(
            [(s.position_m or (0.0, 0.0, 0.0))[:2] for s in smap.sensors], dtype=np.float64
        )
        self.sampling = cfg.sampling
        if parts.polled_only and cfg.sampling.mode != "polled":
            log.info("the emulated chips replay one row per read: polled acquisition")
            self.sampling = cfg.sampling.model_copy(update={"mode": "polled"})
        self.acquisition = make_acquisition(self.sampling, parts.bus, smap, parts.clock)
        bundle_path = cfg.model.bundle
        self.slot = ModelSlot.from_config(cfg, smap)
        if bundle_path is not None:
            self.slot.load(bundle_path)
        self.mounting = DeviceMounting.from_config(
            cfg.mounting, self.names, rate, self._sidecar_template(positions), self.slot.model_dir
        )
        if parts.calibration:
            self.mounting.set_calibration(parts.calibration, keep=False)
        self.slot.set_mounting(self.mounting.angles())
        self.link = MqttLink.from_config(cfg)
        self.publisher = EstimatePublisher(
            self.link.publish_estimate, rate, cfg.mqtt.publish_settings()
        )
        self.link.set_meta(self._meta())
        self.alarm: str | None = None
        self.recorder = Recorder.from_config(
            cfg, self._sidecar_template(positions), on_alarm=self._on_alarm
        )
        self.recorder.set_calibration(self.mounting.sidecar_calibration())
        self.calibration: CalibrationApplier | None = None
        self.loop = EstimationLoop(
            self.acquisition,
            self.slot,
            self.publisher,
            rate_hz=rate,
            recorder=self.recorder,
            sensor_names=self.names,
            clock=parts.clock,
            mounting=self.mounting,
        )
        self.mounting.on_change = self._on_mounting
        self.sampler = make_sampler(self.sampling, parts.clock)
        self.dispatcher = CommandDispatcher(self.link, verifier=self._command_verifier())
        self.dispatcher.register("record", record_handler(self.recorder))
        self.dispatcher.register(
            "config", config_handler(self.publisher, self._set_health, self._republish_meta)
        )
        self.dispatcher.register("model", self._on_model)
        self.dispatcher.register("calibrate", self._on_calibrate)
        self.health_reporter = HealthReporter(
            self._health_sources(), self.link.publish_health, cfg.mqtt.health_interval_s
        )
        self._started = False
        # last: nothing after it can fail and leave the pins claimed
        self.gpio = GpioPanel(
            cfg.gpio,
            toggle_recording=self._toggle_recording,
            pattern=self._led_pattern,
            pin_factory=parts.pin_factory,
            clock=parts.clock,
            on_mux_reset=parts.on_mux_reset,
        )
        self.acquisition.bus_recovery = self.gpio.bus_recovery  # the mux reset pulse

    # ---- construction helpers ---------------------------------------------------------
    def _command_verifier(self) -> CommandVerifier | None:
        """``[commands] require_signed``: the checker every command must pass, else None."""
        commands = self.cfg.commands
        if not commands.require_signed:
            return None
        return CommandVerifier(commands.trusted_key_bytes(), self.cfg.device.id, commands.max_age_s)

    def _meta(self) -> dict[str, Any]:
        """The retained ``meta``: the model in use and what the publisher does now."""
        bundle = self.slot.bundle
        m = bundle.manifest if bundle else None
        return build_meta(
            device_id=self.cfg.device.id,
            sample_rate_hz=self.cfg.sampling.rate_hz,
            publish_rate_hz=self.publisher.publish_rate_hz,
            batch_size=self.publisher.batch_size,
            sensors=self.names,
            joints=m.outputs["angles_deg"].channels if m else (),
            moments=m.outputs["moments_bwbh"].channels if m else (),
            grf=m.outputs["grf_bw"].channels if m else (),
            model_id=m.model_id if m else None,
            model_version=m.version if m else None,
            extra={
                "participant": {
                    "height_m": self.cfg.participant.height_m,
                    "mass_kg": self.cfg.participant.mass_kg,
                },
                "device_name": self.cfg.device.name,
                "health_interval_s": self._health_interval_s(),
                "mounting": {
                    "applied": self.slot.input_axes == "segment",
                    "model_input_axes": self.slot.input_axes,
                    **self.mounting.report(),
                },
            },
        )

    def _sidecar_template(self, positions: np.ndarray) -> Sidecar:
        smap = self.parts.sensor_map
        return Sidecar(
            participant=Participant.model_validate(self.cfg.participant.model_dump()),
            sample_period_s=1.0 / self.cfg.sampling.rate_hz,
            sensors={
                s.label: SensorPlacement(
                    segment=s.segment, position_m=tuple(s.position_m or (0.0, 0.0, 0.0))
                )
                for s in smap.sensors
            },
            device={
                "id": self.cfg.device.id,
                "sensors": [
                    {"name": s.label, "chip": s.chip, "where": s.where()} for s in smap.sensors
                ],
                "acquisition": device_settings(self.sampling, smap),
            },
        )

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> dict[str, str]:
        """Bring up sensors, MQTT, commands, health; returns sensors that did not start."""
        problems = self.acquisition.start()
        self.link.start()
        self.dispatcher.start()
        self.health_reporter.start()
        if self.cfg.recorder.enabled_at_start:
            self.recorder.start(note="enabled at start")
        self._started = True
        self.gpio.start()
        return problems

    def run(self, duration_s: float | None = None, n_samples: int | None = None) -> dict:
        """Sample until ``duration_s``/``n_samples`` (FIFO: at least that many, the last
        drain's burst is finished) or :meth:`stop`; returns sampler stats."""
        if not self._started:
            self.start()
        fifo = isinstance(self.acquisition, FifoAcquisition)
        callback = self.loop.on_drain if fifo else self.loop.on_tick
        if fifo and n_samples is not None:
            drain, target = callback, self.loop.samples + n_samples

            def callback(tick):  # type: ignore[no-untyped-def]
                drain(tick)
                if self.loop.samples >= target:
                    self.sampler.stop()

            n_samples = None
        if self.backpressure:
            inner = callback

            def callback(tick):  # type: ignore[no-untyped-def]
                inner(tick)
                while self.link.queue_depth > 200 and self.link.is_connected:
                    time.sleep(0.001)  # (an unreachable broker must not stall the run)

        stats = self.sampler.run(callback, duration_s=duration_s, n_ticks=n_samples)
        self.publisher.flush()
        # ticks: samples (polled) or drains (FIFO); samples: what the loop processed
        return {**stats.as_dict(), "mode": self.sampling.mode, "samples": self.loop.samples}

    def stop(self) -> None:
        """Ask the sampling loop to end (safe from signal handlers and other threads)."""
        self.sampler.stop()

    def close(self, timeout_s: float = 5.0) -> None:
        """Close the segment, publish ``offline`` and disconnect, release the hardware."""
        self._started = False
        self.gpio.close()  # no button action while closing; LED off
        self.health_reporter.stop()
        self.publisher.flush()
        self.link.wait_idle(min(timeout_s, 2.0))
        self.recorder.close()
        self.dispatcher.close()
        self.link.close()
        if self.parts.on_close is not None:
            self.parts.on_close()

    def _on_mounting(self, mounting: Mounting) -> None:
        """A new mounting in use: into the model, the next recording segments and meta."""
        self.slot.set_mounting(mounting.angles(self.names))
        self.recorder.set_calibration(self.mounting.sidecar_calibration())
        self._republish_meta()

    def _republish_meta(self) -> None:
        """Replace the retained ``meta`` (after a model swap or a config change)."""
        self.link.set_meta(self._meta())

    # ---- GPIO -------------------------------------------------------------------------
    def _toggle_recording(self) -> None:
        """The record button: start recording, or stop the recording running."""
        if self.recorder.recording:
            closed = self.recorder.stop()
            log.info("record button: stopped (%d segments)", len(closed))
        else:
            session = self.recorder.start(note="record button")
            log.info("record button: recording to %s", session)

    def _led_pattern(self) -> Pattern:
        """fault (a sensor missing, recorder alarm) > recording > ok; off when stopped."""
        if not self._started:
            return "off"
        loop = self.loop
        if self.alarm is not None or (loop.samples and loop.sensors_ok < len(self.names)):
            return "fault"
        return "recording" if self.recorder.recording else "ok"

    # ---- health -----------------------------------------------------------------------
    def _set_health(self, interval_s: float) -> None:
        self.health_reporter.interval_s = interval_s

    def _health_interval_s(self) -> float:
        """The health period now (``cmd/config`` changes it; meta reports it)."""
        reporter = getattr(self, "health_reporter", None)  # None while constructing
        return reporter.interval_s if reporter else self.cfg.mqtt.health_interval_s

    def _health_sources(self) -> dict[str, HealthSource]:
        """The parts of ``health``: a failing one is reported in ``errors``, never fatal."""

        def sampler() -> dict[str, Any]:
            st, lat = self.sampler, self.loop.latency
            return {
                "t": self.loop.last_t,
                "loop_rate_hz": self._sample_rate_hz(),
                "overruns": st.overruns,
                "mode": self.sampling.mode,
                "samples_lost": sum(h.samples_lost for h in self.acquisition.health()),
                "latency_ms_p50": lat.percentile_us(50) / 1e3,
                "latency_ms_p99": lat.percentile_us(99) / 1e3,
                "sensors_ok": self.loop.sensors_ok,
                "sensors_total": len(self.names),
                "samples": self.loop.samples,
            }

        def system() -> dict[str, Any]:
            return {"cpu_temp_c": cpu_temp_c(), "disk_free_mb": disk_free_mb(self.cfg.recorder.dir)}

        def mqtt() -> dict[str, Any]:
            return {"queue_depth": self.link.queue_depth}

        def recorder() -> dict[str, Any]:
            stats = asdict(self.recorder.stats())
            return {"recording": stats["recording"], "recorder": {"alarm": self.alarm, **stats}}

        def model() -> dict[str, Any]:
            bundle = self.slot.bundle
            return {
                "model": bundle.manifest.model_id if bundle else None,
                "model_version": bundle.manifest.version if bundle else None,
                "model_swaps": self.slot.swaps,
                "model_rollbacks": self.slot.rollbacks,
                "mounting": self.mounting.status(),
            }

        def gpio() -> dict[str, Any]:
            return {"gpio": self.gpio.status()}

        return {
            "sampler": sampler,
            "system": system,
            "mqtt": mqtt,
            "recorder": recorder,
            "model": model,
            "gpio": gpio,
        }

    def _sample_rate_hz(self) -> float:
        """Samples processed per second (FIFO mode: not the drain rate)."""
        st = self.sampler
        if st.ticks < 2:
            return 0.0
        return round(st.stats().achieved_rate_hz * self.loop.samples / st.ticks, 2)

    def health(self) -> dict[str, Any]:
        """The current ``health`` payload (JSON-encodable; failed parts under ``errors``)."""
        return self.health_reporter.build()

    def _on_alarm(self, reason: str) -> None:
        self.alarm = reason
        log.error("recorder alarm: %s", reason)

    # ---- commands ---------------------------------------------------------------------
    def _on_model(self, upload: Any) -> dict[str, Any]:
        try:
            result = self.slot.replace(upload.data, allow_downgrade=upload.allow_downgrade)
        except BundleError as exc:
            raise CommandError(f"model refused, the old model keeps running: {exc}") from exc
        self._republish_meta()
        return result

    def _on_calibrate(self, request: Any) -> dict[str, Any]:
        """Capture ``duration_s`` of (uncalibrated) data from the loop, then calibrate."""
        n = max(10, int(request.duration_s * self.cfg.sampling.rate_hz))
        previous = self.loop.calibration
        self.loop.calibration = None
        capture = self.loop.request_capture(n)
        if not capture.wait(request.duration_s * 3 + 5):
            self.loop.cancel_capture(capture)
            self.loop.calibration = previous
            raise CommandError("calibration timed out: is the sampler running?")
        try:
            result = calibrate_still(capture.data, self.names, self.cfg.sampling.rate_hz)
        except NotStillError as exc:
            self.loop.calibration = previous
            raise CommandError(f"not still enough to calibrate: {exc}") from exc
        applier = result.applier(self.names)
        if request.kind == "gyro_bias":
            applier.cos[:] = 1.0
            applier.sin[:] = 0.0
        self.loop.calibration = applier
        self.mounting.set_calibration({"kind": request.kind, **result.to_sidecar()})
        return {
            "kind": request.kind,
            "calibration": result.to_sidecar(),
            "mounting": self.mounting.report()["sensors"],
        }
