"""Signed commands (``[commands] require_signed``) on a running daemon against a real
mosquitto: unsigned, foreign-signed, 10-minute-old and replayed commands are refused with
their reason; properly signed ones run, model pushes included. Keys are made in tmp."""

from __future__ import annotations

import base64
import json
import logging
import re
import subprocess
import sys
import threading
import time

import pytest
from daemon_helpers import SHIPPED_BUNDLE, make_daemon

from converters.push import push_bundle
from edge.bundle import generate_keypair, load_signing_key
from edge.config import ConfigError, validate_config_text
from edge.mqtt.command_client import send_command
from edge.mqtt.commands import CommandDispatcher
from edge.mqtt.signed_commands import CommandVerifier, SignatureRefused, sign_command
from edge.mqtt.topics import Topics

MINIMAL = '[device]\nid = "a"\n[participant]\nheight_m = 1.8\nmass_kg = 75\n'


def _keys(tmp_path, name: str):
    private, public = generate_keypair(tmp_path / "keys" / f"{name}.key")
    return load_signing_key(private), public.read_text().strip()


def test_config_keys_and_switch_go_together(tmp_path):
    _, pub = _keys(tmp_path, "op")
    cfg = validate_config_text(
        MINIMAL + f"[commands]\nrequire_signed = true\ntrusted_keys = ['{pub}']"
    )
    assert cfg.commands.trusted_key_bytes() == [bytes.fromhex(pub)]
    assert cfg.commands.max_age_s == 60.0
    with pytest.raises(ConfigError, match="commands: require_signed = true needs at least one"):
        validate_config_text(MINIMAL + "[commands]\nrequire_signed = true\n")
    with pytest.raises(ConfigError, match="would still run unsigned commands"):
        validate_config_text(MINIMAL + f"[commands]\ntrusted_keys = ['{pub}']\n")
    with pytest.raises(ConfigError, match=r"commands\.max_age_s"):
        validate_config_text(
            MINIMAL
            + f"[commands]\nrequire_signed = true\ntrusted_keys = ['{pub}']\nmax_age_s = 600"
        )
    assert validate_config_text(MINIMAL).commands.require_signed is False


def test_verifier_checks_topic_device_age_and_forgets_old_nonces(tmp_path):
    key, pub = _keys(tmp_path, "op")
    now = [1_000_000.0]
    verifier = CommandVerifier([bytes.fromhex(pub)], "belt-01", 60.0, clock=lambda: now[0])
    topic = "sspinn/belt-01/cmd/config"

    def envelope(t_s: float, **kw) -> bytes:
        kw.setdefault("topic", topic)
        kw.setdefault("device", "belt-01")
        return sign_command(
            key, kw["topic"], kw["device"], b'{"batch_size": 2}', time_ms=int(t_s * 1000)
        )

    assert verifier.unwrap(topic, envelope(now[0] - 59)) == b'{"batch_size": 2}'
    with pytest.raises(SignatureRefused, match="does not verify"):  # signed for another device
        verifier.unwrap(topic, envelope(now[0], device="belt-02"))
    with pytest.raises(SignatureRefused, match="does not verify"):  # another topic
        verifier.unwrap(topic, envelope(now[0], topic="sspinn/belt-01/cmd/record"))
    with pytest.raises(SignatureRefused, match="stale command: signed 61 s ago"):
        verifier.unwrap(topic, envelope(now[0] - 61))
    with pytest.raises(SignatureRefused, match="from the future"):
        verifier.unwrap(topic, envelope(now[0] + 61))
    good = json.loads(envelope(now[0]))
    for change, reason in (
        ({"nonce": None}, "'nonce' is missing or not a string"),
        ({"time_ms": "1"}, "'time_ms' is missing or not an integer"),
        ({"sig": "!!"}, "not base64"),
        ({"sig": base64.b64encode(bytes(63)).decode()}, "sig must be 64 bytes, got 63"),
        ({"v": 2}, "unknown envelope version 2"),
    ):
        with pytest.raises(SignatureRefused, match=re.escape(reason)):
            verifier.unwrap(topic, json.dumps({**good, **change}).encode())
    for i in range(50):
        verifier.unwrap(topic, envelope(now[0] - i))
    assert verifier.remembered == 51
    # 30 s later, the commands signed more than 60 s ago (i = 31..49 and the first one)
    # cannot pass the age check any more: their nonces are forgotten.
    now[0] += 30.0
    assert verifier.remembered == 31
    now[0] += 31.0
    assert verifier.remembered == 0
    assert verifier.accepted == 51 and verifier.refused == 4 + 5


