"""The raw recorder: closed segments, kill -9 recovery, disk-full and write errors."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edge.recorder import Recorder, RecorderError, recover_part
from edge.recording import SENSOR_NAMES, Sidecar, read_recording, read_sidecar

REPO = Path(__file__).resolve().parents[1]
RATE = 100.0


def _sidecar() -> Sidecar:
    return Sidecar(
        participant={"id": "P01", "height_m": 1.73, "mass_kg": 73.0},
        sample_period_s=1 / RATE,
        sensors={s: {"segment": s, "position_m": [0.01, -0.1, 0.02]} for s in SENSOR_NAMES},
        device={"firmware": "test-1"},
        calibration={"gyro_bias": "none"},
    )


def _imu(i: int) -> np.ndarray:
    """A deterministic sample: every channel differs, and changes with i."""
    return np.arange(42.0).reshape(7, 6) * 0.25 - 3.0 + i * 0.001


def _recorder(tmp_path: Path, **kw) -> Recorder:
    args = {
        "device_id": "belt-01",
        "sidecar": _sidecar(),
        "sample_rate_hz": RATE,
        "segment_s": 1.0,
        "flush_interval_s": 0.1,
        "fsync_interval_s": 0.5,
    }
    args.update(kw)
    return Recorder(tmp_path / "rec", **args)


def _read_all(paths: list[Path]):
    recs = [read_recording(p) for p in sorted(paths)]
    t = np.concatenate([r.time_s for r in recs])
    imu = np.concatenate([r.imu for r in recs])
    return recs, t, imu


def test_segments_close_and_read_back(tmp_path):
    rec = _recorder(tmp_path)
    ok_missing = np.ones(7, bool)
    ok_missing[SENSOR_NAMES.index("foot_l")] = False
    with rec:
        session = rec.start(note="treadmill 1.2 m/s")
        t0 = time.perf_counter()
        for i in range(350):
            assert rec.append(100.0 + i / RATE, _imu(i), ok_missing if i % 7 == 0 else None)
        append_us = (time.perf_counter() - t0) / 350 * 1e6
        closed = rec.stop()
    assert [p.name for p in closed] == sorted(p.name for p in closed)
    assert len(closed) == 4 and all(p.parent == session for p in closed)
    assert not list(session.glob("*.part")) and len(list(session.glob("*.json"))) == 4
    recs, t, imu = _read_all(closed)
    assert [r.n_samples for r in recs] == [100, 100, 100, 50]
    np.testing.assert_allclose(t, 100.0 + np.arange(350) / RATE, rtol=0, atol=1e-9)
    expected = np.stack([_imu(i) for i in range(350)])
    foot_l = SENSOR_NAMES.index("foot_l")
    missing_rows = np.arange(350) % 7 == 0
    expected[missing_rows, foot_l, :] = np.nan
    np.testing.assert_allclose(imu, expected, rtol=1e-9, atol=1e-12)  # NaN where missing
    assert np.isnan(imu[missing_rows, foot_l]).all() and not np.isnan(imu[~missing_rows]).any()
    meta = recs[1].meta
    assert meta.participant.height_m == 1.73 and meta.sample_period_s == 0.01
    assert meta.calibration == {"gyro_bias": "none"} and meta.note == "treadmill 1.2 m/s"
    assert meta.device["firmware"] == "test-1" and meta.device["segment"] == 1
    assert meta.device["session"] == session.name and meta.device["n_samples"] == 100
    assert meta.device["t0_s"] == pytest.approx(101.0)
    assert closed[0].name.startswith("belt-01_") and closed[0].stem.endswith("_00000")
    s = rec.stats()
    assert (s.samples_appended, s.samples_written, s.segments_closed) == (350, 350, 4)
    assert (s.samples_dropped, s.samples_rejected, s.alarm, s.recording) == (0, 0, None, False)
    print(f"append {append_us:.2f} us/sample")


def test_bad_times_are_rejected_and_inf_becomes_nan(tmp_path):
    with _recorder(tmp_path) as rec:
        assert not rec.append(0.0, _imu(0))  # not started
        rec.start()
        assert rec.append(0.0, _imu(0))
        assert not rec.append(0.0, _imu(1))  # not increasing
        assert not rec.append(math.nan, _imu(1))
        bad = _imu(1)
        bad[2, 3] = np.inf
        assert rec.append(0.01, bad)
        with pytest.raises(ValueError):
            rec.append(0.02, np.zeros((6, 6)))  # wrong sensor count: a caller bug, loudly
        closed = rec.stop()
        assert rec.stats().samples_rejected == 2
    r = read_recording(closed[0])
    assert r.n_samples == 2 and np.isnan(r.imu[1, 2, 3]) and np.isfinite(r.imu[0]).all()


def test_restart_sessions_and_stop_is_idempotent(tmp_path):
    with _recorder(tmp_path) as rec:
        a = rec.start()
        assert rec.start() == a  # already recording
        for i in range(30):
            rec.append(i / RATE, _imu(i))
        first = rec.stop()
        assert rec.stop() == first
        b = rec.start()
        assert b != a
        rec.append(5.0, _imu(0))  # a new session accepts any start time
        second = rec.stop()
    assert len(first) == 1 and len(second) == 1 and second[0].parent == b
    assert read_recording(second[0]).n_samples == 1


_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_edge_recorder import _imu, _recorder
rec = _recorder(Path(sys.argv[1]), segment_s=0.5, flush_interval_s=0.05, fsync_interval_s=0.2)
rec.start()
i = 0
while True:
    rec.append(i / 100.0, _imu(i))
    i += 1
    if i % 10 == 0:
        time.sleep(0.004)  # about 20x real time
        print(rec.stats().samples_written, i, flush=True)
"""


