"""The live dashboard in a real browser: headless Chromium (Debian's) driven by selenium.

1. broker + bridge + the stand-in feed: the page goes live, the header shows the device
   online with its model, the stick figure and every plot change between two screenshots
   ~1 s apart, both legs are drawn, and the console has no errors;
1b. the same page in headless Firefox over WebDriver BiDi, when Firefox is installed
   (optional: there is no Debian geckodriver; ``make test`` installs only Chromium);
2. the real ``make demo`` path (``python -m dashboard.demo`` with the shipped bundle and
   ``sspinn-edge simulate``): the same checks, the time to the first live frame, then a
   clean stop on SIGINT.

1c. a stall (a second of missing frames): the lines break across it, the time axis is
   labelled in seconds, the header shows the effective publish rate;
1d. offline: after a clean stop (retained ``offline``) and while a device hangs (no
   estimates, no health, no last will yet) a banner says since when, the plots stop at
   the last frame received and stay as they are, nothing is drawn after it;

Screenshots go to pytest's tmp dir; ``SSPINN_UPDATE_SCREENSHOT=1`` (what
``scripts/dashboard_screenshots.sh`` sets) also writes them, palette-compressed, to
``docs/img/dashboard.png`` (the demo's one wins when both run), the stall's to
``docs/img/dashboard-gap.png`` and the hung device's to ``docs/img/dashboard-offline.png``.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_feed import DashboardFeed

from dashboard import DashboardServer
from edge.mqtt.local_broker import LocalBroker

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "img" / "dashboard.png"
GAP_SCREENSHOT = ROOT / "docs" / "img" / "dashboard-gap.png"
OFFLINE_SCREENSHOT = ROOT / "docs" / "img" / "dashboard-offline.png"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,860",
    "--force-device-scale-factor=1",
)
PLOTS = (
    "hip",
    "knee",
    "ankle",
    "hip_moment",
    "knee_moment",
    "ankle_moment",
    "pelvis",
    "grf",
    "speed",
)
RIGHT_RGB, LEFT_RGB = (0xFF, 0x6B, 0x4A), (0x3F, 0xA7, 0xFF)


def _which(*names: str, extra: tuple[str, ...] = ()) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in extra if os.access(p, os.X_OK)), None)


def _chromium() -> tuple[str, str]:
    """(browser, chromedriver) paths, or skip with the reason."""
    browser = _which(
        "chromium",
        "chromium-browser",
        "google-chrome",
        extra=("/usr/bin/chromium", "/usr/lib/chromium/chromium"),
    )
    driver = _which(
        "chromedriver", extra=("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
    )
    if browser is None or driver is None:
        pytest.skip(
            "Chromium and chromedriver are not installed: `make test` installs them "
            "(scripts/ensure_chromium.sh, Debian's chromium + chromium-driver)"
        )
    return browser, driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, chromedriver = _chromium()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="sspinn-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# ---- page checks --------------------------------------------------------------------------
def _js(driver: Any, expr: str) -> Any:
    return driver.execute_script(f"return {expr};")


def _text(driver: Any, element_id: str) -> str:
    return _js(driver, f"document.getElementById({element_id!r}).textContent").strip()


def _wait(predicate: Any, timeout_s: float, what: str) -> float:
    """Poll until ``predicate()``; the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if predicate():
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _frames_received(driver: Any) -> int:
    return int(_js(driver, "window.sspinnDashboard ? window.sspinnDashboard.framesReceived : 0"))


def _pixels(png: bytes) -> Any:
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _changed(a: Any, b: Any) -> float:
    """Fraction of pixels that differ (any channel by more than 8)."""
    import numpy as np

    assert a.shape == b.shape
    return float(np.mean(np.abs(a - b).max(axis=2) > 8))


def _colour_pixels(img: Any, rgb: tuple[int, int, int]) -> int:
    import numpy as np

    return int(np.sum(np.abs(img - np.array(rgb)).max(axis=2) < 40))


def _canvases(driver: Any) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    out = {"figure": _pixels(driver.find_element(By.ID, "figure").screenshot_as_png)}
    for name in PLOTS:
        out[name] = _pixels(driver.find_element(By.ID, f"plot-{name}").screenshot_as_png)
    return out


def update_doc_screenshot(shot: Path, doc: Path) -> None:
    """With ``SSPINN_UPDATE_SCREENSHOT=1``: ``shot`` to ``doc`` as a 128-colour PNG (the
    dark page loses nothing visible; the file stays well under 200 kB)."""
    if os.environ.get("SSPINN_UPDATE_SCREENSHOT") != "1":
        return
    from PIL import Image

    doc.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(shot) as img:
        img.convert("RGB").quantize(colors=128).save(doc, optimize=True)


