"""ModelSlot.step (the loop's one call per sample) and the loop's raw capture, on the
shipped bundle and the bundled walking recording through the emulated chips."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from edge.bundle import read_bundle
from edge.daemon import Daemon, ModelSlot
from edge.daemon.raw_capture import RawCapture
from edge.daemon.simulate import replay_recording, simulated_parts, simulation_config
from edge.inference import Estimator
from edge.mqtt.publish_settings import PublishSettings
from edge.recording import bundled_recording_path, read_recording

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "edge" / "models" / "default.sspinn"


@pytest.fixture(scope="module")
def walking():
    return replay_recording(read_recording(bundled_recording_path("P01_walking")), 100.0, 5.0)


def test_step_picks_the_model_rows_and_matches_the_estimator(tmp_path: Path, walking) -> None:
    """A device that lists its sensors in another order (plus one the model does not
    read) gets the same estimates as the estimator fed in the model's order."""
    bundle = read_bundle(BUNDLE)
    model_sensors = list(bundle.manifest.sensors)
    device = [*reversed(model_sensors), "spare"]
    positions = np.zeros((len(device), 2))
    slot = ModelSlot(
        tmp_path, sensors=device, sample_rate_hz=100.0, height_m=1.8, mass_kg=75.0,
        positions_m=positions,
    )  # fmt: skip
    assert slot.step(np.zeros((len(device), 6))) is None  # no model yet
    slot.load(BUNDLE)
    reference = Estimator(bundle, 1.8, 75.0, np.zeros((len(model_sensors), 2)))
    idx = [walking.sensors.index(s) for s in model_sensors]
    for i in range(200):
        model_rows = walking.imu[i, idx]
        device_rows = np.vstack([model_rows[::-1], np.full((1, 6), 1e6)])
        step = slot.step(device_rows)
        want = reference.step(model_rows)
        assert step is not None
        np.testing.assert_array_equal(step.estimate.angles_deg, want.angles_deg)
        assert step.outputs["angles_deg"].channels[0] == "pelvis_tilt"
    assert slot.sensor_index.tolist() == [len(model_sensors) - 1 - k for k in range(7)]


def test_raw_capture_fills_once() -> None:
    cap = RawCapture(3, 2)
    assert [cap.add(np.full((2, 6), k)) for k in range(5)] == [False, False, True, True, True]
    assert cap.full and cap.filled == 3 and cap.wait(0)
    assert cap.data[:, 0, 0].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError):
        RawCapture(0, 2)


def _daemon(mosquitto, tmp_path: Path, walking) -> Daemon:
    cfg = simulation_config(
        walking,
        broker=mosquitto.address,
        device_id="cap",
        bundle=BUNDLE,
        record_dir=None,
        publish=PublishSettings(publish_rate_hz=20.0),
    )
    cfg = cfg.model_copy(
        update={"recorder": cfg.recorder.model_copy(update={"dir": tmp_path / "rec"})}
    )
    return Daemon(cfg, simulated_parts(walking, fast=True))


def test_loop_capture_returns_raw_samples(mosquitto, tmp_path: Path, walking) -> None:
    daemon = _daemon(mosquitto, tmp_path, walking)
    try:
        capture = daemon.loop.request_capture(50)
        daemon.run(n_samples=80)
        assert capture.full
        idx = [walking.sensors.index(n) for n in daemon.names]
        # the emulated chips quantise: ±16 g and ±2000 dps LSBs are < 0.005 / 0.0011
        np.testing.assert_allclose(capture.data[:, :, :3], walking.imu[:50, idx, :3], atol=0.005)
        np.testing.assert_allclose(capture.data[:, :, 3:], walking.imu[:50, idx, 3:], atol=0.0011)
        assert daemon.loop.estimates == 80
    finally:
        daemon.close()


def test_calibrate_command_while_walking_is_refused(mosquitto, tmp_path: Path, walking) -> None:
    """cmd/calibrate captures through the loop; walking is not still: a clear refusal,
    and the loop keeps its previous calibration (none)."""
    daemon = _daemon(mosquitto, tmp_path, walking)
    daemon.start()
    runner = threading.Thread(target=daemon.run, kwargs={"n_samples": 400})
    try:
        reply: dict = {}
        asker = threading.Thread(
            target=lambda: reply.update(
                daemon.dispatcher.handle("calibrate", b'{"kind": "gyro_bias", "duration_s": 1}')
            )
        )
        asker.start()
        runner.start()
        asker.join(60)
        assert reply["ok"] is False and "not still enough" in reply["error"], reply
        assert daemon.loop.calibration is None
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()