def test_kill9_then_recovery_loses_only_the_unflushed_tail(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path), str(REPO / "tests")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    written = appended = 0
    try:
        for line in child.stdout:
            written, appended = map(int, line.split())
            if written >= 1230:  # 24+ closed segments, one open
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert written >= 1230
    session = next((tmp_path / "rec").iterdir())
    closed_before = sorted(session.glob("*.csv"))
    for p in closed_before:  # closed segments are complete, readable files
        assert read_recording(p).n_samples == 50
    parts = list(session.glob("*.csv.part"))
    assert len(parts) <= 1

    rec = _recorder(tmp_path)
    recovered = rec.recover()
    assert len(recovered) == len(parts)
    assert not list(session.glob("*.part")) and not list(session.glob("*.unrecoverable"))
    _, t, imu = _read_all(list(session.glob("*.csv")))
    n = t.shape[0]
    # Everything handed to the OS before the kill survived; nothing was invented.
    assert written <= n <= appended + 10
    np.testing.assert_allclose(t, np.arange(n) / 100.0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(imu, np.stack([_imu(i) for i in range(n)]), rtol=1e-9)
    print(f"kill -9: {written} samples reported written, {n} recovered, {appended} appended")

    # The daemon comes back and records a new session next to the old one.
    with rec:
        new = rec.start()
        for i in range(120):
            rec.append(i / RATE, _imu(i))
        closed = rec.stop()
    assert new != session and [read_recording(p).n_samples for p in closed] == [100, 20]


def test_disk_nearly_full_stops_recording_with_an_alarm(tmp_path):
    free = {"bytes": 10**12}
    alarms: list[str] = []
    rec = _recorder(
        tmp_path,
        min_free_mb=100,
        disk_check_interval_s=0.0,
        free_bytes=lambda p: free["bytes"],
        on_alarm=alarms.append,
    )
    with rec:
        session = rec.start()
        accepted = 0
        for i in range(250):
            accepted += rec.append(i / RATE, _imu(i))
        free["bytes"] = 40 * 10**6  # the card fills up
        costs = []
        for i in range(250, 2250):
            a = time.perf_counter()
            accepted += rec.append(i / RATE, _imu(i))
            costs.append(time.perf_counter() - a)
            if i % 10 == 0:
                time.sleep(0.001)  # give the writer a moment, as a 100 Hz loop would
        assert not rec.recording
        assert len(alarms) == 1 and alarms[0].startswith("disk nearly full: 40 MB free")
        assert rec.alarm == alarms[0]
        assert accepted < 2250  # it stopped ...
        assert np.percentile(costs, 99) < 1e-3  # ... and append kept returning at once
        with pytest.raises(RecorderError, match="disk nearly full"):
            rec.start()  # refused while the disk is full
        s = rec.stats()
    # every accepted sample is in a closed, readable segment
    _, t, _ = _read_all(list(session.glob("*.csv")))
    assert t.shape[0] == accepted == s.samples_written and s.samples_dropped == 0
    assert not list(session.glob("*.part"))


def test_write_error_raises_the_alarm_and_the_part_is_recovered_later(tmp_path):
    alarms: list[str] = []
    rec = _recorder(tmp_path, on_alarm=alarms.append)
    session = rec.start()
    for i in range(150):
        rec.append(i / RATE, _imu(i))
    time.sleep(0.2)
    # The card's folder vanishes (pulled card, fs remounted read-only ...).
    moved = tmp_path / "moved"
    shutil.move(session, moved)
    for i in range(150, 300):
        rec.append(i / RATE, _imu(i))
    deadline = time.monotonic() + 5
    while rec.recording and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not rec.recording and alarms and alarms[0].startswith("write error")
    assert not rec.append(10.0, _imu(0))
    rec.close()
    # Whatever part was left is recovered into a closed segment later.
    for part in moved.glob("*.csv.part"):
        assert recover_part(part) is not None
    _, t, _ = _read_all(list(moved.glob("*.csv")))
    assert t.shape[0] >= 100 and np.all(np.diff(t) > 0)


# ---------------------------------------------------------------------- recovery cases
def _make_part(tmp_path: Path, n: int) -> Path:
    """A closed-looking open segment of n samples, as the recorder leaves it."""
    with _recorder(tmp_path, segment_s=100.0) as rec:
        rec.start()
        for i in range(n):
            rec.append(i / RATE, _imu(i))
        (closed,) = rec.stop()
    part = closed.with_name(closed.name + ".part")
    os.replace(closed, part)
    return part


@pytest.mark.parametrize(
    ("damage", "kept"),
    [
        (lambda b: b, 40),  # intact (killed between writes)
        (lambda b: b[:-17], 39),  # cut mid-row
        (lambda b: b + b"\0" * 4096, 40),  # zero-filled block after a power cut
        (lambda b: b[:-17] + b"\0" * 100, 39),
        (lambda b: b + b"12.5,\xff\xfe", 40),  # a garbled partial row
    ],
)
def test_recover_part_keeps_every_complete_row(tmp_path, damage, kept):
    part = _make_part(tmp_path, 40)
    part.write_bytes(damage(part.read_bytes()))
    out = recover_part(part)
    assert out is not None and not part.exists()
    r = read_recording(out)
    assert r.n_samples == kept
    np.testing.assert_allclose(r.imu, np.stack([_imu(i) for i in range(kept)]), rtol=1e-9)


def test_recover_part_cuts_at_a_corrupt_line(tmp_path):
    part = _make_part(tmp_path, 40)
    lines = part.read_bytes().split(b"\n")
    lines[21] = b"\xff\xfe garbage"  # data row 21 (line 22) is unreadable
    part.write_bytes(b"\n".join(lines))
    r = read_recording(recover_part(part))
    assert r.n_samples == 20


def test_recover_part_without_data_or_sidecar(tmp_path):
    part = _make_part(tmp_path, 5)
    header = part.read_bytes().split(b"\n")[0]
    part.write_bytes(header + b"\n1.0,2")  # header and half a row: nothing recorded
    side = part.with_name(part.name.removesuffix(".csv.part") + ".json")
    assert recover_part(part) is None and not part.exists() and not side.exists()

    part = _make_part(tmp_path / "b", 5)
    side = part.with_name(part.name.removesuffix(".csv.part") + ".json")
    side.unlink()
    assert recover_part(part) is None
    kept = part.with_name(part.name.removesuffix(".part") + ".unrecoverable")
    assert kept.exists() and not part.exists()  # raw bytes kept, never a corrupt .csv
    assert not list(part.parent.glob("*.csv"))


def test_sidecar_of_a_recovered_segment_is_the_recorders(tmp_path):
    part = _make_part(tmp_path, 12)
    side = part.with_name(part.name.removesuffix(".csv.part") + ".json")
    before = read_sidecar(side)
    out = recover_part(part)
    after = read_sidecar(out.with_suffix(".json"))
    assert after.participant == before.participant and after.device == before.device
    assert after.columns == read_recording(out).columns
