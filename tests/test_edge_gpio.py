"""The daemon's GPIO from the config, on gpiozero mock pins and the emulated bus: the
record button, the status LED and the TCA9548A reset line as bus recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from daemon_helpers import SHIPPED_BUNDLE

from edge.config import ConfigError, DaemonConfig
from edge.daemon import Daemon
from edge.daemon.simulate import replay_recording, simulated_parts, simulation_config
from edge.mqtt.publish_settings import PublishSettings
from edge.recording import bundled_recording_path, read_recording
from firmware_bridge.clock import Clock

RATE = 100.0
PINS = {"record_button": 17, "status_led": 27, "mux_reset": 23}


def wait_until(cond: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _daemon(broker, tmp: Path, gpio: dict, *, fast: bool, record: bool, seconds: float = 60.0):
    rec = replay_recording(read_recording(bundled_recording_path("P01_walking")), RATE, seconds)
    cfg = simulation_config(
        rec,
        broker=broker.address,
        device_id=f"gpio{tmp.name[-6:]}",
        bundle=SHIPPED_BUNDLE,
        record_dir=tmp / "rec" if record else None,
        publish=PublishSettings(publish_rate_hz=20.0),
    )
    data = cfg.model_dump()
    data["recorder"]["dir"] = str(tmp / "rec")
    data["gpio"] = gpio
    return Daemon(DaemonConfig.model_validate(data), simulated_parts(rec, fast=fast))


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    """The daemon started and sampling in real time in a thread; closed on exit."""
    daemon.start()
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 60.0})
    runner.start()
    try:
        wait_until(lambda: daemon.loop.samples > 10)
        yield daemon
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()


def _recorded(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """time_s (N,) and imu (N, S, 6) of every recorded segment, in time order."""
    recs = [read_recording(p) for p in sorted(folder.rglob("*.csv"))]
    recs.sort(key=lambda r: r.time_s[0])
    return (
        np.concatenate([r.time_s for r in recs]),
        np.concatenate([r.imu for r in recs]),
        list(recs[0].sensors),
    )


def test_gpio_config_is_checked() -> None:
    base = {"device": {"id": "d"}, "participant": {"height_m": 1.7, "mass_kg": 70}}
    with pytest.raises(ValueError, match="distinct"):
        DaemonConfig.model_validate({**base, "gpio": {"status_led": 23, "mux_reset": 23}})
    with pytest.raises(ValueError, match="I2C bus"):
        DaemonConfig.model_validate({**base, "gpio": {"mux_reset": 3}})
    with pytest.raises((ValueError, ConfigError), match="mux_rest"):
        DaemonConfig.model_validate({**base, "gpio": {"mux_rest": 23}})


def test_record_button_toggles_recording_and_led_follows(mosquitto, tmp_path: Path) -> None:
    daemon = _daemon(mosquitto, tmp_path, {**PINS, "button_hold_s": 0.5}, fast=False, record=False)
    factory = daemon.parts.pin_factory
    button, led = factory.pin(17), factory.pin(27)
    with running(daemon):
        wait_until(lambda: daemon.gpio.led.pattern == "ok")
        assert not daemon.recorder.recording
        # contact bounce, then held: one start
        for _ in range(3):
            button.drive_low()
            button.drive_high()
        button.drive_low()
        wait_until(lambda: daemon.gpio.toggles == 1)
        button.drive_high()
        assert daemon.recorder.recording
        wait_until(lambda: daemon.gpio.led.pattern == "recording" and led.state)
        health = daemon.health()["gpio"]
        assert health["record_button_toggles"] == 1 and health["led"] == "recording"
        # a second hold stops it; the segment is closed on disk
        button.drive_low()
        wait_until(lambda: daemon.gpio.toggles == 2)
        button.drive_high()
        assert not daemon.recorder.recording
        wait_until(lambda: daemon.gpio.led.pattern == "ok")
    # a closed recording from between the two presses
    assert daemon.recorder.stats().samples_appended > 0
    assert list((tmp_path / "rec").rglob("*.csv")) and list((tmp_path / "rec").rglob("*.json"))
    assert daemon.gpio.led is not None and daemon.gpio.led.pattern == "off"
    assert not led.state


def test_led_shows_a_missing_sensor_as_fault(mosquitto, tmp_path: Path) -> None:
    daemon = _daemon(mosquitto, tmp_path, PINS, fast=False, record=True)
    hw = daemon.parts.hardware
    with running(daemon):
        wait_until(lambda: daemon.gpio.led.pattern == "recording")  # recording, all sensors
        hw.device("tibia_l").vanish()
        wait_until(lambda: daemon.gpio.led.pattern == "fault")
        assert daemon.health()["gpio"]["led"] == "fault"
        hw.device("tibia_l").reappear()
        wait_until(lambda: daemon.gpio.led.pattern == "recording")


class ScheduledLockup:
    """An emulated device holds SDA low on ``channel`` from ``start_s`` to ``end_s`` (the
    bus's clock): wraps the emulated bus's transfer to switch the fault on and off."""

    def __init__(self, hw, clock: Clock, channel: int, start_s: float, end_s: float) -> None:
        self.hw, self.clock, self.channel = hw, clock, channel
        self.start_ns, self.end_ns = int(start_s * 1e9), int(end_s * 1e9)
        self.t0_ns: int | None = None  # the sampler's tick 0 (set once it is known)
        self._transfer = hw.smbus.transfer
        hw.smbus.transfer = self.transfer

    def transfer(self, messages):
        now = None if self.t0_ns is None else self.clock.monotonic_ns() - self.t0_ns
        if now is not None and self.start_ns <= now < self.end_ns:
            self.hw.smbus.lock_up(self.channel)
        else:
            self.hw.smbus.release_lockup()
        return self._transfer(messages)


def _run_with_lockup(mosquitto, tmp: Path, gpio: dict, seconds: float = 4.0):
    daemon = _daemon(mosquitto, tmp, gpio, fast=True, record=True, seconds=seconds + 5)
    hw = daemon.parts.hardware
    name = "foot_r"
    channel = next(s.channel for s in hw.sensor_map.sensors if s.label == name)
    fault = ScheduledLockup(hw, daemon.parts.clock, channel, 1.0, 1.5)
    daemon.start()
    fault.t0_ns = daemon.parts.clock.monotonic_ns()  # the sampler's tick 0 is now
    try:
        daemon.run(n_samples=int(seconds * RATE))
    finally:
        daemon.close()
    t, imu, sensors = _recorded(tmp / "rec")
    missing = ~np.isfinite(imu).all(axis=2)  # (N, S)
    return daemon, t, missing, sensors.index(name)


def test_lockup_on_one_channel_costs_only_its_sensor(mosquitto, tmp_path: Path) -> None:
    daemon, t, missing, s = _run_with_lockup(mosquitto, tmp_path, PINS)
    assert len(t) == 400
    others = np.delete(missing, s, axis=1)
    assert not others.any(), f"other sensors lost {others.sum()} samples"
    gap = t[missing[:, s]]
    assert gap.size > 0 and gap.min() >= 1.0 - 1e-9
    # back within 0.2 s of the device letting go of the bus at 1.5 s
    assert gap.max() < 1.5 + 0.2, gap.max()
    assert daemon.acquisition.lockups >= 1
    assert daemon.gpio.mux_reset.pulses == daemon.acquisition.lockups
    assert daemon.health()["gpio"]["mux_resets"] >= 1


def test_without_the_reset_line_a_lockup_takes_every_sensor(mosquitto, tmp_path: Path) -> None:
    daemon, t, missing, _ = _run_with_lockup(mosquitto, tmp_path, {"status_led": 27})
    assert daemon.acquisition.bus_recovery is None
    during = (t >= 1.1) & (t < 1.5)
    assert missing[during].all()  # all seven sensors gone while the bus is held


def test_a_pin_that_cannot_be_opened_is_reported_and_the_rest_runs() -> None:
    from gpiozero import LED
    from gpiozero.pins.mock import MockFactory

    from edge.config import GpioConfig
    from edge.daemon.gpio_panel import GpioPanel

    factory = MockFactory()
    taken = LED(27, pin_factory=factory)  # another program holds the LED pin
    toggled: list[int] = []
    panel = GpioPanel(
        GpioConfig(record_button=17, status_led=27, mux_reset=23, button_hold_s=0.05),
        toggle_recording=lambda: toggled.append(1),
        pattern=lambda: "ok",
        pin_factory=factory,
    )
    try:
        assert panel.led is None and "GPIO27" in panel.status()["problems"]["status_led"]
        assert panel.bus_recovery is not None  # the reset line still works
        panel.start()
        factory.pin(17).drive_low()
        wait_until(lambda: panel.toggles == 1)
        factory.pin(17).drive_high()
        assert toggled == [1]
    finally:
        panel.close()
        taken.close()