def check_live_page(driver: Any, model_expected: str | None, shot: Path) -> dict[str, float]:
    """Every check on a live page; the measured change fractions."""
    _wait(lambda: _text(driver, "status") == "online", 30, "status online")
    _wait(lambda: _frames_received(driver) >= 30, 30, "30 live frames")
    _wait(lambda: _text(driver, "loop") != "–", 15, "a health message")

    model = _text(driver, "model")
    assert model not in ("", "–")
    if model_expected is not None:
        assert model_expected in model
    assert "online" in _js(driver, "document.getElementById('status').className")
    assert "Hz" in _text(driver, "rate")
    assert "Hz" in _text(driver, "loop")
    assert "ms" in _text(driver, "latency")
    assert _text(driver, "sensors").startswith("7")
    assert _text(driver, "age") in ("live",) or _text(driver, "age").endswith("s ago")

    first = _canvases(driver)
    n_first = _frames_received(driver)
    time.sleep(1.0)
    second = _canvases(driver)
    assert _frames_received(driver) > n_first, "no new frames within 1 s"
    changes = {name: _changed(first[name], second[name]) for name in first}
    assert changes["figure"] > 0.002, f"the stick figure did not move: {changes}"
    still = [name for name in PLOTS if changes[name] < 0.002]
    assert not still, f"plots that did not change: {still} ({changes})"
    fig = second["figure"]
    assert _colour_pixels(fig, RIGHT_RGB) > 100, "no right leg drawn"
    assert _colour_pixels(fig, LEFT_RGB) > 100, "no left leg drawn"
    # the right knee and left GRF lines are drawn in the plots
    assert _colour_pixels(second["knee"], RIGHT_RGB) > 50
    assert _colour_pixels(second["grf"], LEFT_RGB) > 50

    severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, severe

    shot.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(shot))
    update_doc_screenshot(shot, SCREENSHOT)
    return changes


def check_offline_page(driver: Any, reason: str) -> tuple[str, str]:
    """The page of a device that went offline: a banner says so and since when, the
    plots end at the last frame received, the window reaches past it (marked offline,
    nothing drawn there) and stays as it is; the banner and status pill texts."""
    _wait(lambda: _js(driver, "window.sspinnDashboard.offline !== null"), 30, "offline shown")
    assert _js(driver, "window.sspinnDashboard.offline.reason") == reason
    assert "hidden" not in _js(driver, "document.getElementById('offline').className")
    banner, pill = _text(driver, "offline"), _text(driver, "status")
    latest = _js(driver, "window.sspinnDashboard.latestT")
    window = _js(driver, "window.sspinnDashboard.plotWindow")
    assert window[1] > latest + 1.0, (window, latest)  # the offline stretch is shown
    drawn = json.loads(_js(driver, "JSON.stringify(window.sspinnDashboard.drawn)"))
    for plot in PLOTS:
        assert drawn[plot], f"{plot}: the last data received are not shown"
        assert max(run[1] for run in drawn[plot]) <= latest, (plot, drawn[plot], latest)
    first = _canvases(driver)
    time.sleep(1.0)
    second = _canvases(driver)
    assert _js(driver, "window.sspinnDashboard.offline !== null"), "offline for too short"
    assert _js(driver, "window.sspinnDashboard.latestT") == latest
    for plot in PLOTS:
        assert _changed(first[plot], second[plot]) < 0.002, f"{plot} moved while offline"
    assert _colour_pixels(second["knee"], RIGHT_RGB) > 50  # the last data, still drawn
    return banner, pill


# ---- 1: the dashboard on its own, fed by the stand-in -----------------------------------------
def test_dashboard_live_in_chromium(browser: Any, mosquitto: LocalBroker, tmp_path: Path) -> None:
    feed = DashboardFeed(mosquitto.host, mosquitto.port, device_id="feed").start()
    try:
        with DashboardServer(mosquitto.address, port=0, default_device="feed") as server:
            browser.get(server.url)
            changes = check_live_page(browser, "stand-in-feed", tmp_path / "dashboard.png")
            print(f"screenshot {tmp_path / 'dashboard.png'}; changed fractions {changes}")

            feed.stop()  # the device goes offline: the header follows the retained status
            _wait(lambda: _text(browser, "status") == "offline", 10, "status offline")
            banner, pill = check_offline_page(browser, "status")
            assert pill == "offline"
            assert banner.startswith("Device offline since "), banner
            assert "The plots show the last data received" in banner, banner
            _wait(lambda: _text(browser, "age").endswith("s ago"), 10, "a stale age")
    finally:
        feed.stop()


