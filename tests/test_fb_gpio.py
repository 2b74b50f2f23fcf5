"""GPIO through gpiozero's mock pin factory (no Pi needed)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from firmware_bridge.emulation import build_emulated_bus
from firmware_bridge.gpio import MuxResetLine, RecordButton, StatusLed, SyncOutput
from firmware_bridge.sensor_map import SEGMENTS


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


def test_led_patterns(factory: MockFactory) -> None:
    led = StatusLed(27, pin_factory=factory)
    pin = factory.pin(27)
    led.show("recording")
    assert pin.state
    led.show("off")
    assert not pin.state
    pin.clear_states()
    led.show("fault")  # 5 Hz blink
    time.sleep(0.45)
    led.show("off")
    changes = [s.state for s in pin.states]
    assert sum(1 for a, b in itertools.pairwise(changes) if a != b) >= 6
    with pytest.raises(ValueError, match="unknown LED pattern"):
        led.show("disco")  # type: ignore[arg-type]
    led.close()


def test_led_ok_is_a_short_flash(factory: MockFactory) -> None:
    led = StatusLed(27, pin_factory=factory)
    pin = factory.pin(27)
    led.show("ok")
    time.sleep(0.05)
    assert pin.state  # the flash starts at once
    time.sleep(0.15)
    assert not pin.state  # ... and is short
    led.close()


def test_record_button_calls_back_once_per_press(factory: MockFactory) -> None:
    pressed: list[float] = []
    button = RecordButton(17, lambda: pressed.append(time.monotonic()), pin_factory=factory)
    pin = factory.pin(17)
    pin.drive_low()  # pressed (to GND, pull-up)
    pin.drive_high()
    pin.drive_low()  # a bounce 0 ms later: ignored
    pin.drive_high()
    assert len(pressed) == 1 and button.presses == 1
    time.sleep(0.06)
    pin.drive_low()
    assert len(pressed) == 2
    assert button.is_pressed
    button.close()


def test_sync_pulse(factory: MockFactory) -> None:
    sync = SyncOutput(22, width_s=0.02, pin_factory=factory)
    pin = factory.pin(22)
    t = sync.pulse()
    assert isinstance(t, int) and sync.pulses == [t]
    time.sleep(0.1)
    states = [s.state for s in pin.states]
    assert states[-2:] == [True, False]  # one rising and one falling edge
    sync.close()


def test_mux_reset_line_is_active_low_and_frees_the_bus(factory: MockFactory) -> None:
    hw = build_emulated_bus(np.zeros((2, 7, 6)), SEGMENTS, 100.0)
    hw.mux.mask = 0b1000
    line = MuxResetLine(23, pin_factory=factory, on_pulse=hw.mux.hardware_reset)
    pin = factory.pin(23)
    assert pin.state  # idle high (RESET not asserted)
    line.pulse()
    assert [s.state for s in pin.states][-2:] == [False, True]
    assert hw.mux.mask == 0 and line.pulses == 1
    line.close()
