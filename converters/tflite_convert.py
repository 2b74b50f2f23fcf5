"""SavedModel → TFLite flatbuffer in one of three quantization modes, built-in ops only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import tensorflow as tf

QuantizeMode = Literal["float32", "dynamic", "int8"]
QUANTIZE_MODES: tuple[str, ...] = ("float32", "dynamic", "int8")


def convert_saved_model(
    saved_model_dir: str | Path,
    mode: QuantizeMode,
    representative: Callable[[], Iterator[dict[str, np.ndarray]]] | None = None,
) -> bytes:
    """Convert to TFLite.

    Args:
        mode: ``float32``; ``dynamic`` (int8 weights, float activations); ``int8`` (int8
            weights and activations, float32 model inputs/outputs).
        representative: for int8, a generator factory yielding input dicts (by signature
            name) that cover real operating conditions, including LSTM states.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        if representative is None:
            raise ValueError("int8 conversion needs representative data")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif mode != "float32":
        raise ValueError(f"unknown quantization mode {mode!r}; choose from {QUANTIZE_MODES}")
    return converter.convert()
