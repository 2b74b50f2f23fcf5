"""The dashboard bridge against a real mosquitto: SSE forwarding, state, limits, bad input."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dashboard_feed import DashboardFeed, SSEClient

from dashboard import DashboardServer, valid_device_id
from edge.mqtt.local_broker import LocalBroker

ROOT = Path(__file__).resolve().parents[1]


def _get(server: DashboardServer, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _state(server: DashboardServer, device: str | None = None) -> dict[str, Any]:
    status, _, body = _get(server, "/api/state" + (f"?device={device}" if device else ""))
    assert status == 200
    return json.loads(body)


def _events_url(server: DashboardServer, device: str = "feed") -> str:
    return f"http://127.0.0.1:{server.port}/events?device={device}"


@pytest.fixture
def server(mosquitto: LocalBroker) -> Iterator[DashboardServer]:
    with DashboardServer(mosquitto.address, port=0, default_device="feed") as srv:
        yield srv


@pytest.fixture
def feed(mosquitto: LocalBroker) -> Iterator[DashboardFeed]:
    f = DashboardFeed(mosquitto.host, mosquitto.port, device_id="feed")
    yield f
    f.stop()


def test_forwards_retained_status_meta_and_live_estimates(
    mosquitto: LocalBroker, feed: DashboardFeed
) -> None:
    feed.connect()  # retained status + meta exist before the bridge starts
    with DashboardServer(mosquitto.address, port=0) as srv:
        sse = SSEClient(_events_url(srv))
        try:
            assert sse.status == 200
            assert sse.headers["Content-Type"].startswith("text/event-stream")
            assert sse.wait_for(lambda c: c.of("status") and c.of("meta"), 5)
            assert sse.of("hello")[0].data["device"] == "feed"
            assert sse.of("status")[-1].data == "online"
            assert sse.of("meta")[-1].data["model"] == {"id": "stand-in-feed", "version": "0.0.1"}
            assert sse.of("bridge")[-1].data["mqtt_connected"] is True
            assert not sse.of("estimate")

            feed.start()
            assert sse.wait_for(lambda c: len(c.frames()) >= 10 and c.of("health"), 5)
            frames = sse.frames()
            ts = [f["t"] for f in frames]
            assert ts == sorted(ts) and len(set(ts)) == len(ts)
            assert set(frames[0]["angles_deg"]) >= {"knee_angle_r", "hip_flexion_l"}
            assert -90 < frames[0]["angles_deg"]["knee_angle_r"] <= 5
            assert sse.of("health")[-1].data["sensors_ok"] == 7

            feed.stop()  # a clean shutdown publishes offline (retained)
            assert sse.wait_for(lambda c: c.of("status")[-1].data == "offline", 5)
        finally:
            sse.close()


def test_api_state_snapshot(server: DashboardServer, feed: DashboardFeed) -> None:
    feed.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        snap = _state(server, "feed")
        if snap["estimate"] and snap["health"]:
            break
        time.sleep(0.05)
    assert snap["status"] == "online"
    assert snap["meta"]["model"]["id"] == "stand-in-feed"
    assert snap["meta"]["sample_rate_hz"] == 100.0
    assert snap["health"]["loop_rate_hz"] > 90
    assert isinstance(snap["estimate"]["t"], float)
    assert snap["counters"]["frames"] >= 1 and snap["counters"]["bad"] == 0
    assert snap["bridge"]["mqtt_connected"] is True
    assert snap["last_message_age_s"] < 2

    everything = _state(server)
    assert everything["default_device"] == "feed"
    assert everything["devices_seen"]["feed"] == "online"
    assert "feed" in everything["devices"]
    assert everything["limits"]["max_event_rate_hz"] == 30.0


def test_static_files_and_nothing_else(server: DashboardServer) -> None:
    status, headers, body = _get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<script src="app.js"></script>' in body and b'id="figure"' in body
    status, headers, body = _get(server, "/app.js")
    assert status == 200 and "javascript" in headers["Content-Type"]
    assert b"EventSource" in body
    assert _get(server, "/style.css")[0] == 200
    status, headers, body = _get(server, "/", method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) > 100 and body == b""
    assert _get(server, "/favicon.ico")[0] == 204
    for path in (
        "/../pyproject.toml",
        "/%2e%2e/edge/demo.py",
        "/dashboard_server.py",
        "/dashboard/app.js",
        "//etc/passwd",
        "/nope.html",
    ):
        status, _, body = _get(server, path)
        assert status == 404, path
        assert json.loads(body) == {"error": "not found"}


@pytest.mark.parametrize(
    "query",
    [
        "device=a/b",
        "device=%23",
        "device=%2B",
        "device=",
        "device=" + "x" * 65,
        "device=caf%C3%A9",
        "device=a%00b",
    ],
)
def test_bad_device_ids_rejected(server: DashboardServer, query: str) -> None:
    status, _, body = _get(server, f"/events?{query}")
    assert status == 400
    assert "device" in json.loads(body)["error"]
    assert _get(server, f"/api/state?{query}")[0] == 400
    assert _get(server, "/")[0] == 200  # still serving


def test_events_without_a_device_and_no_default(mosquitto: LocalBroker) -> None:
    with DashboardServer(mosquitto.address, port=0) as srv:
        assert _get(srv, "/events")[0] == 400
        assert _state(srv)["default_device"] is None


def test_device_id_rules() -> None:
    assert valid_device_id("belt-01") and valid_device_id("a.b_c")
    assert not valid_device_id("a b") and not valid_device_id(None)
    with pytest.raises(ValueError, match="port 'x' is not a number"):
        DashboardServer("h:x")


def test_bad_payloads_never_break_the_stream(server: DashboardServer, feed: DashboardFeed) -> None:
    feed.connect()
    sse = SSEClient(_events_url(server))
    try:
        assert sse.wait_for(lambda c: c.of("meta"), 5)
        for payload in (
            b"not json",
            b"\xff\xfe\x00",
            b"[]",
            b"[1, 2]",
            b'{"t": "x"}',
            b'{"t": NaN}',
            b'{"seq": 1}',
            b"",
            b"[" * 100_000,  # deep nesting
            b'{"t": 1, "pad": "' + b"x" * (1 << 20) + b'"}',  # over 1 MiB
        ):
            feed.publish_raw("estimate", payload)
        feed.publish_raw("health", b"{broken")
        # a non-conforming publisher's NaN becomes null, the frame still goes through
        feed.publish_raw("estimate", b'{"t": 1.5, "seq": 3, "angles_deg": {"knee_angle_r": NaN}}')
        assert sse.wait_for(lambda c: c.frames(), 5)
        assert sse.frames()[-1] == {"t": 1.5, "seq": 3, "angles_deg": {"knee_angle_r": None}}
        counters = _state(server, "feed")["counters"]
        assert counters["bad"] == 11  # 9 malformed estimates + the empty one + broken health
        feed.start()
        assert sse.wait_for(lambda c: len(c.frames()) >= 5, 5)
    finally:
        sse.close()


def test_many_frames_are_thinned_rate_limited_and_bounded(mosquitto: LocalBroker) -> None:
    rate, frame_rate, queue = 20.0, 100.0, 32
    with DashboardServer(
        mosquitto.address,
        port=0,
        max_event_rate_hz=rate,
        max_frame_rate_hz=frame_rate,
        max_queue_frames=queue,
    ) as srv:
        feed = DashboardFeed(mosquitto.host, mosquitto.port, device_id="feed", batch_size=10)
        feed.connect()
        sse = SSEClient(_events_url(srv))
        stalled = SSEClient(_events_url(srv))  # connected, but we never read from it
        try:
            assert sse.wait_for(lambda c: c.of("meta"), 5)
            t0 = time.monotonic()
            n = 6000  # 6 s of a 1 kHz sample clock, published as fast as possible
            feed.publish_frames(n, t0=0.0, dt=0.001)
            publish_s = time.monotonic() - t0

            def settled(c: SSEClient) -> bool:
                return (
                    _state(srv, "feed")["counters"]["frames"] == n
                    and bool(c.of("estimate"))
                    and time.monotonic() - c.of("estimate")[-1].at > 0.5
                )

            assert sse.wait_for(settled, 20)
            counters = _state(srv, "feed")["counters"]
            # thinned to 100 frames per second of sample clock
            assert counters["forwarded"] == pytest.approx(n * frame_rate / 1000, abs=2)
            assert counters["forwarded"] + counters["thinned"] == n
            events = sse.of("estimate")
            span = events[-1].at - events[0].at
            assert len(events) <= rate * span + 2
            assert all(len(e.data["frames"]) <= queue for e in events)
            received = sum(len(e.data["frames"]) for e in events)
            dropped = sum(e.data["dropped"] for e in events)
            assert received + dropped == counters["forwarded"]  # nothing lost silently
            # the stalled browser's outbox stays bounded
            hub = srv.hub("feed")
            assert hub is not None
            assert all(len(c.frames) <= queue for c in hub.clients)
            assert _get(srv, "/api/state")[0] == 200
            print(
                f"bridge: {n} frames published in {publish_s:.2f} s -> "
                f"{counters['forwarded']} forwarded, {len(events)} events in {span:.2f} s"
            )
        finally:
            sse.close()
            stalled.close()
            feed.stop()


def test_gone_clients_are_cleaned_up(server: DashboardServer, feed: DashboardFeed) -> None:
    feed.start()
    clients = [SSEClient(_events_url(server)) for _ in range(3)]
    assert all(c.wait_for(lambda c: c.frames(), 5) for c in clients)
    assert _state(server)["clients"] == 3
    for c in clients:
        c.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _state(server)["clients"]:
        time.sleep(0.1)
    assert _state(server)["clients"] == 0


def test_too_many_clients_refused(mosquitto: LocalBroker) -> None:
    with DashboardServer(mosquitto.address, port=0, max_clients=2) as srv:
        a, b = SSEClient(_events_url(srv)), SSEClient(_events_url(srv))
        try:
            assert a.status == b.status == 200
            assert a.wait_for(lambda c: c.of("hello"), 5) and b.wait_for(lambda c: c.of("hello"))
            assert _get(srv, "/events?device=feed")[0] == 503
        finally:
            a.close()
            b.close()


def test_embedded_broker_feeds_the_dashboard() -> None:
    """The demo's fallback broker (amqtt, no mosquitto) carries the same traffic."""
    from edge.mqtt.local_broker import start_embedded_broker

    broker = start_embedded_broker()
    try:
        feed = DashboardFeed(broker.host, broker.port, device_id="feed")
        feed.start()
        with DashboardServer(broker.address, port=0) as srv:
            sse = SSEClient(_events_url(srv))
            try:
                ok = sse.wait_for(
                    lambda c: c.of("status") and c.of("meta") and len(c.frames()) >= 5, 10
                )
                assert ok, [e.name for e in sse.events]
                assert sse.of("status")[-1].data == "online"
            finally:
                sse.close()
        feed.stop()
    finally:
        broker.stop()
    assert broker.process.poll() is not None


