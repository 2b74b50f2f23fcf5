"""The device's GPIO from the ``[gpio]`` config: record button, status LED, mux reset.

- Record button: held for ``button_hold_s`` (a press with gloves; shorter presses and
  contact bounce do nothing) it starts recording, or stops the one running.
- Status LED (:data:`firmware_bridge.gpio.PATTERNS`): ``fault`` while a sensor is
  missing or the recorder raised an alarm, else ``recording`` while recording, else
  ``ok`` (running); ``off`` before start and after close.
- Multiplexer reset: the TCA9548A's active-low RESET line, pulsed as the acquisition's
  ``bus_recovery`` on a bus lock-up (it disconnects the channel holding SDA low).

Button actions and LED updates run in one small thread (``gpio``), never on the sampling
thread or in gpiozero's callback thread. A pin that cannot be opened (no GPIO on this
machine, a pin in use) is logged once and reported in ``health``; the daemon runs on
without it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from edge.config import GpioConfig
from firmware_bridge.clock import Clock, SystemClock
from firmware_bridge.gpio import MuxResetLine, Pattern, RecordButton, StatusLed

log = logging.getLogger(__name__)

#: RESET low time (s); the TCA9548A needs ≥ 6 ns, a gpiozero write alone takes µs
MUX_RESET_WIDTH_S = 10e-6


class GpioPanel:
    """Record button, status LED and multiplexer reset line of one device.

    Args:
        cfg: the ``[gpio]`` section (BCM pin numbers; None = not wired).
        toggle_recording: starts or stops recording (runs in the panel's thread).
        pattern: the LED pattern the device state calls for now.
        pin_factory: gpiozero pin factory (None: gpiozero's default, lgpio on a Pi;
            ``MockFactory`` in simulation and tests).
        clock: times the reset pulse (a simulated clock in simulation).
        on_mux_reset: also called on each reset pulse (the emulated multiplexer's
            RESET pin in simulation; None on hardware, where the pin does it).
        poll_s: how often the LED follows the device state (s).
    """

    def __init__(
        self,
        cfg: GpioConfig,
        *,
        toggle_recording: Callable[[], None],
        pattern: Callable[[], Pattern],
        pin_factory: Any = None,
        clock: Clock | None = None,
        on_mux_reset: Callable[[], None] | None = None,
        poll_s: float = 0.1,
    ) -> None:
        self.cfg = cfg
        self._toggle = toggle_recording
        self._pattern = pattern
        self.poll_s = poll_s
        self.problems: dict[str, str] = {}
        self.toggles = 0
        self._actions: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False
        clock = clock or SystemClock()
        self.led: StatusLed | None = self._open(
            "status_led", cfg.status_led, lambda pin: StatusLed(pin, pin_factory=pin_factory)
        )
        self.button: RecordButton | None = self._open(
            "record_button",
            cfg.record_button,
            lambda pin: RecordButton(
                pin, self._pressed, hold_s=cfg.button_hold_s, pin_factory=pin_factory
            ),
        )
        self.mux_reset: MuxResetLine | None = self._open(
            "mux_reset",
            cfg.mux_reset,
            lambda pin: MuxResetLine(
                pin,
                width_s=MUX_RESET_WIDTH_S,
                pin_factory=pin_factory,
                on_pulse=on_mux_reset,
                sleep=clock.sleep,
            ),
        )

    def _open(self, name: str, pin: int | None, make: Callable[[int], Any]) -> Any:
        if pin is None:
            return None
        try:
            return make(pin)
        except Exception as exc:  # no GPIO here, pin busy, no permission: run without it
            self.problems[name] = f"GPIO{pin}: {type(exc).__name__}: {exc}"
            log.error("gpio.%s (GPIO%d) not available, running without it: %s", name, pin, exc)
            return None

    @property
    def bus_recovery(self) -> Callable[[], None] | None:
        """What the acquisition calls on a bus lock-up: the reset pulse, if wired."""
        return self.mux_reset.pulse if self.mux_reset is not None else None

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start following the device state (LED) and serving the button."""
        if self._thread is not None or (self.led is None and self.button is None):
            return
        self._thread = threading.Thread(target=self._run, name="gpio", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """LED off, every pin released (the pins return to inputs). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._actions.put(None)
            self._thread.join(timeout=5.0)
            self._thread = None
        if self.led is not None:
            self.led.show("off")
        for dev in (self.button, self.led, self.mux_reset):
            if dev is not None:
                dev.close()

    # ---- the panel's thread ---------------------------------------------------------
    def _pressed(self) -> None:
        """gpiozero's callback thread: hand the action over, return at once."""
        self._actions.put("toggle")

    def _run(self) -> None:
        while True:
            self._show()
            try:
                action = self._actions.get(timeout=self.poll_s)
            except queue.Empty:
                continue
            if action is None:
                return
            try:
                self._toggle()
                self.toggles += 1
            except Exception as exc:  # e.g. the recorder's disk alarm: log, keep serving
                log.error("record button: %s", exc)
            self._show()

    def _show(self) -> None:
        if self.led is None:
            return
        try:
            self.led.show(self._pattern())
        except Exception:  # a broken state query must not stop the button
            log.exception("status LED update failed")

    def status(self) -> dict[str, Any]:
        """For ``health``: the LED pattern, button toggles, reset pulses, pin problems."""
        return {
            "led": self.led.pattern if self.led is not None else None,
            "record_button_toggles": self.toggles,
            "mux_resets": self.mux_reset.pulses if self.mux_reset is not None else None,
            "problems": dict(self.problems),
        }
