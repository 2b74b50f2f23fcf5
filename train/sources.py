"""Unlabelled training recordings from a config: real (tiled, varied) and synthetic."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge.recording import Recording, read_recording, resolve_recording
from train.config import DataConfig
from train.data.augment import varied_tiling
from train.inputs import at_model_rate, in_segment_axes

log = logging.getLogger(__name__)


def resolve_recording_path(spec: str) -> Path:
    """``bundled:NAME`` or ``NAME`` → the shipped recording, else a CSV path: the edge's
    one resolver (:func:`edge.recording.resolve_recording`)."""
    return resolve_recording(spec)


def real_sources(cfg: DataConfig, seed: int) -> list[Recording]:
    """The configured real recordings at the model rate, truth columns removed."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in cfg.real_recordings:
        rec = read_recording(resolve_recording_path(spec)).without_truth()
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
            log.info("%s: mounting undone (deg) %s", spec, np.degrees(mounting.angles(rec.sensors)))
        out.append(rec)
        log.info("real source %s: %d samples at %.0f Hz", spec, rec.n_samples, cfg.rate_hz)
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