# ---- the demo's orchestration, with the stand-in in place of the simulator -------------------
_RUN_DEMO_WITH_STAND_IN = """
import sys
import dashboard.demo as demo
feed = [sys.executable, {feed!r}]
demo.sspinn_edge_command = lambda: feed
sys.exit(demo.main(sys.argv[1:]))
"""


def _start_demo_with_stand_in(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    code = _RUN_DEMO_WITH_STAND_IN.format(feed=str(ROOT / "tests" / "dashboard_feed.py"))
    return subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _read_until(proc: subprocess.Popen, prefix: str, timeout_s: float) -> tuple[str, list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        seen.append(line.rstrip())
        if line.startswith(prefix):
            return line, seen
    raise AssertionError(f"no {prefix!r} line in {seen}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_orchestration_stops_cleanly_on_sigint(broker: str) -> None:
    proc = _start_demo_with_stand_in("--broker", broker, "--segment-seconds", "2")
    try:
        line, _ = _read_until(proc, "MQTT broker:", 30)
        broker_pid = int(line.split("pid ")[1].split(")")[0])
        url = _read_until(proc, "Dashboard:", 10)[0].split()[1]
        sse = SSEClient(url.replace("/?", "/events?"))
        try:
            assert sse.wait_for(lambda c: len(c.frames()) >= 5, 20)
            # walking, then running: the stand-in names its model after the recording
            assert sse.wait_for(
                lambda c: (
                    {e.data["model"]["id"] for e in c.of("meta")}
                    >= {"stand-in:P01_walking", "stand-in:P01_running"}
                ),
                15,
            )
        finally:
            sse.close()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "Demo stopped" in out
        assert not _pid_alive(broker_pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_demo_seconds_stops_by_itself() -> None:
    t0 = time.monotonic()
    proc = _start_demo_with_stand_in(env={"DEMO_SECONDS": "4"})
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "Stopping by itself after 4 s" in out
    assert 4 <= time.monotonic() - t0 < 30


def test_dashboard_logs_in_with_a_viewer_account_under_the_acl(
    broker_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Under the broker recipe an anonymous dashboard gets estimates only; with a
    `broker-config --viewer` account (password from $SSPINN_MQTT_PASSWORD, as
    `sspinn-dashboard --username` takes it) it shows status, meta and health too."""
    from edge.mqtt.broker_config import write_broker_config
    from edge.mqtt.local_broker import start_mosquitto
    from edge.mqtt.login import PASSWORD_ENV, resolve_login

    files = write_broker_config(broker_dir, ["feed"], operator="op", viewers=["dash"])
    password = {a: p.read_text().strip() for a, p in files.passwords.items()}
    broker = start_mosquitto(
        extra_config=[f"password_file {files.passwd}", f"acl_file {files.acl}"]
    )
    feed = DashboardFeed(broker.host, broker.port, device_id="feed")
    feed.client.username_pw_set("feed", password["feed"])
    monkeypatch.setenv(PASSWORD_ENV, password["dash"])
    username, secret = resolve_login("dash", None)
    assert (username, secret) == ("dash", password["dash"])
    try:
        feed.connect()
        feed.start()
        with (
            DashboardServer(broker.address, port=0, username=username, password=secret) as srv,
            DashboardServer(broker.address, port=0) as anonymous,
        ):
            viewer_sse = SSEClient(_events_url(srv))
            anon_sse = SSEClient(_events_url(anonymous))
            try:
                assert viewer_sse.wait_for(
                    lambda c: c.of("status") and c.of("meta") and c.of("health") and c.frames(),
                    15,
                )
                assert viewer_sse.of("status")[-1].data == "online"
                assert viewer_sse.of("meta")[-1].data["model"]["id"] == "stand-in-feed"
                assert anon_sse.wait_for(lambda c: len(c.frames()) >= 10, 15)
                assert anon_sse.of("bridge")[-1].data["mqtt_connected"] is True
                # Anonymous: estimates flow, but the ACL withholds status, meta and health.
                assert not anon_sse.of("meta") and not anon_sse.of("health")
                assert not [e for e in anon_sse.of("status") if e.data == "online"]
            finally:
                viewer_sse.close()
                anon_sse.close()
        # A wrong password: the broker refuses the CONNACK, the bridge stays disconnected.
        with (
            caplog.at_level(logging.WARNING, logger="dashboard.mqtt_bridge"),
            DashboardServer(broker.address, port=0, username="dash", password="wrong") as bad,
        ):
            deadline = time.monotonic() + 10
            while "refused the dashboard" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.02)
            assert "refused the dashboard" in caplog.text
            assert bad.bridge.connected is False
    finally:
        feed.stop()
        broker.stop()


def test_login_options_keep_the_password_off_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.cli import build_parser
    from edge.mqtt.login import PASSWORD_ENV, resolve_login

    secret = tmp_path / "dash.password"
    secret.write_text("s3cret\n")
    args = build_parser().parse_args(["--username", "dash", "--password-file", str(secret)])
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    assert resolve_login(args.username, args.password_file) == ("dash", "s3cret")
    assert resolve_login("dash", None) == ("dash", "from-env")
    assert resolve_login(None, None) == (None, None)  # anonymous ignores the variable
    with pytest.raises(ValueError, match="needs --username"):
        resolve_login(None, secret)
    with pytest.raises(ValueError, match="cannot read the password file"):
        resolve_login("dash", tmp_path / "missing")


@pytest.mark.slow
def test_demo_with_a_config_runs_the_users_device_with_home_assistant_discovery(tmp_path) -> None:
    """``python -m dashboard.demo --config FILE``: the real simulator takes the file's
    device id, name and Home Assistant discovery, and publishes to the demo's broker
    (the file names another one); a config that does not load is one line, exit 2."""
    from daemon_helpers import retained

    text = (ROOT / "edge" / "config.example.toml").read_text()
    for old, new in (
        ("home_assistant_discovery = false", "home_assistant_discovery = true"),
        ('id = "belt-01"', 'id = "ha-demo"'),
        ('host = "localhost"', 'host = "192.0.2.1"'),  # TEST-NET: never reached
    ):
        assert old in text, old
        text = text.replace(old, new)
    config = tmp_path / "mine.toml"
    config.write_text(text)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.demo", "--port", "0", "--config", str(config),
         "--seconds", "120"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        line, _ = _read_until(proc, "Live topics:", 60)
        assert "sspinn/ha-demo/#" in line
        host, port = line.split(" on ")[1].split()[0].rsplit(":", 1)
        broker = SimpleNamespace(host=host, port=int(port))
        topic = "homeassistant/sensor/sspinn_ha-demo/knee_angle_r/config"
        deadline = time.monotonic() + 120  # until the simulator has started and connected
        while True:
            try:
                knee = retained(broker, topic, 2)  # what a subscriber finds retained
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
        assert knee["device"]["name"] == "Belt 01"
        assert knee["state_topic"] == "sspinn/ha-demo/estimate"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    config.write_text("[device\n")
    bad = subprocess.run(
        [sys.executable, "-m", "dashboard.demo", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert f"--config: {config}: not valid TOML" in bad.stdout
