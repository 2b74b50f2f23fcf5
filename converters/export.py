"""Checkpoint → single-step streaming SavedModel (explicit LSTM state, names kept)."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from train.model.network import NetworkConfig, build_streaming_model

INPUT_NAME = "imu"
STATE_NAMES = (("lstm_h", "lstm_h_out"), ("lstm_c", "lstm_c_out"))
OUTPUT_TENSORS = ("angles", "moments", "grf", "speed")


def export_streaming_saved_model(
    sequence_model: keras.Model, cfg: NetworkConfig, out_dir: str | Path
) -> tuple[Path, keras.Model]:
    """Write the streaming model as a SavedModel with one ``serving_default`` signature.

    Keras 3's ``ExportArchive`` is the route that freezes the weights for the TFLite
    converter (``from_keras_model`` and bare concrete functions do not, in TF 2.21).

    Returns:
        (SavedModel folder, the Keras streaming model).
    """
    streaming = build_streaming_model(sequence_model, cfg)
    n_features = sequence_model.input_shape[-1]
    units = cfg.lstm_units
    archive = keras.export.ExportArchive()
    archive.track(streaming)

    def serve(imu: tf.Tensor, lstm_h: tf.Tensor, lstm_c: tf.Tensor) -> dict[str, tf.Tensor]:
        return streaming({"imu": imu, "lstm_h": lstm_h, "lstm_c": lstm_c})

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[
            tf.TensorSpec((1, n_features), tf.float32, name=INPUT_NAME),
            tf.TensorSpec((1, units), tf.float32, name=STATE_NAMES[0][0]),
            tf.TensorSpec((1, units), tf.float32, name=STATE_NAMES[1][0]),
        ],
    )
    out_dir = Path(out_dir)
    archive.write_out(str(out_dir), verbose=False)
    return out_dir, streaming
