"""Status LED, record button, sync pulse and multiplexer reset, through gpiozero.

On a Pi gpiozero drives the pins with lgpio or RPi.GPIO; anywhere else it runs on its
mock pin factory (``GPIOZERO_PIN_FACTORY=mock`` or ``Device.pin_factory = MockFactory()``).
Every class takes ``pin_factory`` so tests can inject one. Pins are BCM numbers.

LED patterns (one LED says it all, readable from a metre away):

| pattern     | meaning                               | timing                      |
|-------------|---------------------------------------|-----------------------------|
| ``ok``      | idle, all sensors present             | 0.1 s flash every 2 s       |
| ``recording``| writing a recording                  | steady on                   |
| ``fault``   | a sensor missing / bus problem        | 5 Hz blink                  |
| ``off``     | not running                           | off                         |
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

log = logging.getLogger(__name__)

Pattern = Literal["off", "ok", "recording", "fault"]
#: pattern → (on_time s, off_time s); None = steady
PATTERNS: dict[str, tuple[float, float] | None] = {
    "ok": (0.1, 1.9),
    "recording": None,
    "fault": (0.1, 0.1),
}


class StatusLed:
    """One LED showing :data:`PATTERNS` (blinking in gpiozero's background thread)."""

    def __init__(self, pin: int | str = 27, *, pin_factory: Any = None) -> None:
        from gpiozero import LED

        self.led = LED(pin, pin_factory=pin_factory)
        self.pattern: Pattern = "off"

    def show(self, pattern: Pattern) -> None:
        if pattern == self.pattern:
            return
        if pattern == "off":
            self.led.off()
        elif pattern == "recording":
            self.led.on()
        elif pattern in PATTERNS:
            on, off = PATTERNS[pattern]  # type: ignore[misc]
            self.led.blink(on_time=on, off_time=off, background=True)
        else:
            raise ValueError(f"unknown LED pattern {pattern!r}; use off, ok, recording, fault")
        self.pattern = pattern

    def close(self) -> None:
        self.led.close()


class RecordButton:
    """A push button to GND (internal pull-up): a press toggles recording.

    ``on_press`` runs in gpiozero's event thread: keep it short (set a flag / queue).
    Presses within ``debounce_s`` of the previous one are ignored. With ``hold_s`` a
    press counts only once the button has been held down for ``hold_s`` without a
    break (gloves, bumps; contact bounce restarts the wait), once per hold.
    """

    def __init__(
        self,
        pin: int | str = 17,
        on_press: Callable[[], None] | None = None,
        *,
        debounce_s: float = 0.05,
        hold_s: float | None = None,
        pin_factory: Any = None,
    ) -> None:
        from gpiozero import Button

        self.button = Button(
            pin,
            pull_up=True,
            bounce_time=None,
            hold_time=hold_s if hold_s is not None else 1.0,
            pin_factory=pin_factory,
        )
        self.on_press = on_press
        self.debounce_s = debounce_s
        self.hold_s = hold_s
        self.presses = 0
        self._last = -1e9
        self._lock = threading.Lock()
        if hold_s is None:
            self.button.when_pressed = self._pressed
        else:
            self.button.when_held = self._pressed

    def _pressed(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.debounce_s:
                return
            self._last = now
            self.presses += 1
        if self.on_press is not None:
            try:
                self.on_press()
            except Exception:  # never kill gpiozero's event thread
                log.exception("record button callback failed")

    @property
    def is_pressed(self) -> bool:
        return bool(self.button.is_pressed)

    def close(self) -> None:
        self.button.close()


class SyncOutput:
    """A digital output that emits a short pulse to mark a moment in other systems
    (camera LED, motion-capture trigger). :meth:`pulse` returns the monotonic time (ns)
    of the rising edge so the recorder can log it next to the samples."""

    def __init__(
        self,
        pin: int | str = 22,
        *,
        width_s: float = 0.01,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        pin_factory: Any = None,
    ) -> None:
        from gpiozero import DigitalOutputDevice

        self.out = DigitalOutputDevice(pin, initial_value=False, pin_factory=pin_factory)
        self.width_s = width_s
        self._clock_ns = clock_ns
        self.pulses: list[int] = []

    def pulse(self) -> int:
        """Start a pulse (non-blocking); returns the rising edge time (ns)."""
        t = self._clock_ns()
        self.out.blink(on_time=self.width_s, off_time=0.0, n=1, background=True)
        self.pulses.append(t)
        return t

    def close(self) -> None:
        self.out.close()


class MuxResetLine:
    """The TCA9548A's active-low RESET pin: a pulse disconnects every channel, which
    frees a bus held low by a device behind the multiplexer (use as
    ``Acquisition(bus_recovery=line.pulse)``). ``sleep`` waits out the pulse width (the
    sampler's clock, so a simulated clock advances instead of sleeping)."""

    def __init__(
        self,
        pin: int | str = 23,
        *,
        width_s: float = 0.001,
        pin_factory: Any = None,
        on_pulse: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from gpiozero import DigitalOutputDevice

        # active_high=False: "on" drives the pin low (RESET asserted)
        self.out = DigitalOutputDevice(
            pin, active_high=False, initial_value=False, pin_factory=pin_factory
        )
        self.width_s = width_s
        self.on_pulse = on_pulse
        self._sleep = sleep
        self.pulses = 0

    def pulse(self) -> None:
        """Assert RESET for ``width_s`` (blocking; the TCA9548A needs ≥ 6 ns)."""
        self.out.on()
        self._sleep(self.width_s)
        self.out.off()
        self.pulses += 1
        if self.on_pulse is not None:
            self.on_pulse()

    def close(self) -> None:
        self.out.close()
