"""The raw recorder: every sample, in closed, self-contained segments (docs/recorder.md).

A session is a folder ``<dir>/<device>_<UTC start>/`` of segments
``<device>_<UTC start>_<seq>.csv`` + ``.json`` in the recording format
(:mod:`edge.recording`), each ``segment_s`` of sample time long. The open segment is
``NAME.csv.part`` next to its final sidecar ``NAME.json``; closing it flushes, fsyncs and
renames it to ``NAME.csv`` atomically, so a ``.csv`` file is always complete.

The sampling loop calls :meth:`Recorder.append` per sample: it copies the sample into a
preallocated block under a lock (no file access, no allocation beyond two small numpy
views). Full blocks (``flush_interval_s`` of samples) go to a writer thread that formats
them with :func:`edge.recording.csv_io.format_rows`, writes and flushes them, and fsyncs
every ``fsync_interval_s``. So a crash of the process loses at most the samples not yet
handed over (≤ ``flush_interval_s`` plus any writer backlog); a power cut at most the
unsynced tail (≤ ``fsync_interval_s`` + ``flush_interval_s``).

:meth:`Recorder.recover` (run by :meth:`Recorder.start`, and by the daemon at start-up)
turns every leftover ``.part`` into a closed segment using
``read_recording(..., drop_truncated_tail=True)``; what cannot be read is cut at the
first bad line, never left as a corrupt ``.csv``.

Free disk space is checked every ``disk_check_interval_s`` on the writer thread; below
``min_free_mb`` recording stops cleanly with an alarm (:attr:`Recorder.alarm`, the
``on_alarm`` callback) while :meth:`Recorder.append` keeps returning at once.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.recorder.block_pool import Block, BlockPool
from edge.recorder.disk_space import DiskSpaceGuard
from edge.recorder.recovery import recover_parts
from edge.recorder.segment_writer import SegmentWriter, utc_iso, utc_stamp
from edge.recorder.writer_commands import (
    CloseSegment,
    Exit,
    OpenSegment,
    Sync,
    WriterCommand,
    WriteRows,
)
from edge.recording import IMU_CHANNELS, Sidecar, imu_column
from edge.recording.csv_io import fsync_dir

log = logging.getLogger(__name__)


class RecorderError(RuntimeError):
    """The recorder cannot start (e.g. the disk is nearly full)."""


@dataclass(frozen=True)
class RecorderStats:
    """Counters.

    Attributes:
        recording: a session is running.
        session_dir: the current (or last) session folder.
        samples_appended: samples accepted by :meth:`Recorder.append` (all sessions).
        samples_written: samples handed to the OS (survive a crash of this process).
        samples_rejected: samples refused for a non-increasing or non-finite time.
        samples_dropped: accepted but lost (writer backlog full, or a write error).
        segments_closed: closed segment files (all sessions).
        backlog_blocks: blocks waiting for the writer.
        alarm: why recording stopped by itself, or None.
    """

    recording: bool
    session_dir: Path | None
    samples_appended: int
    samples_written: int
    samples_rejected: int
    samples_dropped: int
    segments_closed: int
    backlog_blocks: int
    alarm: str | None


class Recorder:
    """Writes every sample to closed segments; see the module docstring.

    Args:
        directory: where session folders are created.
        device_id: names sessions and segments.
        sidecar: template for every segment's sidecar: participant, sensor placements
            (for every recorded sensor), device settings, calibration.
        sample_rate_hz: nominal rate (sets ``sample_period_s`` in the sidecars).
        sensors: recorded sensors in column order (default: the sidecar's sensors).
        segment_s: segment length in sample time (s).
        min_free_mb: stop recording below this much free space (MB).
        flush_interval_s: samples are handed to the writer (and the OS) this often (s).
        fsync_interval_s: the open segment is fsync'd this often (s); 0: every write.
        disk_check_interval_s: free space is checked this often (s); 0: every write.
        free_bytes: ``f(path) -> free bytes`` (injectable for tests).
        on_alarm: called with the reason when recording stops by itself (writer thread).
        max_backlog_s: samples held for a slow card before new ones are dropped (s).
        wall_clock: Unix time source for names and sidecars.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        device_id: str,
        sidecar: Sidecar,
        sample_rate_hz: float,
        sensors: Sequence[str] | None = None,
        segment_s: float = 60.0,
        min_free_mb: float = 200.0,
        flush_interval_s: float = 1.0,
        fsync_interval_s: float = 5.0,
        disk_check_interval_s: float = 5.0,
        free_bytes: Callable[[Path], int] | None = None,
        on_alarm: Callable[[str], None] | None = None,
        max_backlog_s: float = 300.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.device_id = device_id
        self.sensors = tuple(sensors if sensors is not None else sidecar.sensors)
        missing = [s for s in self.sensors if s not in sidecar.sensors]
        if missing:
            raise ValueError(f"sensors {missing} have no placement in the sidecar template")
        if not sample_rate_hz > 0:
            raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
        if not segment_s > 0:
            raise ValueError(f"segment_s must be > 0, got {segment_s}")
        self.sample_rate_hz = float(sample_rate_hz)
        self.segment_s = float(segment_s)
        self._disk = DiskSpaceGuard(self.directory, min_free_mb, disk_check_interval_s, free_bytes)
        self.flush_interval_s = flush_interval_s
        self.fsync_interval_s = fsync_interval_s
        self._on_alarm = on_alarm
        self._wall_clock = wall_clock
        self.columns = ["time_s"] + [imu_column(s, c) for s in self.sensors for c in IMU_CHANNELS]
        self._template = sidecar.model_copy(
            update={
                "sample_period_s": 1.0 / self.sample_rate_hz,
                "sensors": {s: sidecar.sensors[s] for s in self.sensors},
                "columns": self.columns,
                "samples_per_cycle": None,
                "cycle_duration_s": None,
                "events": [],
            }
        )

        n_sensors = len(self.sensors)
        self._pool = BlockPool.for_rates(
            self.sample_rate_hz, n_sensors, flush_interval_s, max_backlog_s
        )

        self._lock = threading.Lock()
        self._active = False
        self._block: Block | None = None
        self._fill = 0
        self._seg_open = False
        self._seg_t0 = 0.0
        self._seg_seq = 0
        self._last_t = -math.inf
        self._session_dir: Path | None = None
        self._note: str | None = None
        self._alarm: str | None = None
        self._n = {"appended": 0, "written": 0, "rejected": 0, "dropped": 0, "closed": 0}
        self._backlog = 0
        self._closed_paths: list[Path] = []

        # writer-thread state
        self._q: queue.SimpleQueue[WriterCommand] = queue.SimpleQueue()
        self._segment = SegmentWriter(self.columns, fsync_interval_s)
        self._writer = threading.Thread(target=self._run_writer, name="recorder", daemon=True)
        self._writer.start()
        self._closed = False

    @classmethod
    def from_config(cls, cfg: Any, sidecar: Sidecar, **kwargs: Any) -> Recorder:
        """A recorder from a :class:`edge.config.DaemonConfig` and a sidecar template."""
        rc = cfg.recorder
        return cls(
            rc.dir,
            device_id=cfg.device.id,
            sidecar=sidecar,
            sample_rate_hz=cfg.sampling.rate_hz,
            segment_s=rc.segment_s,
            min_free_mb=rc.min_free_mb,
            flush_interval_s=rc.flush_interval_s,
            fsync_interval_s=rc.fsync_interval_s,
            **kwargs,
        )

    # ------------------------------------------------------------------ control
    @property
    def recording(self) -> bool:
        return self._active

    @property
    def alarm(self) -> str | None:
        """Why recording stopped by itself (disk nearly full, write error), or None."""
        return self._alarm

    @property
    def session_dir(self) -> Path | None:
        return self._session_dir

    def stats(self) -> RecorderStats:
        with self._lock:
            return RecorderStats(
                recording=self._active,
                session_dir=self._session_dir,
                samples_appended=self._n["appended"],
                samples_written=self._n["written"],
                samples_rejected=self._n["rejected"],
                samples_dropped=self._n["dropped"],
                segments_closed=self._n["closed"],
                backlog_blocks=self._backlog,
                alarm=self._alarm,
            )

    def start(self, note: str | None = None) -> Path:
        """Start a new session (idempotent while recording); returns its folder.

        Leftover ``.part`` files are recovered first.

        Raises:
            RecorderError: the disk is nearly full or the folder cannot be created.
        """
        if self._closed:
            raise RecorderError("the recorder is closed")
        with self._lock:
            if self._active:
                return self._session_dir  # type: ignore[return-value]
        self._sync()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecorderError(f"cannot create {self.directory}: {exc}") from exc
        self.recover()
        try:
            reason = self._disk.reason_now()
        except OSError as exc:
            raise RecorderError(f"cannot check free space in {self.directory}: {exc}") from exc
        if reason is not None:
            self._alarm = reason
            raise RecorderError(reason)
        now = self._wall_clock()
        base = f"{self.device_id}_{utc_stamp(now)}"
        session = self.directory / base
        k = 2
        while session.exists():
            session = self.directory / f"{base}_{k}"
            k += 1
        try:
            session.mkdir(parents=True)
        except OSError as exc:
            raise RecorderError(f"cannot create {session}: {exc}") from exc
        fsync_dir(self.directory)
        with self._lock:
            self._session_dir = session
            self._note = note
            self._seg_seq = 0
            self._seg_open = False
            self._last_t = -math.inf
            self._alarm = None
            self._closed_paths = []
            self._active = True
        log.info("recording to %s", session)
        return session

    def stop(self, timeout_s: float = 10.0) -> list[Path]:
        """Stop recording; waits (up to ``timeout_s``) until the last segment is closed.

        Returns:
            The session's closed segment CSVs.
        """
        with self._lock:
            if self._active:
                self._active = False
                self._end_segment_locked()
                log.info("recording stopped")
        self._sync(timeout_s)
        with self._lock:
            return list(self._closed_paths)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop recording and end the writer thread."""
        if self._closed:
            return
        self.stop(timeout_s)
        self._closed = True
        self._q.put(Exit())
        self._writer.join(timeout_s)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ hot path
    def append(self, t: float, imu: np.ndarray, ok: np.ndarray | None = None) -> bool:
        """Record one sample (cheap: a copy into a preallocated block).

        Args:
            t: sample time (s), strictly increasing (the sampler's clock).
            imu: (S, 6) acc xyz (m/s²) and gyr xyz (rad/s) per recorded sensor, segment
                axes; NaN marks a missing sample.
            ok: optional (S,) bool; False writes NaN for that sensor's six channels.

        Returns:
            True if recorded; False when not recording (stopped, alarm) or refused.
        """
        with self._lock:
            if not self._active:
                return False
            if not t > self._last_t:  # also refuses NaN
                self._n["rejected"] += 1
                return False
            if self._seg_open and t - self._seg_t0 >= self.segment_s:
                self._end_segment_locked()
            if not self._seg_open:
                self._begin_segment_locked(t)
            if self._block is None:
                self._block = self._take_block_locked()
                if self._block is None:
                    self._n["dropped"] += 1
                    self._last_t = t
                    return False
            times, values = self._block
            i = self._fill
            times[i] = t
            values[i] = imu
            if ok is not None:
                np.copyto(values[i], np.nan, where=~np.asarray(ok, dtype=bool)[:, None])
            self._fill = i + 1
            self._last_t = t
            self._n["appended"] += 1
            if self._fill == self._pool.rows:
                self._hand_over_locked()
            return True

    def _take_block_locked(self) -> Block | None:
        block = self._pool.take()
        if block is not None:
            return block
        if self._alarm is None:
            self._alarm = "the writer is behind (slow storage): dropping samples"
            log.error(self._alarm)
        return None

    def _hand_over_locked(self) -> None:
        if self._block is not None and self._fill:
            self._backlog += 1
            self._q.put(WriteRows(self._block, self._fill))
            self._block = None
        self._fill = 0

    def _begin_segment_locked(self, t: float) -> None:
        wall = self._wall_clock()
        seq = self._seg_seq
        self._seg_seq += 1
        name = f"{self.device_id}_{utc_stamp(wall)}_{seq:05d}"
        assert self._session_dir is not None
        self._q.put(OpenSegment(self._session_dir, name, seq, wall, t, self._note))
        self._seg_open = True
        self._seg_t0 = t

    def _end_segment_locked(self) -> None:
        if self._seg_open:
            self._hand_over_locked()
            self._q.put(CloseSegment())
            self._seg_open = False

    def _sync(self, timeout_s: float = 10.0) -> bool:
        """Wait until the writer has done everything queued so far."""
        if not self._writer.is_alive():
            return True
        done = threading.Event()
        self._q.put(Sync(done))
        return done.wait(timeout_s)

    # ------------------------------------------------------------------ writer thread
    def _run_writer(self) -> None:
        while True:
            cmd = self._q.get()
            try:
                match cmd:
                    case WriteRows():
                        self._w_write(cmd)
                    case OpenSegment():
                        self._w_open(cmd)
                    case CloseSegment():
                        self._w_close()
                    case Sync():
                        cmd.done.set()
                    case Exit():
                        self._w_close()
                        return
            except OSError as exc:
                self._w_fail(f"write error: {exc}")
            except Exception as exc:  # a bug must not kill the writer silently
                log.exception("recorder writer failed")
                self._w_fail(f"recorder error: {exc}")

    def set_calibration(self, calibration: dict[str, Any] | None) -> None:
        """Write ``calibration`` into the sidecar of every segment opened from now on."""
        # One reference assignment: the writer thread sees the old or the new template.
        self._template = self._template.model_copy(update={"calibration": calibration})

    def _w_open(self, cmd: OpenSegment) -> None:
        device = dict(self._template.device or {})
        device.update(
            id=self.device_id,
            session=cmd.session.name,
            segment=cmd.seq,
            start_utc=utc_iso(cmd.wall),
            t0_s=cmd.t0,
            recorder={
                "segment_s": self.segment_s,
                "flush_interval_s": self.flush_interval_s,
                "fsync_interval_s": self.fsync_interval_s,
            },
        )
        meta = self._template.model_copy(update={"trial": cmd.name, "device": device})
        if cmd.note:
            meta = meta.model_copy(update={"note": cmd.note})
        self._segment.open(cmd.session, cmd.name, meta)
        self._w_check_disk(force=True)

    def _w_write(self, cmd: WriteRows) -> None:
        with self._lock:
            self._backlog -= 1
        times, values = cmd.block
        n = cmd.n
        try:
            if not self._segment.is_open:
                with self._lock:
                    self._n["dropped"] += n
                return
            self._segment.write(times[:n], values[:n])
            with self._lock:
                self._n["written"] += n
        finally:
            self._pool.give_back(cmd.block)
        self._w_check_disk()

    def _w_close(self) -> None:
        final = self._segment.close(self._wall_clock())
        if final is not None:
            with self._lock:
                self._n["closed"] += 1
                self._closed_paths.append(final)

    def _w_check_disk(self, force: bool = False) -> None:
        reason = self._disk.check(force)
        if reason is not None:
            self._raise_alarm(reason, close_segment=True)

    def _w_fail(self, reason: str) -> None:
        self._segment.abandon()
        self._raise_alarm(reason, close_segment=False)

    def _raise_alarm(self, reason: str, *, close_segment: bool) -> None:
        with self._lock:
            was = self._active
            self._active = False
            if close_segment:
                self._end_segment_locked()
            else:
                self._seg_open = False
                self._block = None
                self._fill = 0
            self._alarm = reason
        if not was:
            return
        log.error("recorder alarm: %s", reason)
        if self._on_alarm is not None:
            try:
                self._on_alarm(reason)
            except Exception:
                log.exception("recorder on_alarm callback failed")

    # ------------------------------------------------------------------ recovery
    def recover(self) -> list[Path]:
        """Close every leftover ``.part`` under :attr:`directory` but the one being
        written (see :func:`edge.recorder.recovery.recover_part`).

        Returns:
            The recovered segment CSVs.
        """
        return recover_parts(self.directory, skip=self._segment.part_path)
