"""Network definition: IMU features → LSTM → two dense layers → physical outputs.

Per time step the network outputs the raw groups of ``edge.output_spec`` (the one
definition of outputs, their columns, scales, offsets and units):

| output | shape | unit | meaning |
|---|---|---|---|
| ``q`` | (9,) | m, rad | generalized coordinates (``COORDINATE_NAMES`` order) |
| ``qd`` | (9,) | m/s, rad/s | their velocities |
| ``qdd`` | (9,) | m/s², rad/s² | their accelerations |
| ``moments_bwbh`` | (6,) | BW·BH | joint moments: hip, knee, ankle right, then left |
| ``contact_bw`` | (8,) | BW | (fx, fy) at heel_r, toe_r, heel_l, toe_l |
| ``speed`` | (1,) | m/s | forward walking/running speed |

Moments are net joint moments, + as the angle. Contact forces satisfy |fx| ≤ μ·|fy|;
fy ≥ 0 up to a small leak that the loss penalises. The head maps the last dense layer's
raw values to these with fixed per-channel scales and offsets (typical magnitudes), and
builds the contact forces so that they are
(almost) admissible by construction: fy = scale · (softplus(raw_y) + 0.01 raw_y) and
fx = μ · fy · tanh(raw_x) inside the friction cone.

``pelvis_tx`` is not observable from IMUs (the physics is invariant to it); its output
is kept for shape but the losses use only its velocity and acceleration.
"""

from __future__ import annotations

from typing import Literal

import keras
import tensorflow as tf
from keras import layers
from pydantic import BaseModel, ConfigDict, Field

from edge.output_spec import (
    AFFINE_GROUPS,
    ANGLE_CHANNELS,
    ANGLE_SLICE,
    CONTACT,
    GRF_CHANNELS,
    N_RAW_OUTPUTS,
    RAW,
    RAW_GROUPS,
    STREAMING_HEAD_COLUMNS,
)

__all__ = [
    "ANGLE_CHANNELS",
    "GRF_CHANNELS",
    "N_RAW_OUTPUTS",
    "OUTPUT_LAYOUT",
    "NetworkConfig",
    "build_sequence_model",
    "build_streaming_model",
    "published_tensors",
]

#: (name, size) of each output group, in the order of the head's raw vector.
OUTPUT_LAYOUT: tuple[tuple[str, int], ...] = tuple((g.name, g.size) for g in RAW_GROUPS)


class NetworkConfig(BaseModel):
    """Size and kind of the network."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["causal", "bidirectional"] = Field(
        "causal", description="causal LSTM (streams on the edge) or bidirectional (offline)"
    )
    lstm_units: int = Field(128, ge=8, le=1024)
    dense_units: int = Field(128, ge=8, le=1024)
    activation: Literal["tanh", "relu", "gelu", "swish"] = "tanh"


def _affine(raw_group, group: str, channels: slice = slice(None)):
    """Physical values of an affine group's channels from their raw values (..., k)."""
    g = RAW[group]
    return raw_group * g.scale_array()[channels] + g.offset_array()[channels]


def _linear(raw, group: str):
    """One affine output group from the whole raw head vector (..., N_RAW_OUTPUTS)."""
    g = RAW[group]
    return _affine(raw[..., g.start : g.stop], group)


def _softplus_bounded(x):
    """softplus(x) = relu(x) + log1p(exp(-|x|)), written so every intermediate is bounded
    (exp(-|x|) in (0, 1]): int8 quantization of log(1 + exp(x)) loses all resolution
    because exp(x) spans thousands."""
    return keras.ops.relu(x) + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(x)))


def _contact_from_xy(raw_x, raw_y):
    """(..., 8) contact forces (fx, fy per point, BW) from (..., 4) raw x and y values."""
    # The small linear leak keeps gradients alive where softplus is flat, so a force
    # unit switched off early in training can come back (fy < 0 is penalised).
    fy = CONTACT.fy_scale * (_softplus_bounded(raw_y) + CONTACT.leak * raw_y)
    fx = CONTACT.friction * fy * keras.ops.tanh(raw_x)
    pairs = [t for p in range(4) for t in (fx[..., p : p + 1], fy[..., p : p + 1])]
    return keras.ops.concatenate(pairs, axis=-1)


def _columns(raw, cols: list[int]):
    return keras.ops.concatenate([raw[..., c : c + 1] for c in cols], axis=-1)


def _contact(raw):
    """(..., 8) contact forces (fx, fy per point, BW), admissible by construction."""
    g = RAW["contact_bw"]
    return _contact_from_xy(
        _columns(raw, CONTACT.x_columns(g)), _columns(raw, CONTACT.y_columns(g))
    )


class PhysicalHead(layers.Layer):
    """Raw (..., 42) → dict of physical outputs (see the module table)."""

    def call(self, raw: tf.Tensor) -> dict[str, tf.Tensor]:
        out = {group: _linear(raw, group) for group in AFFINE_GROUPS}
        out["contact_bw"] = _contact(raw)
        return out


