"""Commands: every message gets exactly one reply, whatever it holds (real broker)."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
from test_edge_link import Observer, _cfg

from edge.mqtt.commands import (
    CalibrateRequest,
    CommandDispatcher,
    CommandError,
    ConfigRequest,
    ModelUpload,
    RecordRequest,
    config_handler,
    parse_command,
)
from edge.mqtt.link import MqttLink
from edge.mqtt.publish_settings import PublishSettings
from edge.mqtt.publisher import EstimatePublisher

BASE = "sspinn/fuzz/cmd"


# ---------------------------------------------------------------------- parsing, no broker
def test_valid_payloads_parse_into_models():
    assert parse_command("record", b'{"action": "start", "id": 7}') == RecordRequest(
        action="start", id=7
    )
    cal = parse_command("calibrate", b'{"kind": "alignment", "duration_s": 8}')
    assert isinstance(cal, CalibrateRequest) and cal.duration_s == 8.0
    cfg = parse_command("config", b'{"publish_rate_hz": 10, "batch_size": 2}')
    assert isinstance(cfg, ConfigRequest)
    assert cfg.settings() == {"publish_rate_hz": 10.0, "batch_size": 2}
    up = parse_command("model", b"PK\x03\x04rest")
    assert isinstance(up, ModelUpload) and up.size == 8 and len(up.sha256) == 64


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("reboot", b"{}", "unknown command 'reboot'; known: record, calibrate, model, config"),
        ("record", b"", 'empty payload: expected a JSON object such as {"action": "start"}'),
        ("record", b"\xff\xfe", "payload is not UTF-8 text (bad byte at 0)"),
        ("record", b"{action: start}", "payload is not valid JSON: Expecting property name"),
        ("record", b"[1, 2]", "payload must be a JSON object such as"),
        ("record", b'{"action": "jump"}', "action: Input should be 'start' or 'stop'"),
        ("record", b'{"action": "start", "x": 1}', "x: not a known key"),
        ("calibrate", b'{"kind": "gyro_bias", "duration_s": -1}', "duration_s: Input should be"),
        ("calibrate", b'{"kind": "gyro_bias", "duration_s": NaN}', "NaN is not allowed"),
        ("config", b"{}", "nothing to change: give one of publish_rate_hz"),
        ("config", b'{"recorder": {"dir": "/"}}', "recorder: not a known key"),
        ("config", b'{"publish_rate_hz": 10, "decimation": 2}', "not both"),
        ("record", b"[" * 100000, "payload is not valid JSON"),
        ("model", b"", "empty payload"),
        ("model", b"\x00garbage", "not a model bundle: expected a zip archive"),
    ],
)
def test_malformed_payloads_give_a_reason(name, payload, reason):
    with pytest.raises(CommandError) as info:
        parse_command(name, payload)
    assert reason in str(info.value)


class _Sink:
    """Collects replies like the link would publish them (for broker-free checks)."""

    topics = None

    def __init__(self) -> None:
        self.results: list[tuple[str, dict]] = []

    def publish_result(self, command, result):
        json.dumps(result, allow_nan=False)  # what the link's encoder would refuse
        self.results.append((command, dict(result)))
        return True


def test_handler_outcomes_without_a_broker():
    d = CommandDispatcher(_Sink())
    assert d.handle("record", b'{"action": "start"}')["error"] == (
        "command 'record' is not available on this device"
    )
    d.register("calibrate", lambda req: (_ for _ in ()).throw(RuntimeError("sensor busy")))
    r = d.handle("calibrate", b'{"kind": "gyro_bias", "id": "c1"}')
    assert (r["ok"], r["error"], r["id"]) == (False, "RuntimeError: sensor busy", "c1")
    r = d.handle("record", b'{"action": "jump", "id": "abc"}')
    assert r["ok"] is False and r["id"] == "abc"  # the id is echoed even on errors
    pub = EstimatePublisher(lambda b: None, 100.0, PublishSettings(publish_rate_hz=20.0))
    d.register("config", config_handler(pub))
    r = d.handle("config", b'{"publish_rate_hz": 10, "batch_size": 5, "id": 3}')
    assert r["ok"] and r["publish_rate_hz"] == 10.0 and r["batch_size"] == 5 and r["id"] == 3
    assert (pub.publish_rate_hz, pub.batch_size) == (10.0, 5)
    r = d.handle("config", b'{"publish_rate_hz": 300}')  # above the 100 Hz sampling rate
    assert not r["ok"] and "ValueError: publish_rate_hz must be in (0, 100]" in r["error"]
    r = d.handle("config", b'{"health_interval_s": 2}')
    assert not r["ok"] and "cannot be changed" in r["error"]
    with pytest.raises(ValueError):
        d.register("reboot", lambda req: None)


# ---------------------------------------------------------------------- against mosquitto
def _fuzz_messages(n: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """n (topic, payload) pairs, none of which is a valid command."""
    bad_json = [
        b"[1, 2]",
        b"42",
        b'"start"',
        b"null",
        b"true",
        b"{}",
        b'{"action": 5}',
        b'{"action": "jump"}',
        b'{"kind": "spin"}',
        b'{"kind": "gyro_bias", "duration_s": -1}',
        b'{"kind": "gyro_bias", "duration_s": 1e9}',
        b'{"kind": "alignment", "duration_s": NaN}',
        b'{"publish_rate_hz": 0}',
        b'{"batch_size": 0}',
        b'{"recorder": {"dir": "/"}}',
        b'{"id": [1], "action": "start"}',
        b'{"action": "start", "id": "' + b"x" * 100 + b'"}',
        b'{"action": "start", "extra": 1}',
        b"NaN",
        b"[" * 5000,
        b'{"a": ' * 3000,
        b'{"action": "start"',
        b"\xef\xbb\xbf{}",
        b'{"action": "st\\ud800"}',
        b"   ",
        b'{"publish_rate_hz": "fast"}',
        b'{"decimation": 2.5}',
    ]
    json_topics = ["record", "calibrate", "config"]
    unknown = ["reboot", "RECORD", "r\u00e9cord", "x" * 60, "cmd", ""]
    out = []
    for i in range(n):
        kind = i % 6
        if kind == 0:  # random bytes, on any command topic
            payload = rng.randbytes(rng.randint(0, 200))
            name = rng.choice([*json_topics, "model"])
            if name == "model" and payload.startswith(b"PK\x03\x04"):
                payload = b"\x00" + payload
        elif kind == 1:  # invalid UTF-8
            payload = b"\xff\xfe" + rng.randbytes(rng.randint(0, 50))
            name = rng.choice(json_topics)
        elif kind in (2, 3):  # JSON (or nearly) of the wrong shape or values
            payload, name = rng.choice(bad_json), rng.choice(json_topics)
        elif kind == 4:  # unknown command names
            payload, name = rng.choice([b"{}", b'{"action": "start"}', b""]), rng.choice(unknown)
        else:  # model: not a zip, or a zip header the handler refuses
            payload = rng.choice([b"", b"not a bundle", b"PK\x03\x04" + rng.randbytes(64)])
            name = "model"
        out.append((name, payload))
    # a few huge ones, over each limit
    out += [
        ("record", b"{" + b" " * 100_000 + b"}"),
        ("config", b"x" * 70_000),
        ("model", b"PK\x03\x04" + bytes(300_000)),
        ("calibrate", b"[" * 80_000),
    ]
    rng.shuffle(out)
    return out


@pytest.fixture
def device(mosquitto):
    """A link and a dispatcher for device 'fuzz', closed after the test."""
    made: list = []

    def make(**kw):
        link = MqttLink(_cfg(mosquitto.port), "fuzz")
        d = CommandDispatcher(link, **kw)
        made.append((link, d))
        return link, d

    yield make
    for link, d in made:
        d.close(1.0)
        link.close(1.0)


def test_fuzzed_commands_each_get_exactly_one_error_reply(mosquitto, device):
    link, d = device(max_model_bytes=256 * 1024)
    calls: list[str] = []
    d.register("record", lambda req: calls.append("record") or {"recording": True})
    d.register("calibrate", lambda req: calls.append("calibrate"))
    d.register("config", lambda req: calls.append("config"))

    def refuse_model(upload: ModelUpload):
        calls.append("model")
        raise ValueError(f"bundle signature invalid ({upload.size} bytes)")

    d.register("model", refuse_model)
    d.start()
    link.start()
    assert link.wait_ready(5)  # subscribed: commands can arrive
    obs = Observer(mosquitto.host, mosquitto.port, "sspinn/fuzz/cmd/+/result")
    msgs = _fuzz_messages(1000, random.Random(20240607))
    n = len(msgs)
    t0 = time.monotonic()
    for i, (name, payload) in enumerate(msgs):
        obs.client.publish(f"{BASE}/{name}", payload, qos=1)
        if i % 50 == 49:  # keep within mosquitto's per-client queue
            assert obs.wait_for(lambda m, i=i: len(m) >= i - 100, timeout_s=10)
    assert obs.wait_for(lambda m: len(m) >= n, timeout_s=20), (
        f"{len(obs.messages)} of {n} replies; {d.stats}; {link.stats()}"
    )
    elapsed = time.monotonic() - t0
    time.sleep(0.3)  # nothing more may come
    assert len(obs.messages) == n
    sent_per_topic: dict[str, int] = {}
    for name, _ in msgs:
        sent_per_topic[f"{BASE}/{name}/result"] = sent_per_topic.get(f"{BASE}/{name}/result", 0) + 1
    got_per_topic: dict[str, int] = {}
    for m in obs.messages:
        got_per_topic[m.topic] = got_per_topic.get(m.topic, 0) + 1
    assert got_per_topic == sent_per_topic
    replies = [json.loads(m.payload) for m in obs.messages]
    assert all(r["ok"] is False and isinstance(r["error"], str) and r["error"] for r in replies)
    assert not any(r["error"].startswith("busy") for r in replies)
    assert set(calls) <= {"model"}  # only the zip-looking bundles reached a handler
    assert sum("payload too large" in r["error"] for r in replies) == 4
    assert d.stats.received == n and d.stats.errors == n and d.stats.ok == 0
    print(f"{n} fuzzed commands answered in {elapsed:.2f} s")

    # still up: valid commands work, a raising handler gets its text back
    obs.messages.clear()
    obs.send(f"{BASE}/record", '{"action": "start", "id": "r1"}')
    obs.send(f"{BASE}/model", b"PK\x03\x04" + bytes(10))
    assert obs.wait_for(lambda m: len(m) == 2)
    by_topic = {m.topic.split("/")[-2]: json.loads(m.payload) for m in obs.messages}
    assert by_topic["record"]["ok"] is True and by_topic["record"]["id"] == "r1"
    assert by_topic["model"]["error"] == "ValueError: bundle signature invalid (14 bytes)"
    assert link.is_connected and link.stats().dropped == 0
    obs.close()


def test_slow_handler_does_not_stall_mqtt_and_busy_is_answered(mosquitto, device):
    link, d = device(max_pending=3)  # the running model swap + 2 waiting
    release = threading.Event()

    def slow_model(upload):
        release.wait(5)
        return {"swapped": True}

    d.register("model", slow_model)
    d.register("record", lambda req: {"action": req.action})
    d.start()
    link.start()
    assert link.wait_ready(5)
    obs = Observer(mosquitto.host, mosquitto.port, "sspinn/fuzz/#")
    obs.send(f"{BASE}/model", b"PK\x03\x04bundle")
    time.sleep(0.1)  # the worker is now inside the model handler
    for i in range(4):
        obs.send(f"{BASE}/record", json.dumps({"action": "start", "id": i}))
    # two wait, two are answered "busy" at once; MQTT keeps flowing meanwhile
    assert obs.wait_for(lambda m: sum(b"busy" in x.payload for x in m) >= 2)
    link.publish_health({"alive": True})
    assert obs.wait_for(lambda m: any(x.topic.endswith("/health") for x in m))
    release.set()
    assert obs.wait_for(lambda m: sum(x.topic.endswith("result") for x in m) == 5)
    results = [json.loads(m.payload) for m in obs.messages if m.topic.endswith("result")]
    assert [r["ok"] for r in results if r["cmd"] == "model"] == [True]
    assert sorted(r["id"] for r in results if r["cmd"] == "record" and r["ok"]) == [0, 1]
    busy = [r for r in results if not r["ok"]]
    assert len(busy) == 2 and all(r["error"].startswith("busy: 3 commands") for r in busy)
    obs.close()
