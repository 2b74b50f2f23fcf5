"""The health topic never dies: payloads are always JSON, a failing part is reported, and a
running daemon publishes health every interval while recording, after ``record stop``
and across a broker outage."""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from daemon_helpers import SHIPPED_BUNDLE, Watcher, command, make_daemon

from edge.daemon.health import HealthReporter
from edge.mqtt.local_broker import start_mosquitto
from edge.mqtt.payloads import encode_json, sanitize


class _Mode(enum.Enum):
    FAST = "fast"


@dataclass
class _Stats:
    session_dir: Path | None
    count: np.int64


def test_payload_boundary_encodes_paths_numpy_enums_dataclasses():
    obj = {
        "dir": Path("/var/lib/sspinn/recordings/s1"),
        "n": np.int64(7),
        "x": np.float32(0.5),
        "v": np.arange(3),
        "mode": _Mode.FAST,
        "stats": _Stats(Path("rel/dir"), np.int64(3)),
    }
    decoded = json.loads(encode_json(obj))
    assert decoded == {
        "dir": "/var/lib/sspinn/recordings/s1",
        "n": 7,
        "x": 0.5,
        "v": [0, 1, 2],
        "mode": "fast",
        "stats": {"session_dir": "rel/dir", "count": 3},
    }
    assert sanitize({"p": None}) == {"p": None}
    with pytest.raises(TypeError):
        encode_json({"x": object()})


def test_a_failing_source_is_reported_in_the_payload_and_logged_once(caplog):
    sent: list[bytes] = []

    def broken() -> dict:
        raise RuntimeError("sensor table locked")

    reporter = HealthReporter(
        {
            "good": lambda: {"loop_rate_hz": 100.0},
            "broken": broken,
            "unencodable": lambda: {"thing": object()},
        },
        lambda h: sent.append(encode_json(h)),
        interval_s=1.0,
    )
    with caplog.at_level(logging.ERROR, logger="edge.daemon.health"):
        for _ in range(5):
            assert reporter.tick() is True
    assert len(sent) == 5
    last = json.loads(sent[-1])
    assert last["loop_rate_hz"] == 100.0
    assert last["errors"] == {
        "broken": "RuntimeError: sensor table locked",
        "unencodable": "TypeError: cannot encode object as JSON",
    }
    assert "thing" not in last
    assert len(caplog.records) == 2  # once per distinct problem, not once per message


def test_the_thread_outlives_a_publish_that_raises():
    delivered: list[float] = []
    calls = {"n": 0}

    def flaky_publish(health: dict) -> None:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise ConnectionError("queue closed")
        delivered.append(health["wall_time"])

    reporter = HealthReporter({}, flaky_publish, interval_s=0.5)
    reporter.interval_s = 0.05  # as cmd/config would change it (the config minimum is 0.5)
    reporter.start()
    try:
        deadline = time.monotonic() + 10.0
        while len(delivered) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        reporter.stop()
    assert len(delivered) >= 5
    assert reporter.failures == 3


@pytest.mark.slow
def test_health_every_interval_while_recording_after_stop_and_across_an_outage(tmp_path):
    interval = 0.5
    broker = start_mosquitto()
    port = broker.port
    daemon = make_daemon(
        broker, SHIPPED_BUNDLE, tmp_path, "hl", record=True, health_interval_s=interval
    )
    watchers = [Watcher(broker, "hl")]
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 90.0})
    try:
        assert watchers[0].subscribed.wait(10)
        daemon.start()
        runner.start()
        assert daemon.link.wait_ready(15)
        assert daemon.recorder.recording

        # 1. While recording: every message has the recorder's figures, and no errors.
        t0 = time.monotonic()
        recording = [json.loads(p) for _, p in watchers[0].wait_count("health", 6, after=t0)]
        for h in recording:
            assert "errors" not in h, h["errors"]
            assert h["recording"] is True
            assert h["recorder"]["session_dir"].startswith(str(tmp_path / "rec"))
        assert recording[-1]["recorder"]["samples_appended"] > 0

        # 2. After `record stop`: still every interval, now saying it does not record.
        reply = command(broker, "hl", "record", {"action": "stop"})
        assert reply["ok"] is True, reply
        stopped_at = time.time()
        t1 = time.monotonic()
        after_stop = [json.loads(p) for _, p in watchers[0].wait_count("health", 4, after=t1)]
        later = [h for h in after_stop if h["wall_time"] > stopped_at]
        assert len(later) >= 3
        assert all(h["recording"] is False and "errors" not in h for h in later)

        # 3. Broker outage: the daemon keeps producing health (queued while offline).
        broker.stop()
        deadline = time.monotonic() + 10
        while daemon.link.is_connected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not daemon.link.is_connected
        down_wall = time.time()
        produced = daemon.health_reporter.published
        while daemon.health_reporter.published < produced + 4 and time.monotonic() < deadline + 20:
            time.sleep(0.02)
        assert daemon.health_reporter.published >= produced + 4
        broker = start_mosquitto(port)
        up_wall = time.time()
        watchers.append(Watcher(broker, "hl"))
        t2 = time.monotonic()
        # The queued messages come first, then the live ones again.
        fresh = watchers[1].wait_for(
            "health", lambda p: json.loads(p)["wall_time"] > up_wall, timeout=20, after=t2
        )
        assert json.loads(fresh)["sensors_total"] == 7
        watchers[1].wait_count("health", len(watchers[1].topic("health")) + 2, 10)
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()
        for w in watchers:
            w.close()
        broker.stop()
    walls = sorted({h["wall_time"] for w in watchers for h in w.json("health")})
    during = [w for w in walls if down_wall < w < up_wall]
    # Made while the broker was down and delivered after it came back.
    outage_s = up_wall - down_wall
    assert len(during) >= int(outage_s / interval) - 1, (len(during), outage_s)
    gaps = np.diff(walls)
    # Every interval over the whole run (one message lost at the instant the broker died
    # would show as a 2-interval gap).
    assert gaps.max() < 3 * interval, gaps.max()
    assert len(walls) >= 6 + 3 + 4 + 3
