"""Checkpoints: a folder with ``checkpoint.json`` (everything needed to rebuild and use
the network) and ``model.weights.h5`` (Keras weights).

Rebuilding from the JSON and loading weights avoids pickled custom objects, so a
checkpoint stays readable across Keras versions as long as the layer names hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from train.model.network import NetworkConfig, build_sequence_model

CHECKPOINT_JSON = "checkpoint.json"
WEIGHTS_FILE = "model.weights.h5"


class AdaptedFrom(BaseModel):
    """Set on a checkpoint made by ``sspinn-adapt`` (``train.adapt``): the model it was
    fine-tuned from and the wearer's (unlabelled) recordings it saw."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="the base checkpoint folder, as given")
    model_id: str
    step: int = Field(description="the base model's training step")
    recordings: list[dict[str, Any]] = Field(
        default_factory=list, description="label, files, SHA-256, participant id, seconds"
    )
    steps: int = Field(0, description="adaptation steps")
    minutes: float = Field(0.0, description="adaptation training time, min")
    created_utc: str | None = None


class CheckpointMeta(BaseModel):
    """What a checkpoint knows about its network and data."""

    model_config = ConfigDict(extra="forbid")

    format: str = "sspinn-checkpoint/1"
    model_id: str = Field("sspinn-causal-lstm", pattern=r"^[A-Za-z0-9_.-]+$")
    model_version: str = "0.1.0"
    network: NetworkConfig
    sample_rate_hz: float = Field(gt=0)
    sensors: list[str]
    input_features: list[str]
    norm_mean: list[float]
    norm_std: list[float]
    created_utc: str
    step: int = 0
    input_axes: Literal["sensor", "segment"] = Field(
        "sensor",
        description="'segment': trained on recordings with their mounting undone "
        "(train.inputs.in_segment_axes), so inputs must be undone the same way",
    )
    provenance: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    adapted_from: AdaptedFrom | None = Field(
        None, description="set by sspinn-adapt; absent in trained (and older) checkpoints"
    )

    @property
    def n_features(self) -> int:
        return len(self.input_features)

    def norm_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(F,) mean and std as float64 arrays."""
        return np.asarray(self.norm_mean, np.float64), np.asarray(self.norm_std, np.float64)


def save_checkpoint(folder: str | Path, model: keras.Model, meta: CheckpointMeta) -> Path:
    """Write the weights then the JSON (the JSON's presence marks a complete checkpoint)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp_weights = folder / f".{WEIGHTS_FILE}.tmp.weights.h5"
    model.save_weights(tmp_weights)
    tmp_weights.replace(folder / WEIGHTS_FILE)
    tmp_json = folder / f".{CHECKPOINT_JSON}.tmp"
    # A trained checkpoint's JSON stays as before (readable by older code).
    skip = {"adapted_from"} if meta.adapted_from is None else None
    tmp_json.write_text(json.dumps(meta.model_dump(mode="json", exclude=skip), indent=2) + "\n")
    tmp_json.replace(folder / CHECKPOINT_JSON)
    return folder


def read_checkpoint_meta(folder: str | Path) -> CheckpointMeta:
    folder = Path(folder)
    path = folder / CHECKPOINT_JSON
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} is not a checkpoint: {CHECKPOINT_JSON} missing (train one with sspinn-train)"
        )
    return CheckpointMeta.model_validate_json(path.read_text())


def load_checkpoint(folder: str | Path) -> tuple[keras.Model, CheckpointMeta]:
    """Rebuild the sequence model from ``checkpoint.json`` and load its weights."""
    folder = Path(folder)
    meta = read_checkpoint_meta(folder)
    model = build_sequence_model(meta.network, meta.n_features)
    model.load_weights(folder / WEIGHTS_FILE)
    return model, meta
