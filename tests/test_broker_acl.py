"""The broker recipe (``sspinn-edge broker-config``) on a real mosquitto: only the operator
commands a device; anonymous clients and other devices cannot, and anonymous clients
read estimates only."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading

import pytest
from daemon_helpers import SHIPPED_BUNDLE, Watcher, command, make_daemon, publish_once

from edge.mqtt.broker_config import acl_text, mosquitto_hash, write_broker_config
from edge.mqtt.local_broker import start_mosquitto


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="no mosquitto_passwd")
def test_password_hash_equals_mosquitto_passwd(tmp_path):
    path = tmp_path / "passwd"
    path.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(path), "op", "s3cret pass"], check=True)
    theirs = path.read_text().strip().split(":", 1)[1]
    _, kind, iterations, salt, _ = theirs.split("$")
    assert kind == "7"
    ours = mosquitto_hash("s3cret pass", salt=base64.b64decode(salt), iterations=int(iterations))
    assert ours == theirs
    assert mosquitto_hash("s3cret pass") != mosquitto_hash("s3cret pass")  # fresh salt


def test_acl_gives_each_account_only_its_topics():
    text = acl_text(["belt-01", "belt-02"], "op")
    anonymous = text.split("\nuser ")[0]
    assert [ln for ln in anonymous.splitlines() if ln.startswith("topic")] == [
        "topic read sspinn/+/estimate"
    ]
    device = text.split("user belt-01\n")[1].split("\n\n")[0].splitlines()
    assert "topic read sspinn/belt-01/cmd/#" in device
    assert not [ln for ln in device if "belt-02" in ln or "sspinn/+" in ln or (ln.endswith("/#")
                and "read" not in ln and "homeassistant" not in ln)]  # fmt: skip


def test_cli_writes_private_password_files(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "broker-config", "--out", str(tmp_path / "b"),
         "--device", "belt-01", "--operator", "op"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for name in ("belt-01.password", "op.password"):  # plain passwords: owner only
        assert (tmp_path / "b" / name).stat().st_mode & 0o077 == 0
    assert (tmp_path / "b" / "passwd").stat().st_mode & 0o007 == 0  # hashes: never world
    users = [ln.split(":")[0] for ln in (tmp_path / "b" / "passwd").read_text().splitlines()]
    assert users == ["belt-01", "op"]
    bad = subprocess.run(
        [sys.executable, "-m", "edge.cli", "broker-config", "--out", str(tmp_path / "c"),
         "--device", "a/b"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "letters, digits" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_only_the_operator_commands_the_device(tmp_path, broker_dir):
    files = write_broker_config(broker_dir, ["acl-dev", "other-dev"], operator="op")
    password = {a: p.read_text().strip() for a, p in files.passwords.items()}
    broker = start_mosquitto(
        extra_config=[f"password_file {files.passwd}", f"acl_file {files.acl}"]
    )
    operator = {"username": "op", "password": password["op"]}
    other = {"username": "other-dev", "password": password["other-dev"]}
    daemon = make_daemon(
        broker, SHIPPED_BUNDLE, tmp_path, "acl-dev", record=False, health_interval_s=0.5,
        mqtt_settings={"username": "acl-dev", "password_file": str(files.passwords["acl-dev"])},
    )  # fmt: skip
    anonymous_watch = Watcher(broker, "acl-dev")
    operator_watch = Watcher(broker, "acl-dev", **operator)
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 60.0})
    try:
        assert anonymous_watch.subscribed.wait(10) and operator_watch.subscribed.wait(10)
        daemon.start()
        runner.start()
        assert daemon.link.wait_ready(15), daemon.link.stats().last_error
        topic = "sspinn/acl-dev/cmd/config"
        # Forbidden first, each acknowledged by the broker before the next goes out; the
        # operator's command comes last, so a forbidden one that got through would have
        # reached the device before it.
        publish_once(broker, topic, json.dumps({"publish_rate_hz": 1, "id": "anon"}))
        publish_once(broker, topic, json.dumps({"publish_rate_hz": 2, "id": "dev"}), **other)
        reply = command(
            broker, "acl-dev", "config", {"publish_rate_hz": 10, "id": "op"}, **operator
        )
        assert reply["ok"] is True and reply["id"] == "op", reply
        assert daemon.dispatcher.stats.received == 1
        assert daemon.publisher.publish_rate_hz == 10.0
        # The device account cannot publish as another device (same client: in order).
        dev = {"username": "acl-dev", "password": password["acl-dev"]}
        publish_once(broker, "sspinn/other-dev/estimate", b"{}", **dev)
        publish_once(broker, "sspinn/acl-dev/estimate", b'{"marker": 1}', **dev)
        operator_watch.wait_for("estimate", lambda p: p == b'{"marker": 1}', timeout=10)
        # Anonymous readers get estimates and nothing else.
        operator_watch.wait_count("health", 3, timeout=15)
        anonymous_watch.wait_count("estimate", 5, timeout=10)
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()
        anonymous_watch.close()
        operator_watch.close()
        broker.stop()
    seen = {t.rsplit("/", 1)[-1] for _, t, _ in anonymous_watch.messages}
    assert seen == {"estimate"}, seen
    results = [json.loads(p) for _, t, p in operator_watch.messages if t.endswith("/result")]
    assert [r["id"] for r in results] == ["op"]
    assert not [t for _, t, _ in operator_watch.messages if "other-dev" in t]


def test_clients_without_the_password_are_refused(broker_dir):
    files = write_broker_config(broker_dir, ["d1"], operator="op")
    broker = start_mosquitto(
        extra_config=[f"password_file {files.passwd}", f"acl_file {files.acl}"]
    )
    try:
        with pytest.raises(AssertionError, match="not connected as op"):
            publish_once(broker, "sspinn/d1/cmd/config", b"{}", username="op", password="wrong")
        good = files.passwords["op"].read_text().strip()
        publish_once(broker, "sspinn/d1/cmd/config", b"{}", username="op", password=good)
    finally:
        broker.stop()
