"""Unlabelled training recordings from a config: real (tiled, varied) and synthetic."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.recording import Recording, read_recording, resolve_recording
from train.adapt_data import join_segments, resolve_spec
from train.config import DataConfig
from train.data.augment import varied_tiling
from train.inputs import at_model_rate, in_segment_axes

log = logging.getLogger(__name__)


def resolve_recording_path(spec: str) -> Path:
    """``bundled:NAME`` or ``NAME`` → the shipped recording, else a CSV path: the edge's
    one resolver (:func:`edge.recording.resolve_recording`)."""
    return resolve_recording(spec)


@dataclass(frozen=True)
class RecordingSource:
    """One configured recording: a CSV, or a folder's recorder segments (joined where one
    continues the previous; a break in time gives another recording)."""

    label: str
    files: tuple[Path, ...]


def real_recording_sources(cfg: DataConfig) -> list[RecordingSource]:
    """``data.real_recordings`` expanded: a file or ``bundled:NAME`` is one source; a folder
    (a recorder session, or a tree of sessions / CSVs) gives one source per folder holding
    CSVs (``train.adapt_data.resolve_spec``; open ``*.csv.part`` segments are skipped)."""
    out = []
    for spec in cfg.real_recordings:
        if not spec.startswith("bundled:") and Path(spec).is_dir():
            for files in resolve_spec(spec):
                out.append(RecordingSource(str(files[0].parent), tuple(files)))
        else:
            out.append(RecordingSource(spec, (resolve_recording_path(spec),)))
    return out


def read_source(src: RecordingSource) -> list[Recording]:
    """The source's recording(s), truth columns removed."""
    recs = [read_recording(f).without_truth() for f in src.files]
    return join_segments(recs) if len(recs) > 1 else recs


def prepare_real(
    rec: Recording, label: str, cfg: DataConfig, rng: np.random.Generator
) -> Recording:
    """One real recording as training sees it: a mean cycle tiled with stride-to-stride
    variation (draws from ``rng``), else at the model rate; mounting undone when
    ``cfg.undo_mounting``."""
    if rec.is_mean_cycle:
        rec = varied_tiling(
            rec,
            cfg.real_cycles,
            cfg.rate_hz,
            rng,
            time_warp=cfg.time_warp,
            amplitude_jitter=cfg.amplitude_jitter,
        )
    else:
        rec = at_model_rate(rec, cfg.rate_hz)
    if cfg.undo_mounting:
        rec, mounting = in_segment_axes(rec)
        log.info("%s: mounting undone (deg) %s", label, np.degrees(mounting.angles(rec.sensors)))
    log.info("real source %s: %d samples at %.0f Hz", label, rec.n_samples, cfg.rate_hz)
    return rec


def real_sources(cfg: DataConfig, seed: int) -> list[Recording]:
    """The configured real recordings at the model rate, truth columns removed."""
    rng = np.random.default_rng(seed)
    out = []
    for src in real_recording_sources(cfg):
        for rec in read_source(src):
            out.append(prepare_real(rec, src.label, cfg, rng))
    return out


def synthetic_sources(cfg: DataConfig, seed: int) -> list[Recording]:
    """Synthetic recordings (labels removed); empty when ``synthetic_minutes`` is 0."""
    if cfg.synthetic_minutes <= 0:
        return []
    try:
        from train.data.synthetic import generate_training_set  # type: ignore[attr-defined]
    except ImportError as exc:
        raise RuntimeError(
            "synthetic_minutes > 0 but the synthetic generator (train.data.synthetic) is "
            "not available"
        ) from exc
    recs = generate_training_set(minutes=cfg.synthetic_minutes, seed=seed, rate_hz=cfg.rate_hz)
    recs = [r.without_truth() for r in recs]
    if cfg.undo_mounting:  # estimated from the gait, as for a user: the truth stays unread
        recs = [in_segment_axes(r)[0] for r in recs]
    return recs
