"""Decimation and batching of estimate frames, independent of the sampling rate.

The inference loop runs at the sampling rate (e.g. 100 Hz); dashboards get
``publish_rate_hz`` frames per second (e.g. 20), ``batch_size`` frames per MQTT message
(so ``publish_rate_hz / batch_size`` messages per second). Per sample, the loop calls
:meth:`EstimatePublisher.tick` (a few float operations) and builds a frame only when it
returns True::

    if publisher.tick():
        publisher.submit(make_frame())

Decimation keeps a phase accumulator, so non-integer ratios are exact on average
(100 Hz → 30 Hz publishes samples 0, 4, 7, 10, 14, 17, 20, ...: gaps of 4, 3, 3).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from edge.mqtt.payloads import EstimateFrame
from edge.mqtt.publish_settings import PublishSettings, PublishSettingsUpdate

log = logging.getLogger(__name__)

#: Where full batches go, e.g. :meth:`edge.mqtt.link.MqttLink.publish_estimate`.
BatchSink = Callable[[Sequence[EstimateFrame]], object]


class EstimatePublisher:
    """Decimate per-sample estimates to the publish rate and group them into batches.

    Args:
        sink: called with each full batch (a tuple of frames, oldest first).
        sample_rate_hz: rate at which :meth:`tick` is called (Hz).
        settings: rate (or decimation) and batch size; default 20 frames/s, one per
            message. A rate above the sample rate is refused (ValueError).
    """

    def __init__(
        self,
        sink: BatchSink,
        sample_rate_hz: float,
        settings: PublishSettings | None = None,
    ) -> None:
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
        self._sink = sink
        self._sample_rate = float(sample_rate_hz)
        self._lock = threading.Lock()
        self._batch: list[EstimateFrame] = []
        self._acc = 0.0
        self._rate = 0.0
        self._settings = PublishSettings()
        self.ticks = 0
        self.frames = 0
        self.messages = 0
        self.apply(settings or PublishSettings())

    @property
    def settings(self) -> PublishSettings:
        """The settings in force."""
        return self._settings

    @property
    def publish_rate_hz(self) -> float:
        """Frames per second published (the effective rate, never unset)."""
        return self._rate

    @property
    def batch_size(self) -> int:
        return self._settings.batch_size

    @property
    def messages_per_s(self) -> float:
        return self._rate / self._settings.batch_size

    def reconfigure(self, **changes: Any) -> PublishSettings:
        """Apply a partial change (keys of :class:`PublishSettingsUpdate`), e.g. from
        ``cmd/config``; returns the new settings.

        Raises:
            ValueError: unknown keys, out-of-range values, a rate above the sample rate.
        """
        update = PublishSettingsUpdate(**changes)
        settings = self._settings.updated(update)
        rate_changed = bool({"publish_rate_hz", "decimation"} & set(update.given()))
        self.apply(settings, restart_phase=rate_changed)
        return settings

    def apply(self, settings: PublishSettings, *, restart_phase: bool = True) -> None:
        """Publish with ``settings`` from now on (thread-safe).

        A partly filled batch is sent first when the batch size changes; with
        ``restart_phase`` the decimation phase restarts (the next tick publishes).

        Raises:
            ValueError: a rate above the sample rate.
        """
        if settings.publish_rate_hz is not None and settings.publish_rate_hz > self._sample_rate:
            raise ValueError(
                f"publish_rate_hz must be in (0, {self._sample_rate:g}] (the sample rate), "
                f"got {settings.publish_rate_hz:g}"
            )
        with self._lock:
            old_batch = self._settings.batch_size
            self._settings = settings
            if restart_phase:
                self._rate = settings.effective_rate_hz(self._sample_rate)
                # Start one step short of a publish: the next tick publishes.
                self._acc = self._sample_rate - self._rate
            full = None
            if settings.batch_size != old_batch and self._batch:
                full = self._take_batch_locked()
        if full:
            self._emit(full)

    def tick(self) -> bool:
        """Call once per sample; True when this sample's estimate should be published."""
        self.ticks += 1
        acc = self._acc + self._rate
        if acc >= self._sample_rate:
            self._acc = acc - self._sample_rate
            return True
        self._acc = acc
        return False

    def submit(self, frame: EstimateFrame) -> None:
        """Add a frame to the batch; a full batch goes to the sink."""
        with self._lock:
            self._batch.append(frame)
            self.frames += 1
            full = (
                self._take_batch_locked() if len(self._batch) >= self._settings.batch_size else None
            )
        if full:
            self._emit(full)

    def offer(self, make_frame: Callable[[], EstimateFrame]) -> bool:
        """:meth:`tick`, and if due, build the frame and :meth:`submit` it."""
        if self.tick():
            self.submit(make_frame())
            return True
        return False

    def flush(self) -> None:
        """Send a partly filled batch now (e.g. when stopping)."""
        with self._lock:
            full = self._take_batch_locked() if self._batch else None
        if full:
            self._emit(full)

    def _take_batch_locked(self) -> tuple[EstimateFrame, ...]:
        batch = tuple(self._batch)
        self._batch.clear()
        return batch

    def _emit(self, batch: tuple[EstimateFrame, ...]) -> None:
        self.messages += 1
        try:
            self._sink(batch)
        except Exception:
            log.exception("estimate sink failed; batch of %d frames lost", len(batch))
