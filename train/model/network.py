"""Network definition: IMU features → LSTM → two dense layers → physical outputs.

Per time step the network outputs, in SI or body-weight units:

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
import numpy as np
import tensorflow as tf
from keras import layers
from pydantic import BaseModel, ConfigDict, Field

#: (name, size) of each output group, in the order of the head's raw vector.
OUTPUT_LAYOUT: tuple[tuple[str, int], ...] = (
    ("q", 9),
    ("qd", 9),
    ("qdd", 9),
    ("moments_bwbh", 6),
    ("contact_bw", 8),
    ("speed", 1),
)
N_RAW_OUTPUTS = sum(n for _, n in OUTPUT_LAYOUT)
FRICTION_COEFFICIENT = 1.0

# Typical magnitudes (scale) and centres (offset) per channel, physical units.
_Q_OFFSET = [0.0, 0.92, 0.0, 0.15, -0.45, 0.0, 0.15, -0.45, 0.0]
_Q_SCALE = [0.1, 0.04, 0.05, 0.35, 0.4, 0.2, 0.35, 0.4, 0.2]
_QD_OFFSET = [1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
_QD_SCALE = [1.0, 0.3, 0.4, 3.0, 5.0, 4.0, 3.0, 5.0, 4.0]
_QDD_SCALE = [4.0, 6.0, 8.0, 40.0, 60.0, 60.0, 40.0, 60.0, 60.0]
_MOMENT_SCALE = [0.04, 0.04, 0.06, 0.04, 0.04, 0.06]
_CONTACT_FY_SCALE = 0.4
_CONTACT_LEAK = 0.01
_SPEED = (1.8, 1.0)


class NetworkConfig(BaseModel):
    """Size and kind of the network."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["causal", "bidirectional"] = Field(
        "causal", description="causal LSTM (streams on the edge) or bidirectional (offline)"
    )
    lstm_units: int = Field(128, ge=8, le=1024)
    dense_units: int = Field(128, ge=8, le=1024)
    activation: Literal["tanh", "relu", "gelu", "swish"] = "tanh"


_SLICES = {"q": (0, 9), "qd": (9, 18), "qdd": (18, 27), "moments_bwbh": (27, 33)}
_LIN_SCALE = {
    "q": _Q_SCALE,
    "qd": _QD_SCALE,
    "qdd": _QDD_SCALE,
    "moments_bwbh": _MOMENT_SCALE,
}
_LIN_OFFSET = {"q": _Q_OFFSET, "qd": _QD_OFFSET, "qdd": [0.0] * 9, "moments_bwbh": [0.0] * 6}
_CONTACT_SLICE = (33, 41)
_SPEED_SLICE = (41, 42)


def _linear(raw, group: str, start: int = 0, stop: int | None = None):
    """One affine output group (or a channel range of it) from the raw head vector."""
    lo, hi = _SLICES[group]
    stop = hi - lo if stop is None else stop
    scale = np.asarray(_LIN_SCALE[group][start:stop], np.float32)
    offset = np.asarray(_LIN_OFFSET[group][start:stop], np.float32)
    return raw[..., lo + start : lo + stop] * scale + offset


def _softplus_bounded(x):
    """softplus(x) = relu(x) + log1p(exp(-|x|)), written so every intermediate is bounded
    (exp(-|x|) in (0, 1]): int8 quantization of log(1 + exp(x)) loses all resolution
    because exp(x) spans thousands."""
    return keras.ops.relu(x) + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(x)))


def _contact_from_xy(raw_x, raw_y):
    """(..., 8) contact forces (fx, fy per point, BW) from (..., 4) raw x and y values."""
    # The small linear leak keeps gradients alive where softplus is flat, so a force
    # unit switched off early in training can come back (fy < 0 is penalised).
    fy = _CONTACT_FY_SCALE * (_softplus_bounded(raw_y) + _CONTACT_LEAK * raw_y)
    fx = FRICTION_COEFFICIENT * fy * keras.ops.tanh(raw_x)
    pairs = [t for p in range(4) for t in (fx[..., p : p + 1], fy[..., p : p + 1])]
    return keras.ops.concatenate(pairs, axis=-1)


def _contact(raw):
    """(..., 8) contact forces (fx, fy per point, BW), admissible by construction."""
    lo = _CONTACT_SLICE[0]
    raw_x = keras.ops.concatenate([raw[..., lo + 2 * p : lo + 2 * p + 1] for p in range(4)], -1)
    raw_y = keras.ops.concatenate([raw[..., lo + 2 * p + 1 : lo + 2 * p + 2] for p in range(4)], -1)
    return _contact_from_xy(raw_x, raw_y)


#: Columns of the raw head vector behind each streaming output layer.
_HEAD_COLUMNS: dict[str, list[int]] = {
    "angles": list(range(2, 9)),
    "moments": list(range(27, 33)),
    "contact_x": [_CONTACT_SLICE[0] + 2 * p for p in range(4)],
    "contact_y": [_CONTACT_SLICE[0] + 2 * p + 1 for p in range(4)],
    "speed": [_SPEED_SLICE[0]],
}


def _speed(raw):
    return _SPEED[0] + _SPEED[1] * raw[..., _SPEED_SLICE[0] : _SPEED_SLICE[1]]


class PhysicalHead(layers.Layer):
    """Raw (..., 42) → dict of physical outputs (see the module table)."""

    def call(self, raw: tf.Tensor) -> dict[str, tf.Tensor]:
        out = {group: _linear(raw, group) for group in _SLICES}
        out["contact_bw"] = _contact(raw)
        out["speed"] = _speed(raw)
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


#: Joint-angle channels of the published ``angles`` output (rad in the model).
ANGLE_CHANNELS: tuple[str, ...] = (
    "pelvis_tilt",
    "hip_flexion_r",
    "knee_angle_r",
    "ankle_angle_r",
    "hip_flexion_l",
    "knee_angle_l",
    "ankle_angle_l",
)
GRF_CHANNELS: tuple[str, ...] = ("grf_x_r", "grf_y_r", "grf_x_l", "grf_y_l")


def published_tensors(out: dict) -> dict:
    """The device's outputs from the head's outputs (works on Keras and eager tensors).

    ``angles`` (..., 7) rad (``ANGLE_CHANNELS``), ``moments`` (..., 6) BW·BH,
    ``grf`` (..., 4) BW per foot (heel + toe; ``GRF_CHANNELS``), ``speed`` (..., 1) m/s.
    """
    return {
        "angles": out["q"][..., 2:9],
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
        name: layers.Dense(len(cols), name=f"head_{name}") for name, cols in _HEAD_COLUMNS.items()
    }
    raw = {name: layer(hidden) for name, layer in heads.items()}
    angles = raw["angles"] * np.asarray(_Q_SCALE[2:9], np.float32) + np.asarray(
        _Q_OFFSET[2:9], np.float32
    )
    moments = raw["moments"] * np.asarray(_MOMENT_SCALE, np.float32)
    contact = _contact_from_xy(raw["contact_x"], raw["contact_y"])
    pub = {
        "angles": angles,
        "moments": moments,
        "grf": _grf(contact),
        "speed": _SPEED[0] + _SPEED[1] * raw["speed"],
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
    for name, cols in _HEAD_COLUMNS.items():
        heads[name].set_weights([kernel[:, cols], bias[cols]])
    return model
