"""The test broker is a real mosquitto, and paho-mqtt 2.x talks to it."""

from __future__ import annotations

import json
import os
import threading

import paho.mqtt.client as mqtt
import pytest

from edge.mqtt.local_broker import free_port, start_mosquitto


def _connected_client(host: str, port: int, client_id: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect(host, port)
    client.loop_start()
    assert connected.wait(5), "no CONNACK from the broker"
    return client


def test_round_trip_qos0_and_qos1(mosquitto):
    received: list[tuple[str, bytes, int]] = []
    done = threading.Event()

    sub = _connected_client(mosquitto.host, mosquitto.port, "sub")
    subscribed = threading.Event()
    sub.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()

    def on_message(client, userdata, msg):
        received.append((msg.topic, msg.payload, msg.qos))
        if len(received) == 20:
            done.set()

    sub.on_message = on_message
    sub.subscribe("sspinn/test-dev/#", qos=1)
    assert subscribed.wait(5)

    pub = _connected_client(mosquitto.host, mosquitto.port, "pub")
    for i in range(20):
        payload = json.dumps({"seq": i, "angles_deg": [i * 0.5] * 6}).encode()
        info = pub.publish("sspinn/test-dev/estimate", payload, qos=i % 2)
        info.wait_for_publish(5)
    assert done.wait(5), f"only {len(received)} of 20 messages arrived"
    assert [json.loads(p)["seq"] for _, p, _ in received] == list(range(20))
    assert {q for _, _, q in received} == {0, 1}
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()


def test_retained_message_and_last_will(mosquitto):
    dev = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dev")
    dev.will_set("sspinn/dev1/status", "offline", qos=1, retain=True)
    dev.connect(mosquitto.host, mosquitto.port, keepalive=1)
    dev.loop_start()
    dev.publish("sspinn/dev1/status", "online", qos=1, retain=True).wait_for_publish(5)

    seen: list[bytes] = []
    got = threading.Event()
    watcher = _connected_client(mosquitto.host, mosquitto.port, "watcher")

    def on_message(client, userdata, msg):
        seen.append(msg.payload)
        got.set()

    watcher.on_message = on_message
    watcher.subscribe("sspinn/dev1/status", qos=1)
    assert got.wait(5)
    assert seen[0] == b"online"  # retained

    # Kill the device's socket without DISCONNECT: the broker must publish the will.
    got.clear()
    dev.loop_stop()
    dev.socket().close()
    assert got.wait(10), "no last will within 10 s"
    assert seen[-1] == b"offline"
    watcher.loop_stop()
    watcher.disconnect()


def test_broker_stops_by_pid():
    broker = start_mosquitto()
    pid = broker.pid
    assert broker.is_running()
    broker.stop()
    assert not broker.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_two_brokers_get_distinct_free_ports():
    a = start_mosquitto()
    b = start_mosquitto()
    try:
        assert a.port != b.port
        assert free_port() not in (a.port, b.port)
    finally:
        a.stop()
        b.stop()
