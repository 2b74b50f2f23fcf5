"""The edge daemon end to end against a real mosquitto: estimates equal sspinn-eval,
broker outages, kill -9 while recording, model pushes, malformed commands."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from daemon_helpers import Watcher, command, make_daemon, retained

from converters.push import push_bundle
from edge.bundle import (
    build_bundle,
    generate_keypair,
    load_signing_key,
    manifest_to_bytes,
    read_bundle,
)
from edge.bundle.archive import MANIFEST_NAME, MODEL_NAME, SIGNATURE_NAME, _canonical_zip
from edge.daemon.simulate import replay_recording
from edge.mqtt.local_broker import start_mosquitto
from edge.mqtt.publish_settings import PublishSettings
from edge.recording import bundled_recording_path, read_recording
from firmware_bridge.registers import STANDARD_GRAVITY
from firmware_bridge.registers.mpu6050 import ACCEL_RANGES, GYRO_RANGES

ROOT = Path(__file__).resolve().parents[1]
EDGE = [sys.executable, "-m", "edge.cli"]
#: One LSB of the emulated MPU-6050s (±16 g, ±2000 dps): every replayed value is rounded to it.
ACC_LSB = STANDARD_GRAVITY / ACCEL_RANGES[16][1]
GYR_LSB = np.radians(1.0 / GYRO_RANGES[2000][1])


def _quantised(imu: np.ndarray) -> np.ndarray:
    """``imu`` (..., 6) as the emulated chips deliver it."""
    out = imu.copy()
    out[..., :3] = np.rint(out[..., :3] / ACC_LSB) * ACC_LSB
    out[..., 3:] = np.rint(out[..., 3:] / GYR_LSB) * GYR_LSB
    return out


def _wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def bundle_path() -> Path:
    """The shipped int8 bundle (made by `make default-bundle`)."""
    path = ROOT / "edge" / "models" / "default.sspinn"
    assert path.is_file(), "edge/models/default.sspinn is missing: run `make default-bundle`"
    return path


def test_simulate_publishes_what_sspinn_eval_computes(mosquitto, bundle_path, tmp_path):
    """Acceptance: the live estimates equal the evaluation of the same bundle on the same
    data, up to the emulated chips' 16-bit quantisation. The recording carries its
    mounting in the sidecar (the functional estimate ``sspinn-eval`` makes), so the device
    and the evaluation undo the same one from the first sample."""
    from dataclasses import replace

    from edge.mounting import mounting_for
    from edge.recording import write_recording
    from train.inputs import at_model_rate  # TensorFlow: only this test needs it

    src = read_recording(bundled_recording_path("P01_walking"))
    mounting = mounting_for(at_model_rate(src, 100.0))
    meta = src.meta.model_copy(update={"calibration": mounting.to_sidecar()})
    recording = write_recording(replace(src, meta=meta), tmp_path / "P01_walking.csv")
    watcher = Watcher(mosquitto, "eq")
    seconds = 12.0
    rc = subprocess.run(
        [
            *EDGE,
            "simulate",
            "--recording",
            str(recording),
            "--broker",
            mosquitto.address,
            "--device-id",
            "eq",
            "--duration",
            str(seconds),
            "--fast",
            "--bundle",
            str(bundle_path),
            "--publish-rate",
            "1000",
            "--batch-size",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rc.returncode == 0, rc.stderr[-2000:]
    time.sleep(0.5)
    frames = watcher.frames()
    watcher.close()
    n = int(seconds * 100)
    assert [f["seq"] for f in frames] == list(range(n))
    from train.evaluation import load_model

    rec = replay_recording(read_recording(recording), 100.0, seconds)
    # The emulated MPU-6050s (±16 g, ±2000 dps) round every value to their LSB: apply the
    # same quantisation, then the daemon and the evaluation see identical inputs.
    rec.imu[:] = _quantised(rec.imu)
    reference = load_model(bundle_path).run(rec)
    names = (
        "pelvis_tilt",
        "hip_flexion_r",
        "knee_angle_r",
        "ankle_angle_r",
        "hip_flexion_l",
        "knee_angle_l",
        "ankle_angle_l",
    )
    live = np.array([[f["angles_deg"][k] for k in names] for f in frames])
    ref = reference["angles_deg"][:n]
    diff = np.abs(live - ref)
    # Equal up to the payload's 0.01° rounding (and, for a full-int8 bundle, rare steps
    # where float rounding of the LSB scale tips an activation into the next bin).
    assert np.mean(diff <= 0.006) > 0.99, np.mean(diff <= 0.006)
    grf = np.array(
        [[f["grf_bw"][k] for k in ("grf_x_r", "grf_y_r", "grf_x_l", "grf_y_l")] for f in frames]
    )
    assert np.mean(np.abs(grf - reference["grf_bw"][:n]) <= 0.0006) > 0.99
    speeds = np.array([f["speed_m_s"] for f in frames])
    assert np.mean(np.abs(speeds - reference["speed_m_s"][:n, 0]) <= 0.0006) > 0.99


@pytest.mark.slow
def test_broker_outage_reconnects_and_records_every_sample(tmp_path, bundle_path):
    """Acceptance (issue 14): a 60 s recording (6000 samples at 100 Hz) on a running
    daemon with the config's default reconnect back-off, and a 10 s broker outage (1000
    samples) in the middle. Sampling, estimating, recording and health go on; after the
    broker returns, status/meta are republished and live estimates resume within 5 s;
    at least 10 health messages arrive; every sample the sampler took is recorded."""
    n_samples, outage_samples = 6000, 1000
    broker = start_mosquitto()
    port = broker.port
    daemon = make_daemon(broker, bundle_path, tmp_path, "outage", reconnect=None)
    assert daemon.cfg.mqtt.reconnect.max_s <= 2.0  # a retry at least every 2 s
    watchers = [Watcher(broker, "outage")]
    runner = threading.Thread(target=daemon.run, kwargs={"n_samples": n_samples})
    try:
        assert watchers[0].subscribed.wait(10)
        daemon.start()
        runner.start()
        watchers[0].wait_for("status", lambda p: p == b"online")
        _wait_until(lambda: daemon.loop.samples >= 2500, 120, "25 s of samples")
        broker.stop()
        _wait_until(lambda: not daemon.link.is_connected, 10, "the daemon seeing the outage")
        estimates_down = daemon.loop.estimates  # read before samples: <= samples_down
        samples_down = daemon.loop.samples
        health_down = daemon.health_reporter.published
        # Keep the broker away for 1000 samples (10 s at 100 Hz on an idle machine;
        # longer on a busy one, never a wall-clock assumption).
        _wait_until(lambda: daemon.loop.samples >= samples_down + outage_samples, 120, "the outage")
        assert not daemon.link.is_connected
        samples_up = daemon.loop.samples
        estimates_up = daemon.loop.estimates  # read after samples: >= samples_up - 1
        index_up = round(daemon.loop.last_t * 100.0)  # tick index (frames' seq) by now
        # Estimated every sample while the broker was down, and kept producing health.
        assert estimates_up - estimates_down >= samples_up - samples_down - 1
        assert daemon.health_reporter.published - health_down >= 2
        broker = start_mosquitto(port)
        t_up = time.monotonic()
        watchers.append(Watcher(broker, "outage"))
        watcher = watchers[-1]
        # The fresh broker has nothing retained: these come from the daemon's reconnect.
        assert watcher.wait_for("status", timeout=10) == b"online"
        meta = json.loads(watcher.wait_for("meta", timeout=5))
        assert meta["device"] == "outage" and meta["sample_rate_hz"] == 100.0
        # Live estimates again: a frame of a sample taken after the broker came back,
        # timed from the broker's restart to its arrival.
        live = watcher.wait_for("estimate", lambda p: json.loads(p)["seq"] > index_up, timeout=5)
        t_live = next(t for t, p in watcher.topic("estimate") if p == live)
        resumed_s = t_live - t_up
        assert resumed_s < 5.0
        runner.join(180)
        assert not runner.is_alive()
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()
        for w in watchers:
            w.close()
        broker.stop()
    link = daemon.link.stats()
    assert link.connects >= 2 and link.disconnects >= 1
    health = {h["wall_time"] for w in watchers for h in w.json("health")}
    # Every sample the sampler took is in the raw recording, in order (closed segments
    # read back; the emulated chips replay the source one sample per read).
    ticks = daemon.sampler.ticks
    source = replay_recording(read_recording(bundled_recording_path("P01_walking")), 100.0, 120)
    segments = [_segment(p, source.sensors) for p in (tmp_path / "rec").rglob("*.csv")]
    segments.sort(key=lambda seg: seg[0][0])
    recorded = np.concatenate([imu for _, imu in segments])
    print(
        f"outage acceptance: {ticks} samples taken, {len(recorded)} recorded, "
        f"({daemon.sampler.skipped} skipped), {len(health)} health messages received, "
        f"estimates resumed {resumed_s:.2f} s after the broker's restart, link {link}"
    )
    # The sampler ran its 6000 ticks (a busy machine may skip some: not recorder loss).
    assert ticks + daemon.sampler.skipped == n_samples and ticks == daemon.loop.samples
    assert len(recorded) == ticks, (len(recorded), ticks)
    assert np.abs(recorded - _quantised(source.imu[: len(recorded)])).max() <= 1.01 * ACC_LSB
    stats = daemon.recorder.stats()
    assert stats.samples_dropped == 0 and stats.samples_appended == ticks
    assert len(health) >= 10, len(health)


def _segment(path: Path, sensors) -> tuple[np.ndarray, np.ndarray]:
    """A segment's ``time_s`` (N,) and IMU rows (N, S, 6) in ``sensors`` order, read
    strictly (the sidecar's columns, every cell a finite number) but without the
    format's regular-rate check: a sampler that skipped ticks on a busy machine leaves
    gaps in time, which is not what this test is about."""
    meta = json.loads(path.with_suffix(".json").read_text())
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    assert header == meta["columns"]
    rows = np.array([[float(c) for c in ln.split(",")] for ln in lines[1:]])
    assert rows.shape == (len(lines) - 1, len(header)) and len(rows) > 0
    assert np.isfinite(rows).all()
    cols = [[header.index(f"{s}_{q}_{a}") for q in ("acc", "gyr") for a in "xyz"] for s in sensors]
    return rows[:, 0], rows[:, cols]


@pytest.mark.slow
def test_kill_9_while_recording_loses_no_closed_segment(tmp_path, mosquitto, bundle_path):
    rec_dir = tmp_path / "rec"
    cmd = [
        *EDGE,
        "simulate",
        "--recording",
        "P01_walking",
        "--broker",
        mosquitto.address,
        "--device-id",
        "k9",
        "--duration",
        "60",
        "--bundle",
        str(bundle_path),
        "--record-dir",
        str(rec_dir),
        "--segment-s",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(rec_dir.rglob("*.csv"))) < 3:
        time.sleep(0.1)
    time.sleep(0.35)  # kill in the middle of a segment
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    closed = sorted(rec_dir.rglob("*.csv"))
    assert len(closed) >= 3
    # Completeness against what the recorder was given, not against the wall clock: the
    # emulated chips replay the source one sample per read, and every read is handed to
    # the recorder, so the closed segments, in order, must hold exactly the first N
    # source samples (a tick the sampler skipped on a busy machine reads nothing and
    # costs nothing here; a sample the recorder lost would shift everything after it).
    source = replay_recording(read_recording(bundled_recording_path("P01_walking")), 100.0, 60)
    segments = sorted((_segment(p, source.sensors) for p in closed), key=lambda r: r[0][0])
    recorded = np.concatenate([imu for _, imu in segments])
    times = np.concatenate([t for t, _ in segments])
    expected = _quantised(source.imu[: len(recorded)])
    assert recorded.shape == expected.shape
    err = np.abs(recorded - expected)
    assert err[..., :3].max() <= 1.01 * ACC_LSB and err[..., 3:].max() <= 1.01 * GYR_LSB
    # ...and the consecutive source samples really differ: a lost one would be seen.
    assert (np.abs(np.diff(expected, axis=0)).max(axis=(1, 2)) > 2 * ACC_LSB).all()
    # Sample times are the sampler's tick indices: strictly increasing, on the 10 ms grid.
    assert (np.diff(times) > 0).all()
    assert np.allclose(times * 100.0, np.rint(times * 100.0), atol=1e-6)
    for t, _ in segments:
        assert t[-1] - t[0] < 1.0 + 1e-9  # one segment: at most 1 s of ticks
    # Restart: the leftover open segment is recovered and recording resumes.
    proc2 = subprocess.run(
        [*cmd[:-4], "--duration", "2", "--record-dir", str(rec_dir), "--segment-s", "1", "--fast"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc2.returncode == 0, proc2.stderr[-2000:]
    assert not list(rec_dir.rglob("*.part")), "a .part file was left unrecovered"
    after = sorted(rec_dir.rglob("*.csv"))
    assert len(after) > len(closed)
    for path in after:
        _segment(path, source.sensors)


@pytest.mark.slow
def test_model_pushes_tampered_unsigned_wrong_shape_and_good(tmp_path, mosquitto, bundle_path):
    key, pub = generate_keypair(tmp_path / "k" / "dev.key")
    signing = load_signing_key(key)
    good = read_bundle(bundle_path)
    signed = build_bundle(good.manifest, good.model_bytes, signing)
    initial = tmp_path / "initial.sspinn"
    initial.write_bytes(signed)
    daemon = make_daemon(
        mosquitto,
        initial,
        tmp_path,
        "push",
        require_signature=True,
        keys=[pub.read_text().strip()],
        record=False,
    )
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 60.0})
    daemon.start()
    runner.start()
    # Commands are not retained: push once the daemon has subscribed (SUBACK), or the
    # first push can be lost on a busy machine.
    assert daemon.link.wait_ready(15)
    try:

        def push(data: bytes, name: str) -> dict:
            path = tmp_path / name
            path.write_bytes(data)
            return push_bundle(path, mosquitto.address, "push", timeout_s=20)

        def publish_raw(data: bytes) -> dict:
            """cmd/model with bytes ``push_bundle`` would refuse to send (it checks locally)."""
            replies: list[dict] = []
            got, subscribed = threading.Event(), threading.Event()
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            client.on_message = lambda c, u, m: (replies.append(json.loads(m.payload)), got.set())
            client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
            client.connect(mosquitto.host, mosquitto.port)
            client.loop_start()
            try:
                client.subscribe("sspinn/push/cmd/model/result", qos=1)
                assert subscribed.wait(10)
                client.publish("sspinn/push/cmd/model", data, qos=1).wait_for_publish(10)
                assert got.wait(20), "no reply to the tampered push"
            finally:
                client.loop_stop()
                client.disconnect()
            return replies[0]

        def estimates_go_on() -> None:
            n = daemon.loop.estimates
            _wait_until(lambda: daemon.loop.estimates >= n + 50, 20, "50 more estimates")

        before = daemon.slot.estimator
        # Tampered 1: the manifest edited after signing (a new version, the old signature).
        edited = good.manifest.model_copy(update={"version": "9.0.0"})
        signature = read_bundle(signed).signature
        tampered = _canonical_zip(
            [
                (MANIFEST_NAME, manifest_to_bytes(edited)),
                (MODEL_NAME, good.model_bytes),
                (SIGNATURE_NAME, signature),
            ]
        )
        result = push(tampered, "tampered-manifest.sspinn")
        assert result["ok"] is False
        assert "does not verify with any trusted key" in result["error"], result
        # Tampered 2: one byte of the signed bundle's model changed in transit.
        flipped = bytearray(signed)
        flipped[signed.index(good.model_bytes[:64]) + 1000] ^= 0x01
        result = publish_raw(bytes(flipped))
        assert result["ok"] is False and "tampered" in result["error"], result
        assert daemon.slot.estimator is before and daemon.slot.swaps == 0
        assert daemon.slot.bundle.manifest.version == good.manifest.version
        estimates_go_on()  # the old model keeps running
        unsigned = build_bundle(good.manifest, good.model_bytes)
        result = push(unsigned, "unsigned.sspinn")
        assert result["ok"] is False and "unsigned" in result["error"]
        other_key, _ = generate_keypair(tmp_path / "k" / "other.key")
        foreign = build_bundle(good.manifest, good.model_bytes, load_signing_key(other_key))
        result = push(foreign, "foreign.sspinn")
        assert result["ok"] is False and "trusted key" in result["error"]
        wrong_rate = good.manifest.model_copy(update={"sample_rate_hz": 50.0})
        result = push(build_bundle(wrong_rate, good.model_bytes, signing), "rate.sspinn")
        assert result["ok"] is False and "50.0 Hz" in result["error"]
        wrong_shape = good.manifest.model_copy(
            update={
                "input_features": good.manifest.input_features[:-2],
                "input_tensor": good.manifest.input_tensor.model_copy(
                    update={"shape": [1, len(good.manifest.input_features) - 2]}
                ),
                "normalisation": good.manifest.normalisation.model_copy(
                    update={
                        "mean": good.manifest.normalisation.mean[:-2],
                        "std": good.manifest.normalisation.std[:-2],
                    }
                ),
            }
        )
        result = push(build_bundle(wrong_shape, good.model_bytes, signing), "shape.sspinn")
        assert result["ok"] is False and "shape" in result["error"]
        assert daemon.slot.estimator is before  # the old model kept running
        estimates_go_on()
        # A good, signed push of a new version is live within 2 s.
        v2 = good.manifest.model_copy(update={"version": "9.9.9"})
        t0 = time.monotonic()
        result = push(build_bundle(v2, good.model_bytes, signing), "v2.sspinn")
        assert result["ok"] is True, result
        assert time.monotonic() - t0 < 2.0
        assert daemon.slot.bundle.manifest.version == "9.9.9"
        assert (tmp_path / "models" / "previous.sspinn").is_file()
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()


@pytest.mark.slow
def test_thousand_malformed_commands_each_get_an_error(tmp_path, mosquitto, bundle_path):
    daemon = make_daemon(mosquitto, bundle_path, tmp_path, "fuzz", record=False)
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 120.0})
    daemon.start()
    runner.start()
    assert daemon.link.wait_ready(15)  # subscribed: commands can arrive
    replies: list[dict] = []
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

    def on_message(c, u, msg):
        replies.append(json.loads(msg.payload))
        if len(replies) >= 1000:
            done.set()

    subscribed = threading.Event()
    client.on_message = on_message
    client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
    client.connect(mosquitto.host, mosquitto.port)
    client.subscribe("sspinn/fuzz/cmd/+/result", qos=1)
    client.loop_start()
    assert subscribed.wait(10)
    rng = random.Random(5)
    topics = ["record", "calibrate", "model", "config", "nonsense"]
    samples = [
        b"",
        b"{",
        b"null",
        b"[]",
        b'{"action": 3}',
        b'{"kind": "x"}',
        b"\xff\xfe\x00",
        b'{"publish_rate_hz": -1}',
        b'{"publish_rate_hz": "fast"}',
        b"PK\x03\x04junk",
    ]
    try:
        for i in range(1000):
            payload = (
                rng.choice(samples)
                if i % 2
                else bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
            )
            client.publish(f"sspinn/fuzz/cmd/{topics[i % len(topics)]}", payload, qos=1)
        assert done.wait(60), f"{len(replies)} replies"
        assert all(r["ok"] is False and r["error"] for r in replies)
        assert runner.is_alive()
        est = daemon.loop.estimates
        _wait_until(lambda: daemon.loop.estimates >= est + 50, 20, "still estimating")
    finally:
        client.loop_stop()
        client.disconnect()
        daemon.stop()
        runner.join(30)
        daemon.close()


def test_meta_reports_the_effective_publish_rate_and_follows_cmd_config(
    tmp_path, mosquitto, bundle_path
):
    """The retained meta says what the publisher does: 20 frames/s when the rate is left
    to its default (it used to say 0), and the new settings after every cmd/config."""
    daemon = make_daemon(
        mosquitto, bundle_path, tmp_path, "metacfg", record=False, publish=PublishSettings()
    )
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 60.0})
    daemon.start()
    runner.start()
    try:
        assert daemon.link.wait_ready(15)
        meta = retained(mosquitto, "sspinn/metacfg/meta")
        assert (meta["publish_rate_hz"], meta["batch_size"], meta["sample_rate_hz"]) == (
            20.0,
            1,
            100.0,
        )
        reply = command(mosquitto, "metacfg", "config", {"publish_rate_hz": 10, "batch_size": 2})
        assert reply["ok"] and (reply["publish_rate_hz"], reply["batch_size"]) == (10.0, 2)
        meta = retained(mosquitto, "sspinn/metacfg/meta")
        assert (meta["publish_rate_hz"], meta["batch_size"]) == (10.0, 2)
        reply = command(mosquitto, "metacfg", "config", {"decimation": 4})
        assert reply["ok"] and reply["publish_rate_hz"] == 25.0
        meta = retained(mosquitto, "sspinn/metacfg/meta")
        assert (meta["publish_rate_hz"], meta["batch_size"]) == (25.0, 2)
        assert daemon.publisher.settings == PublishSettings(decimation=4, batch_size=2)
        reply = command(mosquitto, "metacfg", "config", {"decimation": 4, "publish_rate_hz": 5})
        assert not reply["ok"] and "not both" in reply["error"]
        assert retained(mosquitto, "sspinn/metacfg/meta")["publish_rate_hz"] == 25.0
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()


def test_home_assistant_health_sensors_expire_after_three_health_periods(
    tmp_path, mosquitto, bundle_path
):
    """Discovery follows the health period: ``expire_after`` is 3 periods (at least 30 s)
    and a cmd/config that changes the period republishes meta and the discovery configs."""
    daemon = make_daemon(
        mosquitto,
        bundle_path,
        tmp_path,
        "hadisc",
        record=False,
        health_interval_s=2.0,
        mqtt_settings={"home_assistant_discovery": True},
    )
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 60.0})
    daemon.start()
    runner.start()
    temp_topic = "homeassistant/sensor/sspinn_hadisc/cpu_temp_c/config"
    try:
        assert daemon.link.wait_ready(15)
        assert retained(mosquitto, "sspinn/hadisc/meta")["health_interval_s"] == 2.0
        temp = retained(mosquitto, temp_topic)
        assert (temp["expire_after"], temp["entity_category"]) == (30, "diagnostic")
        reply = command(mosquitto, "hadisc", "config", {"health_interval_s": 60})
        assert reply["ok"], reply
        assert retained(mosquitto, "sspinn/hadisc/meta")["health_interval_s"] == 60.0
        assert retained(mosquitto, temp_topic)["expire_after"] == 180
        knee = retained(mosquitto, "homeassistant/sensor/sspinn_hadisc/knee_angle_r/config")
        assert knee["expire_after"] == 30 and "entity_category" not in knee
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()


@pytest.mark.slow
def test_simulate_with_the_users_config_publishes_home_assistant_discovery(tmp_path, mosquitto):
    """``sspinn-edge simulate --config`` takes the example config as a user edits it (their
    broker, Home Assistant discovery on, their rate and batching, device id): the discovery
    configs and meta appear retained on a real broker under the config's device id; the
    Pi's bundle path does not exist here, so the shipped bundle runs, and the wearer is the
    recording's participant."""
    text = (ROOT / "edge" / "config.example.toml").read_text()
    for old, new in (
        ('host = "localhost"', f'host = "{mosquitto.host}"'),
        ("port = 1883", f"port = {mosquitto.port}"),
        ("home_assistant_discovery = false", "home_assistant_discovery = true"),
        ("publish_rate_hz = 20.0", "publish_rate_hz = 10.0"),
        ('id = "belt-01"', 'id = "my-belt"'),
        ("height_m = 1.73", "height_m = 1.95"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    config = tmp_path / "my.toml"
    config.write_text(text)
    out = subprocess.run(
        [*EDGE, "simulate", "--recording", "P01_walking", "--config", str(config),
         "--duration", "3", "--fast"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "model.bundle" in out.stderr and "shipped bundle" in out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["device"] == "my-belt" and summary["published_frames"] == 30
    meta = retained(mosquitto, "sspinn/my-belt/meta")
    assert (meta["publish_rate_hz"], meta["batch_size"]) == (10.0, 2)
    participant = read_recording(bundled_recording_path("P01_walking")).meta.participant
    assert meta["participant"]["height_m"] == participant.height_m != 1.95
    knee = retained(mosquitto, "homeassistant/sensor/sspinn_my-belt/knee_angle_r/config")
    assert knee["state_topic"] == "sspinn/my-belt/estimate"
    assert knee["device"]["name"] == "Belt 01"
    temp = retained(mosquitto, "homeassistant/sensor/sspinn_my-belt/cpu_temp_c/config")
    assert temp["entity_category"] == "diagnostic"
