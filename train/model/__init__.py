"""The SSPINNpose network: a causal (or bidirectional) LSTM with a physical output head."""

from train.model.network import (
    ANGLE_CHANNELS,
    GRF_CHANNELS,
    OUTPUT_LAYOUT,
    NetworkConfig,
    PhysicalHead,
    build_sequence_model,
    build_streaming_model,
    published_tensors,
)

__all__ = [
    "ANGLE_CHANNELS",
    "GRF_CHANNELS",
    "OUTPUT_LAYOUT",
    "NetworkConfig",
    "PhysicalHead",
    "build_sequence_model",
    "build_streaming_model",
    "published_tensors",
]
