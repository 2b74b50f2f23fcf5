"""The dashboard's time-series rules (dashboard/static/series.js) run in node: lines break
at gaps instead of bridging them, the frame period follows the device's published rate,
and the time axis is labelled in seconds. The real-browser check is in
tests/test_dashboard_browser.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SERIES = Path(__file__).resolve().parents[1] / "dashboard" / "static" / "series.js"


def _node(expr: str) -> object:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed (the browser test covers the page)")
    script = f"const S = require({json.dumps(str(SERIES))});\nconsole.log(JSON.stringify({expr}));"
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


#: 20 frames/s with frames 10..29 missing (a 1 s stall) and frame 35's value missing.
FRAMES = (
    "[...Array(60).keys()].filter(i => i < 10 || i >= 30)"
    ".map(i => ({t: 100 + i * 0.05, v: i === 35 ? null : Math.sin(i)}))"
)


def test_lines_break_across_a_stall_and_a_missing_value():
    runs = _node(
        f"(() => {{ const f = {FRAMES}; const lim = S.gapLimit(f, 20);"
        " return S.runs(f, 0, f.length - 1, x => x.v, lim).map(r => [f[r[0]].t, f[r[1]].t]); })()"
    )
    flat = [t for run in runs for t in run]
    assert flat == pytest.approx([100.0, 100.45, 101.5, 101.7, 101.8, 102.95])


def test_gap_limit_is_three_frame_periods():
    assert _node("S.gapLimit([], 20)") == pytest.approx(0.15)
    # without meta: the median step of the frames, a stall does not stretch it
    assert _node(f"S.gapLimit({FRAMES}, null)") == pytest.approx(0.15)
    assert _node(f"S.gaps({FRAMES}, 0, 39, 0.15)")[0] == pytest.approx([100.45, 101.5])
    assert len(_node(f"S.gaps({FRAMES}, 0, 39, 0.15)")) == 1


def test_time_axis_in_seconds():
    ticks = _node("S.timeTicks(97.3, 102.3, 400, 44)")
    assert [t["label"] for t in ticks] == ["98 s", "99 s", "100 s", "101 s", "102 s"]
    sparse = _node("S.timeTicks(97.3, 102.3, 120, 44)")  # narrow: every 2 s
    assert [t["t"] for t in sparse] == [98, 100, 102]
