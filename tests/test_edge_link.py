"""The MQTT link against a real mosquitto: availability, outages, the offline queue.

No mocks: brokers are real mosquitto processes; an outage is a broker stopped and a new
one started on the same port; an abrupt client death is a SIGKILLed child process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.config import MqttConfig
from edge.mqtt.commands import CommandDispatcher
from edge.mqtt.link import LinkStats, MqttLink
from edge.mqtt.local_broker import free_port, start_mosquitto
from edge.mqtt.payloads import EstimateFrame

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Msg:
    topic: str
    payload: bytes
    retain: bool
    at: float


class Observer:
    """A dashboard stand-in: a plain paho client that records what it receives."""

    def __init__(self, host: str, port: int, topic: str = "sspinn/#", name: str = "obs") -> None:
        self.messages: list[Msg] = []
        self._cond = threading.Condition()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{time.time_ns()}"
        )
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(5), "observer could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.messages.append(
                Msg(msg.topic, bytes(msg.payload), bool(msg.retain), time.monotonic())
            )
            self._cond.notify_all()

    def on(self, topic: str) -> list[Msg]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, pred: Callable[[list[Msg]], bool], timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not pred(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def send(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _cfg(port: int, **kw) -> MqttConfig:
    base = {
        "host": "127.0.0.1",
        "port": port,
        "keepalive_s": 10,
        "reconnect": {"min_s": 0.1, "max_s": 0.5},
    }
    base.update(kw)
    return MqttConfig.model_validate(base)


def _frame(seq: int) -> EstimateFrame:
    return EstimateFrame(
        t=seq / 100, seq=seq, angles_deg={"knee_angle_r": seq * 0.1}, speed_m_s=1.2
    )


def _adds_up(s: LinkStats) -> bool:
    return s.submitted == s.published + s.dropped + s.queued


@pytest.fixture
def link_factory() -> Iterator[Callable[..., MqttLink]]:
    links: list[MqttLink] = []

    def make(cfg: MqttConfig, device: str = "dev1", **kw) -> MqttLink:
        link = MqttLink(cfg, device, **kw)
        links.append(link)
        return link

    yield make
    for link in links:
        link.close(timeout_s=1.0)


def test_status_online_and_meta_are_retained_on_connect(mosquitto, link_factory):
    link = link_factory(
        _cfg(mosquitto.port), meta={"sample_rate_hz": 100.0, "joints": ["knee_angle_r"]}
    )
    assert not link.is_connected
    link.start()
    assert link.wait_connected(5)
    # Both acknowledged by the broker (PUBACK): it holds them before the observer comes.
    assert link.wait_idle(5)
    # A dashboard that subscribes later gets both as retained messages.
    obs = Observer(mosquitto.host, mosquitto.port, "sspinn/dev1/#")
    assert obs.wait_for(lambda m: len(m) >= 2)
    status, meta = obs.on("sspinn/dev1/status"), obs.on("sspinn/dev1/meta")
    assert [(m.payload, m.retain) for m in status] == [(b"online", True)]
    assert meta[0].retain and b'"sample_rate_hz":100.0' in meta[0].payload
    # set_meta republishes at once (retained) and is what the next connect publishes
    link.set_meta({"sample_rate_hz": 200.0})
    assert obs.wait_for(lambda m: len([x for x in m if x.topic.endswith("meta")]) == 2)
    obs.close()
    s = link.stats()
    assert (s.connects, s.reconnects, s.refused) == (1, 0, 0)
    link.close()
    assert not link.is_connected
    obs2 = Observer(mosquitto.host, mosquitto.port, "sspinn/dev1/#")
    assert obs2.wait_for(lambda m: len(m) >= 2)
    assert obs2.on("sspinn/dev1/status")[0].payload == b"offline"  # clean close, retained
    assert b"200.0" in obs2.on("sspinn/dev1/meta")[0].payload
    obs2.close()


_CHILD = """
import sys, time
from edge.config import MqttConfig
from edge.mqtt.link import MqttLink
cfg = MqttConfig(host="127.0.0.1", port=int(sys.argv[1]), keepalive_s=60)
link = MqttLink(cfg, "willdev", meta={"x": 1})
link.start()
print("connected" if link.wait_connected(10) else "failed", flush=True)
time.sleep(60)
"""


def test_last_will_offline_when_the_process_dies(mosquitto):
    obs = Observer(mosquitto.host, mosquitto.port, "sspinn/willdev/status")
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(mosquitto.port)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert child.stdout.readline().strip() == "connected"
        assert obs.wait_for(lambda m: any(x.payload == b"online" for x in m))
        os.kill(child.pid, signal.SIGKILL)  # no DISCONNECT: the broker must send the will
        t0 = time.monotonic()
        assert obs.wait_for(lambda m: m[-1].payload == b"offline", timeout_s=5)
        assert time.monotonic() - t0 < 2.0  # from the socket close, not a 60 s keepalive
    finally:
        child.kill()
        child.wait()
    obs.close()
    late = Observer(mosquitto.host, mosquitto.port, "sspinn/willdev/status", "late")
    assert late.wait_for(lambda m: len(m) == 1)
    assert (late.messages[0].payload, late.messages[0].retain) == (b"offline", True)
    late.close()


def test_outage_reconnect_republish_resubscribe_and_offline_queue(link_factory):
    broker = start_mosquitto()
    port = broker.port
    # Back-off 0.5, 1, 2, 4 s: retries at about 0.5, 1.5, 3.5 and 7.5 s after the loss,
    # so a broker restarted at 4.5 s is found by the 7.5 s retry, after the observer is in.
    cfg = _cfg(port, reconnect={"min_s": 0.5, "max_s": 4.0}, offline_queue={"max_messages": 50})
    link = link_factory(cfg, meta={"model": "m1"})
    commands = CommandDispatcher(link)
    handled: list[str] = []
    commands.register("record", lambda req: handled.append(req.action) or {"recording": True})
    commands.start()
    link.start()
    try:
        assert link.wait_ready(5)
        obs = Observer("127.0.0.1", port)
        obs.send("sspinn/dev1/cmd/record", '{"action": "start", "id": 1}')
        assert obs.wait_for(lambda m: any(x.topic.endswith("record/result") for x in m))
        obs.close()

        broker.stop()
        t_stop = time.monotonic()
        deadline = t_stop + 5
        while link.is_connected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not link.is_connected
        before = link.stats()
        # While offline: 60 estimates, a result, 60 estimates, two results.
        for seq in range(60):
            link.publish_estimate(_frame(seq))
        link.publish_result("record", {"ok": True, "n": 0})
        for seq in range(60, 120):
            link.publish_estimate(_frame(seq))
        link.publish_result("record", {"ok": True, "n": 1})
        link.publish_result("record", {"ok": True, "n": 2})
        s = link.stats()
        assert _adds_up(s)
        assert s.submitted - before.submitted == 123
        assert s.published == before.published  # nothing goes to paho while offline
        assert s.queued == 50  # the bound
        assert s.dropped_bulk - before.dropped_bulk == 73  # estimates only
        assert s.dropped_reliable == before.dropped_reliable == 0

        time.sleep(max(0.0, t_stop + 4.5 - time.monotonic()))
        assert not link.is_connected
        broker = start_mosquitto(port=port)
        t_restart = time.monotonic()
        obs = Observer("127.0.0.1", port)
        assert link.wait_connected(10), "the link did not reconnect by itself"
        reconnect_s = time.monotonic() - t_restart
        assert link.wait_ready(5)  # subscriptions acknowledged again
        assert link.wait_idle(5)
        assert obs.wait_for(
            lambda m: (
                sum(x.topic.endswith("/estimate") for x in m) >= 47
                and sum(x.topic.endswith("record/result") for x in m) >= 3
            ),
        )
        s = link.stats()
        assert _adds_up(s) and s.queued == 0 and s.reconnects == 1 and s.disconnects >= 1
        # status and meta were republished on the reconnect (live, then retained below)
        assert [m.payload for m in obs.on("sspinn/dev1/status")] == [b"online"]
        assert [m.payload for m in obs.on("sspinn/dev1/meta")] == [b'{"model":"m1"}']
        # drop_oldest: the 47 newest estimates arrive, in order; all 3 results arrive
        seqs = [json.loads(m.payload)["seq"] for m in obs.on("sspinn/dev1/estimate")]
        assert seqs == list(range(73, 120))
        results = [json.loads(m.payload) for m in obs.on("sspinn/dev1/cmd/record/result")]
        assert [r["n"] for r in results] == [0, 1, 2]
        # re-subscribed: a command sent after the restart is answered
        obs.send("sspinn/dev1/cmd/record", '{"action": "stop", "id": "after"}')
        assert obs.wait_for(
            lambda m: any(b'"id":"after"' in x.payload for x in m if x.topic.endswith("result"))
        )
        assert handled == ["start", "stop"]
        obs.close()
        late = Observer("127.0.0.1", port, "sspinn/dev1/+", "late")
        assert late.wait_for(lambda m: len(m) >= 2)
        assert {(m.topic.rsplit("/", 1)[1], m.retain) for m in late.messages} == {
            ("status", True),
            ("meta", True),
        }
        late.close()
        print(f"reconnect after restart: {reconnect_s:.2f} s")
    finally:
        commands.close(1.0)
        link.close(1.0)
        broker.stop()


def test_drop_newest_policy_and_delivery_on_first_connect(link_factory):
    port = free_port()  # nothing listens yet: the daemon starts without a broker
    cfg = _cfg(port, offline_queue={"max_messages": 5, "policy": "drop_newest"})
    link = link_factory(cfg)
    link.start()
    for seq in range(10):
        link.publish_estimate(_frame(seq))
    link.publish_result("config", {"ok": True})  # evicts the oldest estimate, not itself
    s = link.stats()
    assert (s.submitted, s.queued, s.dropped_bulk, s.dropped_reliable) == (11, 5, 6, 0)
    assert not link.is_connected and s.connects == 0
    broker = start_mosquitto(port=port)
    try:
        obs = Observer("127.0.0.1", port)
        assert link.wait_connected(5) and link.wait_idle(5)
        assert obs.wait_for(lambda m: len([x for x in m if x.topic.endswith("result")]) == 1)
        assert obs.wait_for(lambda m: len([x for x in m if x.topic.endswith("estimate")]) == 4)
        seqs = [json.loads(m.payload)["seq"] for m in obs.on("sspinn/dev1/estimate")]
        assert seqs == [1, 2, 3, 4]
        s = link.stats()
        assert _adds_up(s) and s.published == 5 and s.delivered == 5 and s.queued == 0
        obs.close()
    finally:
        link.close(1.0)
        broker.stop()


def test_publish_never_blocks_and_throughput(mosquitto, link_factory):
    link = link_factory(_cfg(mosquitto.port, offline_queue={"max_messages": 100000}))
    link.start()
    assert link.wait_connected(5)
    obs = Observer(mosquitto.host, mosquitto.port, "sspinn/dev1/estimate")
    n = 3000
    costs = []
    t0 = time.perf_counter()
    for seq in range(n):
        frame = _frame(seq)
        a = time.perf_counter()
        link.publish_estimate(frame)
        costs.append(time.perf_counter() - a)
    assert link.wait_idle(20)
    assert obs.wait_for(lambda m: len(m) == n, timeout_s=20)
    elapsed = time.perf_counter() - t0
    costs.sort()
    median_us = costs[n // 2] * 1e6
    rate = n / elapsed
    print(f"enqueue median {median_us:.1f} us, end-to-end {rate:.0f} msg/s")
    assert median_us < 100  # a lock and an append, no I/O
    assert rate > 300  # a 20 Hz dashboard stream needs 20
    s = link.stats()
    assert s.published == s.delivered == n and s.dropped == 0
    obs.close()


# ---------------------------------------------------------------------- secure broker
def _openssl(args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args.split()], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def secure_broker(tmp_path) -> Iterator[tuple[int, Path]]:
    """mosquitto with TLS (a throwaway CA) and a password file: user 'belt', 'right-pw'."""
    d = tmp_path
    new_key = "req -newkey rsa:2048 -nodes"
    _openssl(f"{new_key} -x509 -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem", d)
    _openssl(f"{new_key} -subj /CN=127.0.0.1 -keyout server.key -out server.csr", d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile san.ext -out server.pem",
        d,
    )
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(d / "passwd"), "belt", "right-pw"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    # As root, mosquitto would drop to user 'mosquitto', who cannot read these files.
    user = "user root\n" if os.geteuid() == 0 else ""
    (d / "m.conf").write_text(
        f"{user}per_listener_settings false\nallow_anonymous false\npersistence false\n"
        f"password_file {d / 'passwd'}\nlistener {port} 127.0.0.1\n"
        f"cafile {d / 'ca.pem'}\ncertfile {d / 'server.pem'}\nkeyfile {d / 'server.key'}\n"
    )
    proc = subprocess.Popen(
        ["/usr/sbin/mosquitto", "-c", str(d / "m.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, "mosquitto with TLS did not start"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.02)
    try:
        yield port, d
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(5)


def test_tls_with_credentials_and_a_refusal_is_never_connected(secure_broker, link_factory):
    port, d = secure_broker
    tls = {"ca_file": str(d / "ca.pem")}
    wrong = link_factory(_cfg(port, tls=tls, username="belt", password="wrong-pw"), "dev-wrong")
    wrong.start()
    deadline = time.monotonic() + 5
    while wrong.stats().refused < 2 and time.monotonic() < deadline:
        assert not wrong.is_connected
        time.sleep(0.01)
    s = wrong.stats()
    assert s.refused >= 2 and s.connects == 0 and not s.connected  # and it keeps retrying
    assert "refused" in (s.last_error or "")

    (d / "pw").write_text("right-pw\n")
    cfg = MqttConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "tls": tls,
            "username": "belt",
            "password_file": str(d / "pw"),
        }
    )
    good = link_factory(cfg, "dev-good", meta={"m": 1})
    good.start()
    assert good.wait_connected(5)
    assert good.stats().refused == 0
    assert good.publish_result("record", {"ok": True}) and good.wait_idle(5)
    assert good.stats().delivered == 1


def test_tls_with_an_untrusted_ca_never_connects(secure_broker, link_factory, tmp_path_factory):
    port, _ = secure_broker
    other = tmp_path_factory.mktemp("other")
    _openssl(
        "req -newkey rsa:2048 -nodes -x509 -days 1 -subj /CN=other -keyout o.key -out o.pem", other
    )
    cfg = _cfg(port, tls={"ca_file": str(other / "o.pem")}, username="belt", password="right-pw")
    link = link_factory(cfg, "dev-badca")
    link.start()
    assert not link.wait_connected(1.0)
    assert link.stats().connects == 0
