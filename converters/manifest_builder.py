"""The bundle manifest for a converted checkpoint."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from converters.export import INPUT_NAME, STATE_NAMES
from edge.bundle import Manifest
from edge.output_spec import manifest_outputs
from train.checkpoint import CheckpointMeta

#: Minimum runtimes per mode. Only ai-edge-litert is verified here (float32, dynamic and
#: int8 all run in 2.3). tflite-runtime 2.14 cannot load dynamic-range models and gives
#: wrong outputs for 16x8; its float32/int8 results are not verified here, so it is not
#: allowed for any mode until a parity check has been run on it.
MIN_RUNTIME = {
    "float32": {"ai_edge_litert": "2.3.0", "tflite_runtime": None},
    "dynamic": {"ai_edge_litert": "2.3.0", "tflite_runtime": None},
    "int8": {"ai_edge_litert": "2.3.0", "tflite_runtime": None},
}


def build_manifest(
    meta: CheckpointMeta,
    mode: str,
    model_bytes: bytes,
    *,
    provenance: dict | None = None,
    metrics: dict | None = None,
) -> Manifest:
    """Manifest for ``model_bytes`` converted from the checkpoint described by ``meta``."""
    units = meta.network.lstm_units
    return Manifest.model_validate(
        {
            "model_id": meta.model_id,
            "version": meta.model_version,
            "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sample_rate_hz": meta.sample_rate_hz,
            "sensors": meta.sensors,
            "input_tensor": {"name": INPUT_NAME, "shape": [1, meta.n_features]},
            "input_features": meta.input_features,
            "normalisation": {"mean": meta.norm_mean, "std": meta.norm_std},
            "input_axes": meta.input_axes,
            "body_inputs": {
                "height_m": "input feature 'height_m' (normalised like the others)",
                "mass_kg": "input feature 'mass_kg' (normalised like the others)",
                "sensor_positions": "input features '<sensor>_pos_x', '<sensor>_pos_y' (m)",
            },
            "states": [{"input": i, "output": o, "shape": [1, units]} for i, o in STATE_NAMES],
            "outputs": manifest_outputs(),
            "quantization": mode,
            "min_runtime": MIN_RUNTIME[mode],
            "provenance": {**meta.provenance, **(provenance or {})},
            "metrics": metrics or {},
            "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
        }
    )
