"""Errors a user can act on: an unreachable broker is logged (at once and then
periodically), ``simulate`` fails when nothing could be delivered, broker addresses in
every documented form, one-line refusals with exit 2 and no traceback."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import pytest

from edge.config import ConfigError, validate_config_text
from edge.mqtt.connect_log import ConnectFailureLog
from edge.mqtt.link import MqttLink
from edge.mqtt.local_broker import free_port, start_mosquitto

EDGE = [sys.executable, "-m", "edge.cli"]
MINIMAL = '[device]\nid = "a"\n[participant]\nheight_m = 1.8\nmass_kg = 75\n'


@pytest.mark.parametrize(
    ("mqtt", "expected"),
    [
        ('host = "mqtt://broker.lan:2000"', ("broker.lan", 2000, False)),
        ('host = "mqtt://broker.lan"', ("broker.lan", 1883, False)),
        ('host = "mqtts://broker.lan"', ("broker.lan", 8883, True)),
        ('host = "mqtts://broker.lan:8884"', ("broker.lan", 8884, True)),
        ('host = "broker.lan:1999"', ("broker.lan", 1999, False)),
        ('host = "broker.lan:1999"\nport = 1999', ("broker.lan", 1999, False)),
        ('host = "[::1]:1885"', ("::1", 1885, False)),
        ('host = "::1"\nport = 1886', ("::1", 1886, False)),
        ('host = "mqtt://h"\nport = 1777', ("h", 1777, False)),
    ],
)
def test_config_host_takes_every_address_form(mqtt, expected):
    cfg = validate_config_text(MINIMAL + "[mqtt]\n" + mqtt + "\n")
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls is not None) == expected


@pytest.mark.parametrize(
    ("mqtt", "key", "reason"),
    [
        ('host = "127.0.0.1:abc"', "mqtt.host", "broker port 'abc' is not a number (1-65535)"),
        ('host = "ws://h:80"', "mqtt.host", "unknown scheme 'ws'"),
        ('host = "h:1884"\nport = 1885', "mqtt", "gives port 1884 but port = 1885"),
        ('host = "a b"', "mqtt.host", "is not a host name"),
    ],
)
def test_bad_broker_settings_are_one_line_naming_the_key(mqtt, key, reason):
    with pytest.raises(ConfigError) as info:
        validate_config_text(MINIMAL + "[mqtt]\n" + mqtt + "\n", "edge.toml")
    problems = dict(info.value.problems)
    assert reason in problems[key]
    assert "\n" not in str(info.value)


def test_connect_failure_log_first_at_once_then_periodic(caplog):
    now = [100.0]
    failures = ConnectFailureLog("10.0.0.9:1883", remind_s=30.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="edge.mqtt.link"):
        failures.failed("[Errno 111] Connection refused", queued=5)
        for _ in range(10):  # retries within 29 s: no new line
            now[0] += 2.9
            failures.failed("[Errno 111] Connection refused", queued=5)
        assert failures.lines == 1
        now[0] += 1.2  # 30.2 s after the first line
        failures.failed("[Errno 111] Connection refused", queued=40, dropped=2)
        assert failures.lines == 2
        failures.failed("[Errno 113] No route to host")  # a new reason: at once
        assert failures.lines == 3
        failures.connected()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("MQTT broker 10.0.0.9:1883 is unreachable: [Errno 111]")
    assert "check [mqtt] host and port" in messages[0]
    assert "still unreachable after 30 s (12 attempts)" in messages[1]
    assert "40 messages queued, 2 dropped" in messages[1]
    assert "No route to host" in messages[2]
    assert messages[3] == "MQTT broker 10.0.0.9:1883 reachable again after 13 failed attempts"
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 3 + [logging.INFO]


@pytest.mark.slow
def test_an_unreachable_broker_is_logged_with_the_reason_until_it_comes(caplog):
    from edge.config import MqttConfig

    port = free_port()
    cfg = MqttConfig.model_validate(
        {"host": "127.0.0.1", "port": port, "reconnect": {"min_s": 0.1, "max_s": 0.3}}
    )
    link = MqttLink(cfg, "unreach")
    link._failures.remind_s = 1.0
    broker = None
    with caplog.at_level(logging.INFO, logger="edge.mqtt.link"):
        try:
            link.start()
            deadline = time.monotonic() + 20
            while link._failures.lines < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert link._failures.lines >= 3
            assert not link.is_connected
            assert "Connection refused" in link.stats().last_error
            broker = start_mosquitto(port)
            assert link.wait_connected(15)
        finally:
            link.close(timeout_s=1.0)
            if broker is not None:
                broker.stop()
    lines = [r for r in caplog.records if "MQTT broker" in r.getMessage()]
    first = lines[0].getMessage()
    assert lines[0].levelno == logging.WARNING
    assert f"127.0.0.1:{port} is unreachable" in first and "Connection refused" in first
    assert any("still unreachable after" in r.getMessage() for r in lines[1:])
    assert "reachable again" in lines[-1].getMessage()


def _edge(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*EDGE, *args], capture_output=True, text=True, timeout=timeout)


def _stderr_lines(out: subprocess.CompletedProcess) -> list[str]:
    return [
        ln
        for ln in out.stderr.splitlines()
        if ln.strip() and not ln.startswith("INFO: Created TensorFlow Lite")  # LiteRT's own
    ]


@pytest.mark.slow
def test_simulate_fails_when_the_broker_is_unreachable(tmp_path):
    port = free_port()
    out = _edge(
        "simulate", "--recording", "P01_walking", "--broker", f"mqtt://127.0.0.1:{port}",
        "--duration", "2", "--fast",
    )  # fmt: skip
    assert out.returncode == 1, out.stderr[-2000:]
    lines = _stderr_lines(out)
    assert "Traceback" not in out.stderr
    assert lines[-1].startswith("error: never connected to the broker")
    assert "Connection refused" in lines[-1] and "messages were delivered" in lines[-1]
    # The daemon said so while it ran, at the default log level.
    assert any(f"127.0.0.1:{port} is unreachable" in ln for ln in lines[:-1])


@pytest.mark.slow
def test_simulate_exits_0_when_everything_was_delivered(mosquitto):
    out = _edge(
        "simulate", "--recording", "P01_walking", "--broker", f"mqtt://{mosquitto.address}",
        "--duration", "2", "--fast",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--broker", "127.0.0.1:abc"], ["broker port 'abc' is not a number (1-65535)"]),
        (["--record-dir", "{file}/rec"], ["cannot start", "{file}"]),
        (["--config", "{file}"], ["{file}", "not valid TOML"]),
    ],
)
def test_simulate_refusals_are_one_line_exit_2(tmp_path, args, words):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    args = [a.replace("{file}", str(blocker)) for a in args]
    out = _edge("simulate", "--recording", "P01_walking", "--duration", "1", "--fast", *args)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    lines = [ln for ln in _stderr_lines(out) if not ln.startswith(("WARNING", "ERROR"))]
    assert len(lines) == 1, out.stderr
    for word in words:
        assert word.replace("{file}", str(blocker)) in lines[0]
