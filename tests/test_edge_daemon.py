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

from converters.push import push_bundle
from edge.bundle import build_bundle, generate_keypair, load_signing_key, read_bundle
from edge.daemon import Daemon
from edge.daemon.simulate import replay_recording, simulated_parts, simulation_config
from edge.mqtt.local_broker import start_mosquitto
from edge.mqtt.publish_settings import PublishSettings
from edge.recording import bundled_recording_path, read_recording
from firmware_bridge.registers import STANDARD_GRAVITY
from firmware_bridge.registers.mpu6050 import ACCEL_RANGES, GYRO_RANGES
from train.evaluation import load_model

ROOT = Path(__file__).resolve().parents[1]
EDGE = [sys.executable, "-m", "edge.cli"]
PUBLISH_20_HZ = PublishSettings(publish_rate_hz=20.0)


class Watcher:
    """A dashboard-like subscriber collecting every message under sspinn/<device>/#."""

    def __init__(self, broker, device: str) -> None:
        self.messages: list[tuple[float, str, bytes]] = []
        self.lock = threading.Lock()
        self.device = device
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"sspinn/{device}/#", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1.0)
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), msg.topic, msg.payload))

    def topic(self, suffix: str) -> list[tuple[float, bytes]]:
        with self.lock:
            return [
                (t, p) for t, top, p in self.messages if top == f"sspinn/{self.device}/{suffix}"
            ]

    def frames(self) -> list[dict]:
        out = []
        for _, p in self.topic("estimate"):
            d = json.loads(p)
            out.extend(d if isinstance(d, list) else [d])
        return out

    def wait_for(self, suffix: str, pred=lambda p: True, timeout: float = 10.0, after: float = 0.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, p in self.topic(suffix):
                if t >= after and pred(p):
                    return p
            time.sleep(0.02)
        raise AssertionError(f"no {suffix} message within {timeout} s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="module")
def bundle_path() -> Path:
    """The shipped int8 bundle (made by `make default-bundle`)."""
    path = ROOT / "edge" / "models" / "default.sspinn"
    assert path.is_file(), "edge/models/default.sspinn is missing: run `make default-bundle`"
    return path


def test_simulate_publishes_what_sspinn_eval_computes(mosquitto, bundle_path):
    """Acceptance: the live estimates equal the evaluation of the same bundle on the same
    data, up to the emulated chips' 16-bit quantisation."""
    watcher = Watcher(mosquitto, "eq")
    seconds = 12.0
    rc = subprocess.run(
        [
            *EDGE,
            "simulate",
            "--recording",
            str(bundled_recording_path("P01_walking")),
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
    rec = replay_recording(read_recording(bundled_recording_path("P01_walking")), 100.0, seconds)
    # The emulated MPU-6050s (±16 g, ±2000 dps) round every value to their LSB: apply the
    # same quantisation, then the daemon and the evaluation see identical inputs.
    acc_lsb = STANDARD_GRAVITY / ACCEL_RANGES[16][1]
    gyr_lsb = np.radians(1.0 / GYRO_RANGES[2000][1])
    rec.imu[..., :3] = np.rint(rec.imu[..., :3] / acc_lsb) * acc_lsb
    rec.imu[..., 3:] = np.rint(rec.imu[..., 3:] / gyr_lsb) * gyr_lsb
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
    # Equal up to the payload's 0.01° rounding, except rare steps where float rounding
    # of the LSB scale tips an int8 activation into the neighbouring bin.
    assert np.mean(diff <= 0.006) > 0.99, np.mean(diff <= 0.006)
    grf = np.array(
        [[f["grf_bw"][k] for k in ("grf_x_r", "grf_y_r", "grf_x_l", "grf_y_l")] for f in frames]
    )
    assert np.mean(np.abs(grf - reference["grf_bw"][:n]) <= 0.0006) > 0.99
    speeds = np.array([f["speed_m_s"] for f in frames])
    assert np.mean(np.abs(speeds - reference["speed_m_s"][:n, 0]) <= 0.0006) > 0.99


def _make_daemon(
    broker,
    bundle: Path,
    tmp: Path,
    device: str,
    *,
    require_signature=False,
    keys=(),
    record=True,
    fast=False,
    publish=PUBLISH_20_HZ,
):
    rec = replay_recording(read_recording(bundled_recording_path("P01_walking")), 100.0, 120.0)
    model_dir = tmp / "models"
    model_dir.mkdir(exist_ok=True)
    current = model_dir / "current.sspinn"
    current.write_bytes(bundle.read_bytes())
    cfg = simulation_config(
        rec,
        broker=broker.address,
        device_id=device,
        bundle=current,
        record_dir=tmp / "rec" if record else None,
        publish=publish,
        segment_s=5.0,
    )
    data = cfg.model_dump()
    data["model"].update({"trusted_keys": list(keys), "require_signature": require_signature})
    data["mqtt"]["reconnect"] = {"min_s": 0.2, "max_s": 1.0}
    data["mqtt"]["keepalive_s"] = 5
    from edge.config import DaemonConfig

    cfg = DaemonConfig.model_validate(data)
    return Daemon(cfg, simulated_parts(rec, fast=fast))


@pytest.mark.slow
def test_broker_outage_reconnects_and_records_every_sample(tmp_path, bundle_path):
    broker = start_mosquitto()
    port = broker.port
    daemon = _make_daemon(broker, bundle_path, tmp_path, "outage")
    watcher = Watcher(broker, "outage")
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 18.0})
    try:
        daemon.start()
        runner.start()
        watcher.wait_for("status", lambda p: p == b"online")
        time.sleep(2.0)
        broker.stop()
        t_down = time.monotonic()
        time.sleep(10.0)
        samples_during = daemon.loop.samples
        broker = start_mosquitto(port)
        t_up = time.monotonic()
        watcher.close()
        watcher = Watcher(broker, "outage")
        online = watcher.wait_for("status", lambda p: p == b"online", timeout=10)
        assert online == b"online"
        meta = json.loads(watcher.wait_for("meta", timeout=5))
        assert meta["device"] == "outage"
        first_new = watcher.wait_for("estimate", timeout=5, after=t_up)
        assert json.loads(first_new)
        assert samples_during > 900  # kept estimating at 100 Hz while the broker was down
        runner.join(30)
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()
        watcher.close()
        broker.stop()
    assert daemon.link.stats().reconnects >= 1 or daemon.link.stats().connects >= 2
    # Every sample is in the raw recording (closed segments read back).
    segments = sorted((tmp_path / "rec").rglob("*.csv"))
    assert len(segments) >= 3
    rows = sum(read_recording(p).n_samples for p in segments)
    assert rows == daemon.loop.samples, (rows, daemon.loop.samples)
    assert t_up - t_down >= 10.0


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
    for path in closed:  # every closed segment reads back completely
        r = read_recording(path)
        assert r.n_samples == pytest.approx(100, abs=1)
        assert np.isfinite(r.imu).all()
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
        read_recording(path)


@pytest.mark.slow
def test_model_pushes_tampered_unsigned_wrong_shape_and_good(tmp_path, mosquitto, bundle_path):
    key, pub = generate_keypair(tmp_path / "k" / "dev.key")
    signing = load_signing_key(key)
    good = read_bundle(bundle_path)
    signed = build_bundle(good.manifest, good.model_bytes, signing)
    initial = tmp_path / "initial.sspinn"
    initial.write_bytes(signed)
    daemon = _make_daemon(
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

        before = daemon.slot.estimator
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
        samples = daemon.loop.estimates
        time.sleep(0.3)
        assert daemon.loop.estimates > samples
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
    daemon = _make_daemon(mosquitto, bundle_path, tmp_path, "fuzz", record=False)
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

    client.on_message = on_message
    client.connect(mosquitto.host, mosquitto.port)
    client.subscribe("sspinn/fuzz/cmd/+/result", qos=1)
    client.loop_start()
    time.sleep(0.5)
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
        time.sleep(0.3)
        assert daemon.loop.estimates > est  # still estimating
    finally:
        client.loop_stop()
        client.disconnect()
        daemon.stop()
        runner.join(30)
        daemon.close()


def _retained(broker, topic: str, timeout_s: float = 10.0) -> dict:
    """The retained message on ``topic``, as a fresh subscriber receives it."""
    got: list[bytes] = []
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)

    def on_message(c, u, msg):
        if msg.retain and not got:
            got.append(msg.payload)
            ready.set()

    client.on_message = on_message
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    try:
        assert ready.wait(timeout_s), f"no retained message on {topic}"
    finally:
        client.loop_stop()
        client.disconnect()
    return json.loads(got[0])


def _command(broker, device: str, name: str, payload: dict, timeout_s: float = 15.0) -> dict:
    """Send ``cmd/<name>`` and return its result."""
    result: list[dict] = []
    subscribed, answered = threading.Event(), threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()

    def on_message(c, u, msg):
        result.append(json.loads(msg.payload))
        answered.set()

    client.on_message = on_message
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    try:
        client.subscribe(f"sspinn/{device}/cmd/{name}/result", qos=1)
        assert subscribed.wait(timeout_s)
        client.publish(f"sspinn/{device}/cmd/{name}", json.dumps(payload), qos=1)
        assert answered.wait(timeout_s), f"no reply to cmd/{name}"
    finally:
        client.loop_stop()
        client.disconnect()
    return result[0]


def test_meta_reports_the_effective_publish_rate_and_follows_cmd_config(
    tmp_path, mosquitto, bundle_path
):
    """The retained meta says what the publisher does: 20 frames/s when the rate is left
    to its default (it used to say 0), and the new settings after every cmd/config."""
    daemon = _make_daemon(
        mosquitto, bundle_path, tmp_path, "metacfg", record=False, publish=PublishSettings()
    )
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 60.0})
    daemon.start()
    runner.start()
    try:
        assert daemon.link.wait_ready(15)
        meta = _retained(mosquitto, "sspinn/metacfg/meta")
        assert (meta["publish_rate_hz"], meta["batch_size"], meta["sample_rate_hz"]) == (
            20.0,
            1,
            100.0,
        )
        reply = _command(mosquitto, "metacfg", "config", {"publish_rate_hz": 10, "batch_size": 2})
        assert reply["ok"] and (reply["publish_rate_hz"], reply["batch_size"]) == (10.0, 2)
        meta = _retained(mosquitto, "sspinn/metacfg/meta")
        assert (meta["publish_rate_hz"], meta["batch_size"]) == (10.0, 2)
        reply = _command(mosquitto, "metacfg", "config", {"decimation": 4})
        assert reply["ok"] and reply["publish_rate_hz"] == 25.0
        meta = _retained(mosquitto, "sspinn/metacfg/meta")
        assert (meta["publish_rate_hz"], meta["batch_size"]) == (25.0, 2)
        assert daemon.publisher.settings == PublishSettings(decimation=4, batch_size=2)
        reply = _command(mosquitto, "metacfg", "config", {"decimation": 4, "publish_rate_hz": 5})
        assert not reply["ok"] and "not both" in reply["error"]
        assert _retained(mosquitto, "sspinn/metacfg/meta")["publish_rate_hz"] == 25.0
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()