def test_signature_limits_grow_by_the_envelope(tmp_path):
    """A bundle of the full max_model_bytes still fits once base64-wrapped."""
    key, pub = _keys(tmp_path, "op")
    verifier = CommandVerifier([bytes.fromhex(pub)], "d", 60.0)

    class Link:
        topics = Topics("d")

        def __init__(self) -> None:
            self.replies: list[dict] = []

        def publish_result(self, name, result):
            self.replies.append(result)
            return True

    link = Link()
    dispatcher = CommandDispatcher(link, max_model_bytes=3000, verifier=verifier)
    payload = b"PK\x03\x04" + bytes(2996)
    dispatcher.on_message(
        "sspinn/d/cmd/model", sign_command(key, "sspinn/d/cmd/model", "d", payload)
    )
    assert dispatcher.stats.received == 1 and dispatcher.stats.rejected_early == 0
    dispatcher.on_message("sspinn/d/cmd/model", bytes(5000))
    assert dispatcher.stats.rejected_early == 1 and "too large" in link.replies[-1]["error"]
    assert dispatcher.stats.pending == 1  # the signed one, queued (the worker never started)


@pytest.mark.slow
def test_unsigned_foreign_stale_and_replayed_commands_are_refused(tmp_path, mosquitto, caplog):
    operator, pub = _keys(tmp_path, "operator")
    stranger, _ = _keys(tmp_path, "stranger")
    daemon = make_daemon(
        mosquitto,
        SHIPPED_BUNDLE,
        tmp_path,
        "signed",
        record=False,
        commands={"require_signed": True, "trusted_keys": [pub]},
    )
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 120.0})
    daemon.start()
    runner.start()
    assert daemon.link.wait_ready(15)
    topic = "sspinn/signed/cmd/record"
    start = b'{"action": "start", "id": "s1"}'

    def send(payload: bytes, name: str = "record", **kw) -> dict:
        return send_command(mosquitto.address, "signed", name, payload, timeout_s=20, **kw)

    try:
        with caplog.at_level(logging.WARNING, logger="edge.mqtt.commands"):
            reply = send(start)
            assert reply["ok"] is False and reply["cmd"] == "record"
            assert reply["error"].startswith("unsigned command refused")
            reply = send(start, key=stranger)
            assert reply["ok"] is False
            assert reply["error"].startswith("signature does not verify with any trusted key")
            ten_minutes_ago = int((time.time() - 600) * 1000)
            reply = send(sign_command(operator, topic, "signed", start, time_ms=ten_minutes_ago))
            assert reply["ok"] is False
            assert reply["error"].startswith("stale command: signed 6")  # 600 s (+ transit)
            assert "the limit is 60 s" in reply["error"]
            assert not daemon.recorder.recording
            # Properly signed: it runs (the id inside the signed payload is echoed).
            envelope = sign_command(operator, topic, "signed", start)
            reply = send(envelope)
            assert reply["ok"] is True and reply["id"] == "s1", reply
            assert daemon.recorder.recording
            # The same envelope again: refused, the recorder untouched.
            reply = send(envelope)
            assert reply["ok"] is False and reply["error"].startswith("replayed command: nonce")
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == 4, refusals
        assert daemon.dispatcher.verifier.accepted == 1
        assert daemon.dispatcher.verifier.refused == 4
        # A signed config change and a signed model push (raw bundle bytes) run too.
        reply = send(b'{"batch_size": 4}', name="config", key=operator)
        assert reply["ok"] is True and daemon.publisher.batch_size == 4
        swaps = daemon.slot.swaps
        unsigned = push_bundle(SHIPPED_BUNDLE, mosquitto.address, "signed", timeout_s=30)
        assert unsigned["ok"] is False and "unsigned command refused" in unsigned["error"]
        pushed = push_bundle(
            SHIPPED_BUNDLE, mosquitto.address, "signed", timeout_s=30, command_key=operator
        )
        assert pushed["ok"] is True, pushed
        assert daemon.slot.swaps == swaps + 1
        # The operator's command line: signed with --key it runs, unsigned it is refused.
        key_file = tmp_path / "keys" / "operator.key"
        base = [sys.executable, "-m", "edge.cli", "send-command", "--broker", mosquitto.address,
                "--device", "signed", "--timeout", "20", "config"]  # fmt: skip
        done = subprocess.run(
            [*base, '{"batch_size": 5}', "--key", str(key_file)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["ok"] is True and daemon.publisher.batch_size == 5
        done = subprocess.run([*base, '{"batch_size": 6}'], capture_output=True, text=True)
        assert done.returncode == 1
        assert json.loads(done.stdout)["error"].startswith("unsigned command refused")
        assert daemon.publisher.batch_size == 5
    finally:
        daemon.stop()
        runner.join(30)
        daemon.close()
