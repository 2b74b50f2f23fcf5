"""Helpers for tests that run a daemon against a real mosquitto: a watching subscriber,
a daemon on the emulated bus, a command round trip, a retained message."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge.config import DaemonConfig
from edge.daemon import Daemon
from edge.daemon.simulate import replay_recording, simulated_parts, simulation_config
from edge.mqtt.publish_settings import PublishSettings
from edge.recording import bundled_recording_path, read_recording

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_BUNDLE = ROOT / "edge" / "models" / "default.sspinn"
PUBLISH_20_HZ = PublishSettings(publish_rate_hz=20.0)
FAST_RECONNECT = {"min_s": 0.2, "max_s": 1.0}


class Watcher:
    """A dashboard-like subscriber collecting every message under sspinn/<device>/#."""

    def __init__(self, broker, device: str, **login: Any) -> None:
        self.messages: list[tuple[float, str, bytes]] = []
        self.lock = threading.Lock()
        self.device = device
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if login:
            self.client.username_pw_set(login["username"], login.get("password"))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"sspinn/{device}/#", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
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

    def json(self, suffix: str) -> list[dict]:
        return [json.loads(p) for _, p in self.topic(suffix)]

    def frames(self) -> list[dict]:
        out = []
        for _, p in self.topic("estimate"):
            d = json.loads(p)
            out.extend(d if isinstance(d, list) else [d])
        return out

    def wait_for(self, suffix: str, pred=lambda p: True, timeout: float = 10.0, after: float = 0.0):
        """The first payload on ``suffix`` received at or after ``after`` matching ``pred``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, p in self.topic(suffix):
                if t >= after and pred(p):
                    return p
            time.sleep(0.02)
        raise AssertionError(f"no {suffix} message within {timeout} s")

    def wait_count(self, suffix: str, n: int, timeout: float = 10.0, after: float = 0.0) -> list:
        """Wait until ``n`` messages on ``suffix`` arrived at or after ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [(t, p) for t, p in self.topic(suffix) if t >= after]
            if len(got) >= n:
                return got
            time.sleep(0.02)
        got = [(t, p) for t, p in self.topic(suffix) if t >= after]
        raise AssertionError(f"{len(got)} {suffix} messages within {timeout} s, wanted {n}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def make_daemon(
    broker,
    bundle: Path,
    tmp: Path,
    device: str,
    *,
    require_signature: bool = False,
    keys=(),
    record: bool = True,
    fast: bool = False,
    publish: PublishSettings = PUBLISH_20_HZ,
    health_interval_s: float = 2.0,
    seconds: float = 120.0,
    model: dict | None = None,
    mqtt_settings: dict | None = None,
    commands: dict | None = None,
    reconnect: dict | None = FAST_RECONNECT,
) -> Daemon:
    """A daemon replaying P01_walking at 100 Hz, its model at ``tmp/models/current.sspinn``
    (reconnect back-off 0.2..1 s unless ``reconnect`` says otherwise; None: the defaults)."""
    rec = replay_recording(read_recording(bundled_recording_path("P01_walking")), 100.0, seconds)
    model_dir = tmp / "models"
    model_dir.mkdir(parents=True, exist_ok=True)
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
    data["model"].update(model or {})
    if reconnect is not None:  # None: the config's defaults
        data["mqtt"]["reconnect"] = dict(reconnect)
    data["mqtt"]["keepalive_s"] = 5
    data["mqtt"]["health_interval_s"] = health_interval_s
    data["mqtt"].update(mqtt_settings or {})
    data["commands"].update(commands or {})
    return Daemon(DaemonConfig.model_validate(data), simulated_parts(rec, fast=fast))


def command(
    broker, device: str, name: str, payload: dict, timeout_s: float = 15.0, **login: Any
) -> dict:
    """Send ``cmd/<name>`` (as ``username``/``password`` if given) and return its result."""
    result: list[dict] = []
    subscribed, answered = threading.Event(), threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if login:
        client.username_pw_set(login["username"], login.get("password"))
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


def retained(broker, topic: str, timeout_s: float = 10.0) -> dict:
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


def publish_once(broker, topic: str, payload: bytes | str, **login: Any) -> None:
    """Publish one QoS 1 message (as ``username``/``password`` if given) and wait for the
    broker's PUBACK: by then the broker has routed it (or, under an ACL, dropped it)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if login:
        client.username_pw_set(login["username"], login.get("password"))
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    try:
        assert connected.wait(10), f"not connected as {login.get('username', 'anonymous')}"
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()
