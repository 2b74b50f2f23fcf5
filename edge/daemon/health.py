"""The ``health`` publisher: one message every interval, whatever any part is doing.

The payload is assembled from named *sources* (sampler, system, mqtt, recorder, model),
each a function returning some of the health fields. A source that raises, or returns
something that cannot be encoded as JSON, loses its own fields only: the message still
goes out, with ``"errors": {"<source>": "<ExceptionType>: <message>"}``, and the problem
is logged once per distinct message (not every few seconds). Nothing that happens while
building or queueing a message stops the thread; the schedule follows a monotonic
deadline, so a slow source does not make the period drift.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from edge.mqtt.payloads import encode_json

log = logging.getLogger(__name__)

#: A source of health fields; may raise (reported in the payload's ``errors``).
HealthSource = Callable[[], Mapping[str, Any]]


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:197] + "..."


class HealthReporter:
    """Builds and publishes ``health`` every ``interval_s`` on its own thread.

    Args:
        sources: name → function returning health fields (merged in this order).
        publish: queues one encoded-able mapping (e.g. ``MqttLink.publish_health``).
        interval_s: the period (s); change it at run time with :attr:`interval_s`.
    """

    def __init__(
        self,
        sources: Mapping[str, HealthSource],
        publish: Callable[[Mapping[str, Any]], object],
        interval_s: float,
    ) -> None:
        self.sources = dict(sources)
        self._publish = publish
        self.interval_s = float(interval_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._logged: set[tuple[str, str]] = set()
        self._log_lock = threading.Lock()
        #: messages handed to ``publish`` / ticks that could not publish at all.
        self.published = 0
        self.failures = 0

    def _log_once(self, where: str, text: str) -> None:
        with self._log_lock:
            if (where, text) in self._logged:
                return
            if len(self._logged) < 1000:
                self._logged.add((where, text))
        log.error("health: %s failed: %s (reported in health.errors)", where, text)

    def build(self) -> dict[str, Any]:
        """One payload: every source's fields, and ``errors`` for those that failed.

        Every field in the result is JSON-encodable (checked per source).
        """
        payload: dict[str, Any] = {"wall_time": time.time()}
        errors: dict[str, str] = {}
        for name, source in self.sources.items():
            try:
                fields = dict(source())
                encode_json(fields)  # a field the encoder refuses costs this source only
            except Exception as exc:
                text = _describe(exc)
                errors[name] = text
                self._log_once(name, text)
                continue
            payload.update(fields)
        if errors:
            payload["errors"] = errors
        return payload

    def tick(self) -> bool:
        """Build and publish one message; never raises. True when it was queued."""
        try:
            self._publish(self.build())
            self.published += 1
            return True
        except Exception as exc:
            self.failures += 1
            self._log_once("publish", _describe(exc))
            return False

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        due = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            self.tick()
            now = time.monotonic()
            due += self.interval_s
            if not now < due <= now + self.interval_s:  # fell behind, or interval changed
                due = now + self.interval_s
