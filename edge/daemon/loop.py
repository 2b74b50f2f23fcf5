"""The per-sample work: read sensors → calibrate → record → estimate → publish."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.daemon.model_slot import ModelSlot, SlotStep
from edge.daemon.raw_capture import RawCapture
from edge.mounting.device import DeviceMounting
from edge.mqtt.payloads import EstimateFrame
from edge.mqtt.publisher import EstimatePublisher
from firmware_bridge.acquisition import Acquisition, Frame
from firmware_bridge.calibration import CalibrationApplier
from firmware_bridge.clock import Clock, SystemClock
from firmware_bridge.sampler import LatencyHistogram, Tick


class EstimationLoop:
    """The sampler's callback: :meth:`on_tick` (polled) or :meth:`on_drain` (FIFO).

    Polled mode (:meth:`on_tick`): the sample time is ``tick.index / rate`` (the sampler
    schedules on absolute deadlines). FIFO mode (:meth:`on_drain`): the acquisition's
    grid index on the chips' drift-corrected time base. Either way estimates, recordings
    and a replayed file share one time base. Latency is measured on the loop's clock
    from the moment the sample was taken (polled: the tick's start; FIFO: the grid
    point's host time, so the FIFO wait and the drain interval are included) to the end
    of the sample's work (recording, inference, publishing hand-off).
    """

    def __init__(
        self,
        acquisition: Acquisition,
        slot: ModelSlot,
        publisher: EstimatePublisher,
        *,
        rate_hz: float,
        recorder: object | None = None,
        calibration: CalibrationApplier | None = None,
        sensor_names: Sequence[str] = (),
        clock: Clock | None = None,
        mounting: DeviceMounting | None = None,
    ) -> None:
        self.acq = acquisition
        self.slot = slot
        self.publisher = publisher
        self.recorder = recorder
        self.calibration = calibration
        self.mounting = mounting  # sees every calibrated sample (functional estimate)
        self.rate_hz = rate_hz
        self.names = list(sensor_names) or list(acquisition.names)
        self.clock = clock or SystemClock()
        self.latency = LatencyHistogram()
        self.samples = 0
        self.last_t = 0.0
        self.sensors_ok = 0
        self.estimates = 0
        self._capture: RawCapture | None = None

    def request_capture(self, n_samples: int) -> RawCapture:
        """Capture the next ``n_samples`` raw samples (before calibration is applied);
        wait on the returned capture. Any other thread may call this; a new request
        replaces one still running."""
        capture = RawCapture(n_samples, len(self.names))
        self._capture = capture
        return capture

    def cancel_capture(self, capture: RawCapture) -> None:
        """Stop filling ``capture`` (e.g. after the caller gave up waiting)."""
        if self._capture is capture:
            self._capture = None

    def on_tick(self, tick: Tick) -> None:
        """Polled mode: read one sample now (the sampler's tick is the sample)."""
        self.process(self.acq.read(), tick.index, tick.start_ns)

    def on_drain(self, tick: Tick) -> None:
        """FIFO mode: drain the chips' FIFOs and process every complete sample, in order.

        A late drain brings a burst: each sample still gets its own model step (the
        LSTM state needs every one); the publisher decimates as usual."""
        for frame in self.acq.frames():  # type: ignore[attr-defined]
            self.process(frame, frame.index, frame.t_ns)

    def process(self, frame: Frame, index: int, taken_ns: int) -> None:
        """One sample: ``index`` numbers it from the start (time ``index / rate``);
        ``taken_ns`` is when it was taken on the loop's clock (latency reference)."""
        data = frame.data
        capture = self._capture
        if capture is not None and capture.add(data) and self._capture is capture:
            self._capture = None
        if self.calibration is not None:
            self.calibration.apply(data)
        if self.mounting is not None:
            self.mounting.observe(data)
        t = index / self.rate_hz
        self.last_t = t
        self.samples += 1
        self.sensors_ok = int(frame.ok.sum())
        if self.recorder is not None:
            self.recorder.append(t, data, frame.ok)
        step = self.slot.step(data)
        if step is None:
            return
        self.estimates += 1
        if self.publisher.tick():  # build a frame only for the samples that get published
            self.publisher.submit(self._make_frame(t, index, step, frame.ok))
        self.latency.add(self.clock.monotonic_ns() - taken_ns)

    def _make_frame(self, t: float, seq: int, step: SlotStep, ok: np.ndarray) -> EstimateFrame:
        outputs, est = step.outputs, step.estimate
        return EstimateFrame(
            t=t,
            seq=seq,
            angles_deg=dict(
                zip(outputs["angles_deg"].channels, est.angles_deg.tolist(), strict=True)
            ),
            moments_bwbh=dict(
                zip(outputs["moments_bwbh"].channels, est.moments_bwbh.tolist(), strict=True)
            ),
            grf_bw=dict(zip(outputs["grf_bw"].channels, est.grf_bw.tolist(), strict=True)),
            speed_m_s=float(est.speed_m_s[0]),
            quality={
                "sensors_ok": int(ok.sum()),
                "missing": [n for n, good in zip(self.names, ok.tolist(), strict=True) if not good],
            },
        )
