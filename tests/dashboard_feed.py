"""A stand-in device for dashboard tests: publishes realistic estimates over MQTT.

It replays the ground truth of the bundled walking recording (one mean gait cycle, right
leg; the left leg is the same half a cycle later) as estimate frames, with the retained
``status``/``meta`` and periodic ``health`` of the MQTT contract. It runs no model, so
the dashboard can be tested on its own; the real pipeline is ``sspinn-edge simulate``.

    python tests/dashboard_feed.py --broker 127.0.0.1:1883 --device-id feed
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import math
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import paho.mqtt.client as mqtt

from edge.mqtt.payloads import (
    EstimateFrame,
    build_health,
    build_meta,
    encode_estimates,
    encode_json,
)
from edge.mqtt.topics import Topics
from edge.recording import bundled_recording_path
from edge.recording.csv_io import read_recording

log = logging.getLogger(__name__)

JOINTS = ("hip_flexion", "knee_angle", "ankle_angle")
SENSORS = ("pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l")
G = 9.81


class GaitCycle:
    """Ground-truth angles (deg), moments (BW·BH) and GRF (BW) of one mean cycle."""

    def __init__(self, name: str = "P01_walking") -> None:
        rec = read_recording(bundled_recording_path(name))
        truth = rec.truth
        self.period_s = float(rec.n_samples / rec.sample_rate_hz)
        self.speed = float(rec.meta.speed_m_s or 1.3)
        height = rec.meta.participant.height_m
        mass = rec.meta.participant.mass_kg
        self.height_m = float(height)
        bwbh = G * mass * height
        self.n = rec.n_samples
        self.series: dict[str, np.ndarray] = {}
        for j in JOINTS:
            self.series[f"angle_{j}"] = np.degrees(truth[f"{j}_r"])
            self.series[f"moment_{j}"] = truth[f"{j}_r_moment"] / bwbh
        self.series["grf_x"] = truth["grf_x_r"]
        self.series["grf_y"] = truth["grf_y_r"]

    def _at(self, key: str, phase: float) -> float:
        x = (phase % 1.0) * self.n
        i = int(x)
        w = x - i
        v = self.series[key]
        return float(v[i % self.n] * (1 - w) + v[(i + 1) % self.n] * w)

    def frame(self, t: float, seq: int) -> EstimateFrame:
        """The estimates at time ``t`` (s) of a steady walk started at t = 0."""
        phase = t / self.period_s
        angles = {"pelvis_tilt": -4.0 + 1.5 * math.sin(4 * math.pi * phase)}
        moments: dict[str, float] = {}
        grf: dict[str, float] = {}
        for side, shift in (("r", 0.0), ("l", 0.5)):
            for j in JOINTS:
                angles[f"{j}_{side}"] = self._at(f"angle_{j}", phase + shift)
                moments[f"{j}_{side}"] = self._at(f"moment_{j}", phase + shift)
            grf[f"grf_x_{side}"] = self._at("grf_x", phase + shift)
            grf[f"grf_y_{side}"] = self._at("grf_y", phase + shift)
        speed = self.speed + 0.03 * math.sin(2 * math.pi * phase)
        quality = {"sensors_ok": 7, "missing": [], "stale": False}
        return EstimateFrame(t, seq, angles, moments, grf, speed, quality)


class DashboardFeed:
    """Publish a stand-in device's topics on a broker, in real time, from a thread.

    Args:
        host, port: the broker.
        device_id: topic level of the device.
        sample_rate_hz: the device's sample clock (``t`` step between samples).
        publish_rate_hz: frames per second published; batch_size: frames per message.
        health_period_s: seconds between ``health`` messages.
        model_id, model_version: shown by the dashboard (from ``meta``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        device_id: str = "feed",
        sample_rate_hz: float = 100.0,
        publish_rate_hz: float = 20.0,
        batch_size: int = 2,
        health_period_s: float = 2.0,
        model_id: str = "stand-in-feed",
        model_version: str = "0.0.1",
    ) -> None:
        self.host, self.port = host, port
        self.topics = Topics(device_id)
        self.sample_rate_hz = sample_rate_hz
        self.publish_rate_hz = publish_rate_hz
        self.batch_size = batch_size
        self.health_period_s = health_period_s
        self.cycle = GaitCycle()
        self.meta = build_meta(
            device_id=device_id,
            sample_rate_hz=sample_rate_hz,
            publish_rate_hz=publish_rate_hz,
            batch_size=batch_size,
            sensors=SENSORS,
            joints=["pelvis_tilt", *(f"{j}_{s}" for s in "rl" for j in JOINTS)],
            moments=[f"{j}_{s}" for s in "rl" for j in JOINTS],
            grf=["grf_x_r", "grf_y_r", "grf_x_l", "grf_y_l"],
            model_id=model_id,
            model_version=model_version,
            extra={
                "participant": {"height_m": self.cycle.height_m},
                "health_interval_s": health_period_s,
            },
        )
        self.frames_published = 0
        self.messages_published = 0
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pause_until = 0.0
        self._silent_until = 0.0
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"feed-{device_id}-{time.time_ns()}"
        )
        self.client.will_set(self.topics.status, "offline", qos=1, retain=True)

    def connect(self) -> DashboardFeed:
        """Connect and publish the retained ``status`` (online) and ``meta``."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self.client.publish(self.topics.status, "online", qos=1, retain=True).wait_for_publish(5)
        self.client.publish(
            self.topics.meta, encode_json(self.meta), qos=1, retain=True
        ).wait_for_publish(5)
        return self

    def publish_health(self, t: float) -> None:
        health = build_health(
            t=t,
            wall_time=time.time(),
            loop_rate_hz=self.sample_rate_hz * (1 + 0.001 * math.sin(t)),
            overruns=0,
            latency_ms_p50=0.42,
            latency_ms_p99=1.37,
            sensors_ok=7,
            sensors_total=7,
            cpu_temp_c=48.5,
            disk_free_mb=12000.0,
            queue_depth=0,
        )
        self.client.publish(self.topics.health, encode_json(health), qos=0)

    def publish_frames(self, n: int, *, t0: float | None = None, dt: float | None = None) -> None:
        """Publish ``n`` frames at once (batches of ``batch_size``), sample step ``dt``."""
        dt = dt if dt is not None else 1.0 / self.publish_rate_hz
        t = t0 if t0 is not None else self._seq / self.sample_rate_hz
        batch: list[EstimateFrame] = []
        for _ in range(n):
            batch.append(self.cycle.frame(t, self._seq))
            self._seq += max(1, round(dt * self.sample_rate_hz))
            t += dt
            if len(batch) == self.batch_size:
                self._send(batch)
                batch = []
        if batch:
            self._send(batch)

    def _send(self, batch: list[EstimateFrame]) -> None:
        self.client.publish(self.topics.estimate, encode_estimates(batch), qos=0)
        self.frames_published += len(batch)
        self.messages_published += 1

    def publish_raw(self, kind: str, payload: bytes | str) -> None:
        """Publish anything on a device topic (for bad-input tests)."""
        self.client.publish(f"{self.topics.base}/{kind}", payload, qos=1).wait_for_publish(5)

    def pause(self, seconds: float) -> None:
        """A stall: publish no estimates for ``seconds`` while the sample clock runs on
        (the frames after it carry later ``t``; the ones in between are missing)."""
        self._pause_until = time.monotonic() + seconds

    def freeze(self, seconds: float) -> None:
        """A hung device: neither estimates nor health for ``seconds``, the connection
        kept (so no last will), the sample clock running on."""
        self._silent_until = self._pause_until = time.monotonic() + seconds

    def _run(self) -> None:
        period = self.batch_size / self.publish_rate_hz
        start = time.monotonic()
        next_health = start
        k = 0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_health:
                if now >= self._silent_until:
                    self.publish_health(now - start)
                next_health += self.health_period_s
            if now >= self._pause_until:
                self.publish_frames(self.batch_size, t0=k * period)
            k += 1
            self._stop.wait(max(0.0, start + k * period - time.monotonic()))

    def start(self) -> DashboardFeed:
        """Connect and publish in real time from a thread until :meth:`stop`."""
        if not self.client.is_connected():
            self.connect()
        self._thread = threading.Thread(target=self._run, name="dashboard-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop publishing, set ``status`` offline (retained) and disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.client.is_connected():
            self.client.publish(self.topics.status, "offline", qos=1, retain=True).wait_for_publish(
                5
            )
            self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> DashboardFeed:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@dataclass
class SSEEvent:
    """One Server-Sent Event as received: name, parsed JSON data, arrival time."""

    name: str
    data: Any
    at: float


class SSEClient:
    """Read a ``text/event-stream`` in a thread and keep every event (for tests)."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
        self.conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
        self._sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        self.events: list[SSEEvent] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.status == 200:
            self._thread.start()

    def _read(self) -> None:
        name, data = "message", []
        try:
            for raw in self.response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:
                    if data:
                        event = SSEEvent(name, json.loads("\n".join(data)), time.monotonic())
                        with self._lock:
                            self.events.append(event)
                    name, data = "message", []
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            return

    def of(self, name: str) -> list[SSEEvent]:
        with self._lock:
            return [e for e in self.events if e.name == name]

    def wait_for(self, predicate: Any, timeout_s: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` is true."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return bool(predicate(self))

    def frames(self) -> list[dict[str, Any]]:
        return [f for e in self.of("estimate") for f in e.data["frames"]]

    def close(self) -> None:
        """Drop the connection at once (as a closed browser tab does)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.response.close()
        self.conn.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """Run the stand-in until Ctrl-C/SIGTERM or ``--seconds``.

    ``python tests/dashboard_feed.py simulate --recording CSV --broker H:P --device-id ID
    --duration S`` takes the simulator's arguments too, so the demo's orchestration can be
    tested without a model (the recording only names the stand-in's model id).
    """
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description="stand-in device for dashboard tests")
    p.add_argument("--broker", default="127.0.0.1:1883", help="HOST:PORT")
    p.add_argument("--device-id", default="feed")
    p.add_argument("--seconds", "--duration", type=float, default=0, help="0: until stopped")
    p.add_argument("--recording", default=None, help="(simulate compatibility)")
    p.add_argument("--bundle", default=None, help="(simulate compatibility, ignored)")
    if argv[:1] == ["simulate"]:
        argv = argv[1:]
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    host, _, port = args.broker.rpartition(":")
    model = f"stand-in:{Path(args.recording).stem}" if args.recording else "stand-in-feed"
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    feed = DashboardFeed(host, int(port), device_id=args.device_id, model_id=model).start()
    try:
        stop.wait(args.seconds if args.seconds > 0 else None)
    finally:
        feed.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
