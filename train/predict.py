"""Run a Keras sequence model and express its outputs in published units."""

from __future__ import annotations

import keras
import numpy as np

from edge.output_spec import PUBLISHED, to_published
from train.model.network import published_tensors


def predict_published(model: keras.Model, feats: np.ndarray) -> dict[str, np.ndarray]:
    """Published groups from the sequence model, causal over the whole sequence.

    Args:
        feats: (N, F) normalised float32 features.

    Returns:
        ``angles_deg`` (N, 7), ``moments_bwbh`` (N, 6), ``grf_bw`` (N, 4),
        ``speed_m_s`` (N, 1).
    """
    out = model(feats[None, :, :], training=False)
    by_tensor = {k: np.asarray(v)[0] for k, v in published_tensors(out).items()}
    return {key: to_published(key, by_tensor[g.tensor]) for key, g in PUBLISHED.items()}
