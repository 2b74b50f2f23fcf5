"""The daemon in FIFO mode on emulated chips: a stalled loop catches up, the recording
holds every sample on the chip's sample period, the sidecar carries the group delays."""

from __future__ import annotations

import json

import numpy as np

from edge.config import DaemonConfig
from edge.daemon import Daemon
from edge.daemon.simulate import (
    default_bundle_path,
    replay_recording,
    simulated_parts,
    simulation_config,
)
from edge.mqtt.publish_settings import PublishSettings
from edge.recording import bundled_recording_path, read_recording


def _fifo_daemon(broker, tmp_path, seconds: float) -> Daemon:
    rec = replay_recording(read_recording(bundled_recording_path("P01_walking")), 100.0, 30)
    cfg = simulation_config(
        rec,
        broker=broker.address,
        device_id="fifo",
        bundle=default_bundle_path(),
        record_dir=tmp_path / "rec",
        publish=PublishSettings(publish_rate_hz=20.0),
        segment_s=60.0,
        mode="fifo",
    )
    return Daemon(
        DaemonConfig.model_validate(cfg.model_dump()), simulated_parts(rec, fast=True, mode="fifo")
    )


def test_stalled_fifo_daemon_records_every_sample(tmp_path, mosquitto):
    daemon = _fifo_daemon(mosquitto, tmp_path, 8.0)
    clock = daemon.parts.clock
    inner = daemon.loop.process
    stalls = []

    def busy(frame, index, taken_ns):  # the host is busy for 400 ms, twice
        if index in (200, 500) and index not in stalls:
            stalls.append(index)
            clock.advance(0.4)  # type: ignore[attr-defined]
        inner(frame, index, taken_ns)

    daemon.loop.process = busy  # type: ignore[method-assign]
    daemon.start()
    try:
        daemon.run(duration_s=8.0)
    finally:
        daemon.stop()
        daemon.close()
    assert stalls == [200, 500]
    n = daemon.loop.samples
    assert n >= 780  # 8 s at 100 Hz less the start-up
    assert daemon.loop.estimates == n  # one model step per sample, none skipped
    health = daemon.health()
    assert health["samples_lost"] == 0 and health["mode"] == "fifo"
    (csv,) = (tmp_path / "rec").rglob("*.csv")
    rec = read_recording(csv)  # strict: uniform time_s at the sidecar's period
    assert rec.n_samples == n
    assert np.isfinite(rec.imu).all()  # nothing lost around the stalls
    assert np.allclose(np.diff(rec.time_s), 0.01)
    chips = json.loads(csv.with_suffix(".json").read_text())["device"]["acquisition"]
    assert chips["mode"] == "fifo" and chips["drain_interval_s"] == 0.004
    pelvis = chips["chips"]["pelvis"]
    # MPU-6050 at 100 Hz: DLPF_CFG 3 (44 Hz accel / 42 Hz gyro), 4.9 / 4.8 ms [RM 26]
    assert (pelvis["dlpf_hz"], pelvis["accel_group_delay_s"]) == (44.0, 0.0049)
    assert pelvis["gyro_group_delay_s"] == 0.0048


def test_n_samples_counts_samples_not_drains(tmp_path, mosquitto):
    daemon = _fifo_daemon(mosquitto, tmp_path, 5.0)
    daemon.start()
    try:
        stats = daemon.run(n_samples=300)
    finally:
        daemon.stop()
        daemon.close()
    assert stats["mode"] == "fifo" and 300 <= stats["samples"] <= 310
    assert stats["ticks"] > stats["samples"]  # drains every 4 ms, samples every 10 ms