def test_a_stall_is_drawn_as_a_gap(browser: Any, mosquitto: LocalBroker, tmp_path: Path) -> None:
    feed = DashboardFeed(mosquitto.host, mosquitto.port, device_id="stall").start()
    try:
        with DashboardServer(mosquitto.address, port=0, default_device="stall") as server:
            browser.get(server.url)
            _wait(lambda: _frames_received(browser) >= 30, 30, "30 live frames")
            assert _text(browser, "rate") == "100 Hz → 20/s"  # meta's effective rate
            feed.pause(1.2)
            time.sleep(1.2 + 1.5)  # the stall, then 1.5 s of frames again

            drawn = json.loads(_js(browser, "JSON.stringify(window.sspinnDashboard.drawn)"))
            for plot in PLOTS:
                runs = drawn[plot]
                assert len(runs) >= 2, f"{plot}: one line across the stall: {runs}"
                breaks = [b[0] - a[1] for a, b in itertools.pairwise(runs)]
                assert max(breaks) > 1.0, f"{plot}: no break as long as the stall: {runs}"
            ticks = _js(browser, "window.sspinnDashboard.timeTicks")
            assert len(ticks) >= 3 and all(t.endswith(" s") for t in ticks), ticks

            shot = tmp_path / "dashboard-gap.png"
            browser.save_screenshot(str(shot))
            update_doc_screenshot(shot, GAP_SCREENSHOT)
            severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
            assert not severe, severe
    finally:
        feed.stop()


def test_a_hung_device_is_shown_offline_until_it_is_back(
    browser: Any, mosquitto: LocalBroker, tmp_path: Path
) -> None:
    """A device that hangs keeps its connection (no last will for 1.5 keepalives) but
    sends nothing: after 3 health periods (1 s here) the page says it is not responding
    and since when, and shows the last data received; when data come back, the banner
    goes and the lines go on after a gap."""
    feed = DashboardFeed(
        mosquitto.host, mosquitto.port, device_id="hung", health_period_s=1.0
    ).start()
    try:
        with DashboardServer(mosquitto.address, port=0, default_device="hung") as server:
            browser.get(server.url)
            _wait(lambda: _frames_received(browser) >= 40, 30, "40 live frames")
            assert _js(browser, "window.sspinnDashboard.offline") is None
            feed.freeze(40.0)  # long enough for the checks on a busy machine
            banner, pill = check_offline_page(browser, "silent")
            shot = tmp_path / "dashboard-offline.png"
            browser.save_screenshot(str(shot))
            assert _js(browser, "window.sspinnDashboard.offline !== null"), "back too early"
            update_doc_screenshot(shot, OFFLINE_SCREENSHOT)
            assert banner.startswith("Device not responding since "), banner
            assert "no estimates and no health" in banner, banner
            assert pill == "not responding"

            _wait(lambda: _js(browser, "window.sspinnDashboard.offline === null"), 90, "back")
            assert "hidden" in _js(browser, "document.getElementById('offline').className")
            assert _text(browser, "status") == "online"
            n = _frames_received(browser)
            _wait(lambda: _frames_received(browser) >= n + 20, 15, "frames after the stall")
            severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
            assert not severe, severe
    finally:
        feed.stop()


def test_page_without_device_picks_the_online_one(
    browser: Any, mosquitto: LocalBroker, tmp_path: Path
) -> None:
    with (
        DashboardFeed(mosquitto.host, mosquitto.port, device_id="belt-07"),
        DashboardServer(mosquitto.address, port=0) as server,
    ):
        browser.get(f"http://127.0.0.1:{server.port}/")
        _wait(lambda: _text(browser, "device").startswith("belt-07"), 15, "the device picked")
        _wait(lambda: _frames_received(browser) >= 5, 15, "live frames")


