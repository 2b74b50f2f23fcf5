"""The per-sample work: read sensors → calibrate → record → estimate → publish."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.daemon.model_slot import ModelSlot
from edge.mqtt.payloads import EstimateFrame
from edge.mqtt.publisher import EstimatePublisher
from firmware_bridge.acquisition import Acquisition
from firmware_bridge.calibration import CalibrationApplier
from firmware_bridge.clock import Clock, SystemClock
from firmware_bridge.sampler import LatencyHistogram, Tick


class EstimationLoop:
    """One call of :meth:`on_tick` per sample (the sampler's callback).

    The sample time is ``tick.index / rate`` (the sampler schedules on absolute
    deadlines), so estimates, recordings and a replayed file share one time base.
    Latency is measured on the sampler's clock from the tick's start to the end of the
    sample's work (sensor read, recording, inference, publishing hand-off).
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
    ) -> None:
        self.acq = acquisition
        self.slot = slot
        self.publisher = publisher
        self.recorder = recorder
        self.calibration = calibration
        self.rate_hz = rate_hz
        self.names = list(sensor_names) or list(acquisition.names)
        self.clock = clock or SystemClock()
        self.latency = LatencyHistogram()
        self.samples = 0
        self.last_t = 0.0
        self.sensors_ok = 0
        self.estimates = 0
        self._identity = None
        #: optional callable receiving each raw (S, 6) sample (calibration capture)
        self.capture = None

    def _rows(self, data: np.ndarray) -> np.ndarray:
        index = self.slot.sensor_index
        if self._identity is None or self._identity[0] is not index:
            self._identity = (index, bool(np.array_equal(index, np.arange(data.shape[0]))))
        return data if self._identity[1] else data[index]

    def on_tick(self, tick: Tick) -> None:
        frame = self.acq.read()
        data = frame.data
        if self.capture is not None:
            self.capture(data)
        if self.calibration is not None:
            self.calibration.apply(data)
        t = tick.index / self.rate_hz
        self.last_t = t
        self.samples += 1
        self.sensors_ok = int(frame.ok.sum())
        if self.recorder is not None:
            self.recorder.append(t, data, frame.ok)
        estimator = self.slot.estimator
        if estimator is None:
            return
        est = estimator.step(self._rows(data))
        self.estimates += 1
        if self.slot.checking_live:
            self.slot.check_live(bool(np.isfinite(est.angles_deg).all()))
        if self.publisher.tick():  # build a frame only for the samples that get published
            self.publisher.submit(self._make_frame(t, tick.index, estimator, frame))
        self.latency.add(self.clock.monotonic_ns() - tick.start_ns)

    def _make_frame(self, t: float, seq: int, estimator, frame) -> EstimateFrame:  # type: ignore[no-untyped-def]
        outputs = estimator.manifest.outputs
        est = estimator.estimate
        ok = frame.ok
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