def _trunk_layers(cfg: NetworkConfig) -> tuple[layers.Layer, layers.Layer, layers.Layer]:
    dense_1 = layers.Dense(cfg.dense_units, activation=cfg.activation, name="dense_1")
    dense_2 = layers.Dense(N_RAW_OUTPUTS, name="dense_out")
    head = PhysicalHead(name="physical_head")
    return dense_1, dense_2, head


def build_sequence_model(cfg: NetworkConfig, n_features: int) -> keras.Model:
    """The training/evaluation model: (B, T, F) normalised features → dict of (B, T, k)."""
    inputs = keras.Input((None, n_features), name="features")
    lstm = layers.LSTM(cfg.lstm_units, return_sequences=True, name="lstm")
    if cfg.kind == "bidirectional":
        x = layers.Bidirectional(lstm, name="bilstm")(inputs)
    else:
        x = lstm(inputs)
    dense_1, dense_2, head = _trunk_layers(cfg)
    outputs = head(dense_2(dense_1(x)))
    return keras.Model(inputs, outputs, name=f"sspinn_{cfg.kind}")


def published_tensors(out: dict) -> dict:
    """The device's outputs from the head's outputs (works on Keras and eager tensors).

    ``angles`` (..., 7) rad (``ANGLE_CHANNELS``), ``moments`` (..., 6) BW·BH,
    ``grf`` (..., 4) BW per foot (heel + toe; ``GRF_CHANNELS``), ``speed`` (..., 1) m/s.
    """
    return {
        "angles": out["q"][..., ANGLE_SLICE],
        "moments": out["moments_bwbh"],
        "grf": _grf(out["contact_bw"]),
        "speed": out["speed"],
    }


def _grf(contact):
    return keras.ops.concatenate(
        [contact[..., 0:2] + contact[..., 2:4], contact[..., 4:6] + contact[..., 6:8]], axis=-1
    )


def build_streaming_model(sequence_model: keras.Model, cfg: NetworkConfig) -> keras.Model:
    """The single-step model with explicit LSTM state, with the sequence model's weights.

    Inputs: ``imu`` (1, F) normalised features, ``lstm_h`` and ``lstm_c`` (1, U).
    Outputs: ``angles`` (1, 7) rad: pelvis_tilt then hip, knee, ankle right and left;
    ``moments`` (1, 6) BW·BH; ``grf`` (1, 4) BW: x_r, y_r, x_l, y_l; ``speed`` (1, 1) m/s;
    ``lstm_h_out``, ``lstm_c_out`` (1, U) the next state.
    The LSTM is unrolled over its single step (the route the int8 converter supports).
    """
    if cfg.kind != "causal":
        raise ValueError("only the causal network streams; the bidirectional one is offline")
    n_features = sequence_model.input_shape[-1]
    units = cfg.lstm_units
    imu = keras.Input((n_features,), batch_size=1, name="imu")
    h0 = keras.Input((units,), batch_size=1, name="lstm_h")
    c0 = keras.Input((units,), batch_size=1, name="lstm_c")
    x = layers.Reshape((1, n_features))(imu)
    lstm = layers.LSTM(units, unroll=True, return_state=True, name="lstm")
    y, h, c = lstm(x, initial_state=[h0, c0])
    dense_1 = layers.Dense(cfg.dense_units, activation=cfg.activation, name="dense_1")
    hidden = dense_1(y)
    # One output layer per published group (same weights as the sequence model's
    # dense_out columns): with full-int8 quantization every group, and the contact x
    # and y pre-activations separately, get their own activation scale.
    heads = {
        name: layers.Dense(len(cols), name=f"head_{name}")
        for name, cols in STREAMING_HEAD_COLUMNS.items()
    }
    raw = {name: layer(hidden) for name, layer in heads.items()}
    contact = _contact_from_xy(raw["contact_x"], raw["contact_y"])
    pub = {
        "angles": _affine(raw["angles"], "q", ANGLE_SLICE),
        "moments": _affine(raw["moments"], "moments_bwbh"),
        "grf": _grf(contact),
        "speed": _affine(raw["speed"], "speed"),
    }
    model = keras.Model(
        {"imu": imu, "lstm_h": h0, "lstm_c": c0},
        {
            "angles": layers.Identity(name="angles")(pub["angles"]),
            "moments": layers.Identity(name="moments")(pub["moments"]),
            "grf": layers.Identity(name="grf")(pub["grf"]),
            "speed": layers.Identity(name="speed")(pub["speed"]),
            "lstm_h_out": layers.Identity(name="lstm_h_out")(h),
            "lstm_c_out": layers.Identity(name="lstm_c_out")(c),
        },
        name="sspinn_streaming",
    )
    for name in ("lstm", "dense_1"):
        model.get_layer(name).set_weights(sequence_model.get_layer(name).get_weights())
    kernel, bias = sequence_model.get_layer("dense_out").get_weights()
    for name, cols in STREAMING_HEAD_COLUMNS.items():
        heads[name].set_weights([kernel[:, cols], bias[cols]])
    return model