# ---- 1b: the same page in Firefox (when installed), over WebDriver BiDi ----------------------
class FirefoxBiDi:
    """Headless Firefox driven over WebDriver BiDi (no geckodriver needed): a few commands."""

    def __init__(self, firefox: str, profile: Path) -> None:
        import websocket  # websocket-client, a selenium dependency

        from edge.mqtt.local_broker import free_port

        (profile / "user.js").write_text(
            'user_pref("browser.shell.checkDefaultBrowser", false);\n'
            'user_pref("app.update.enabled", false);\n'
            'user_pref("network.captive-portal-service.enabled", false);\n'
        )
        port = free_port()
        args = ["--headless", f"--remote-debugging-port={port}", "--profile", str(profile)]
        self.proc = subprocess.Popen(
            [firefox, *args, "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.errors: list[str] = []
        self._id = 0
        deadline = time.monotonic() + 60
        while True:
            try:  # Firefox refuses WebSocket handshakes that carry an Origin header
                self.ws = websocket.create_connection(
                    f"ws://127.0.0.1:{port}/session", timeout=30, suppress_origin=True
                )
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise
                time.sleep(0.3)
        self.call("session.new", {"capabilities": {}})
        self.call("session.subscribe", {"events": ["log.entryAdded"]})
        self.context = self.call("browsingContext.getTree", {})["contexts"][0]["context"]
        self.call(
            "browsingContext.setViewport",
            {"context": self.context, "viewport": {"width": 1400, "height": 860}},
        )

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("type") == "event":
                entry = msg.get("params", {})
                if entry.get("level") == "error":
                    self.errors.append(str(entry.get("text")))
            elif msg.get("id") == self._id:
                if msg.get("type") == "error":
                    raise RuntimeError(f"{method}: {msg}")
                return msg["result"]

    def get(self, url: str) -> None:
        self.call(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def js(self, expression: str) -> Any:
        result = self.call(
            "script.evaluate",
            {"expression": expression, "target": {"context": self.context}, "awaitPromise": False},
        )
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        import base64

        data = self.call("browsingContext.captureScreenshot", {"context": self.context})["data"]
        return base64.b64decode(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("session.end", {})
        with contextlib.suppress(Exception):
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_dashboard_live_in_firefox(mosquitto: LocalBroker, tmp_path: Path) -> None:
    firefox = _which("firefox-esr", "firefox")
    if firefox is None:
        pytest.skip("Firefox is not installed (optional: sudo apt-get install firefox-esr)")
    pytest.importorskip("websocket", reason="websocket-client is not installed")
    profile = tmp_path / "firefox-profile"
    profile.mkdir()
    ff = FirefoxBiDi(firefox, profile)
    feed = DashboardFeed(mosquitto.host, mosquitto.port, device_id="feed").start()
    try:
        with DashboardServer(mosquitto.address, port=0, default_device="feed") as server:
            ff.get(server.url)
            status = "document.getElementById('status').textContent"
            _wait(lambda: ff.js(status) == "online", 30, "status online")
            _wait(lambda: ff.js("window.sspinnDashboard.framesReceived") >= 30, 30, "frames")
            assert "stand-in-feed" in ff.js("document.getElementById('model').textContent")
            rects = ff.js(
                "JSON.stringify(Array.from(document.querySelectorAll('canvas')).map(c => {"
                "const r = c.getBoundingClientRect(); return [c.id, r.x, r.y, r.width, r.height];"
                "}))"
            )
            boxes = {i: (int(x), int(y), int(w), int(h)) for i, x, y, w, h in json.loads(rects)}
            first = _pixels(ff.screenshot())
            time.sleep(1.0)
            shot = ff.screenshot()
            second = _pixels(shot)
            (tmp_path / "firefox.png").write_bytes(shot)

            def crop(img: Any, name: str) -> Any:
                x, y, w, h = boxes[name]
                return img[y : y + h, x : x + w]

            changes = {n: _changed(crop(first, n), crop(second, n)) for n in boxes}
            assert changes["figure"] > 0.002, changes
            assert all(v > 0.002 for v in changes.values()), changes
            assert _colour_pixels(crop(second, "figure"), RIGHT_RGB) > 100
            assert _colour_pixels(crop(second, "figure"), LEFT_RGB) > 100
            assert not ff.errors, ff.errors
    finally:
        feed.stop()
        ff.close()


# ---- 2: the real demo: python -m dashboard.demo (what `make demo` runs) ------------------------
def _simulate_available() -> bool:
    from dashboard.demo import simulate_available

    return simulate_available()


def test_make_demo_path_in_chromium(browser: Any, tmp_path: Path) -> None:
    if not _simulate_available():
        pytest.skip("`sspinn-edge simulate` is not available yet: the demo has nothing to run")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.demo", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DEMO_SECONDS": "240", "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        url = broker_pid = None
        while url is None and time.monotonic() - t0 < 60:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("MQTT broker:"):
                broker_pid = int(line.split("pid ")[1].split(")")[0])
            if line.startswith("Dashboard:"):
                url = line.split()[1]
        assert url is not None and broker_pid is not None, lines
        url_s = time.monotonic() - t0
        browser.get(url)

        def first_frame() -> bool:
            if proc.poll() is not None:
                out = proc.stdout.read()  # type: ignore[union-attr]
                raise AssertionError("the demo stopped early:\n" + "\n".join(lines) + out)
            return _frames_received(browser) >= 1

        _wait(first_frame, 60, "the first live frame")
        first_frame_s = time.monotonic() - t0
        changes = check_live_page(browser, None, tmp_path / "demo.png")
        print(
            f"demo: URL after {url_s:.1f} s, first live frame on the page after "
            f"{first_frame_s:.1f} s; model {_text(browser, 'model')!r}; "
            f"screenshot {tmp_path / 'demo.png'}; changes {changes}"
        )
        assert first_frame_s < 60

        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, "\n".join(lines) + out
        assert "Demo stopped" in out
        with pytest.raises(ProcessLookupError):
            os.kill(broker_pid, 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
