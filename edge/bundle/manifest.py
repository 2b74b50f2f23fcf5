"""The bundle manifest (``manifest.json``): what the model expects and produces.

Tensors are looked up by name, never by position. Published units follow the MQTT
contract: ``angles_deg`` in degrees, ``moments_bwbh`` as a fraction of body weight × body
height, ``grf_bw`` in body weights, ``speed_m_s`` in m/s.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MANIFEST_SCHEMA_VERSION = 1
QuantizationMode = Literal["float32", "dynamic", "int8"]
InputAxes = Literal["sensor", "segment"]
_SEMVER = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TensorSpec(_Strict):
    """A named model input/output tensor (signature name) and its shape."""

    name: str = Field(description="Signature name of the tensor")
    shape: list[int] = Field(description="Shape including the batch dimension of 1")


class OutputGroup(_Strict):
    """A named model output and how to turn it into published units.

    value_published = raw * scale + offset, per element.
    """

    tensor: str = Field(description="Signature name of the output tensor")
    channels: list[str] = Field(description="Name of each element, in order")
    unit: str = Field(description="Unit after scaling, e.g. 'deg', 'BW*BH', 'BW', 'm/s'")
    scale: list[float] | float = 1.0
    offset: list[float] | float = 0.0

    @model_validator(mode="after")
    def _lengths(self) -> OutputGroup:
        for key in ("scale", "offset"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) != len(self.channels):
                raise ValueError(f"{key} has {len(value)} values for {len(self.channels)} channels")
        return self


class StateSpec(_Strict):
    """One recurrent state carried between single-step calls (e.g. an LSTM's h or c)."""

    input: str = Field(description="Signature name of the state input")
    output: str = Field(description="Signature name of the next-state output")
    shape: list[int]


class Normalisation(_Strict):
    """Input normalisation applied on the device: x_model = (x - mean) / std."""

    mean: list[float]
    std: list[float]

    @model_validator(mode="after")
    def _positive(self) -> Normalisation:
        if len(self.mean) != len(self.std):
            raise ValueError("mean and std differ in length")
        if any(not s > 0 for s in self.std):
            raise ValueError("every std must be > 0")
        return self


class RuntimeRequirement(_Strict):
    """Minimum versions of the interpreters able to run this model (None: unusable)."""

    ai_edge_litert: str | None = Field(default="2.3.0", description="Minimum ai-edge-litert")
    tflite_runtime: str | None = Field(default=None, description="Minimum tflite-runtime")


class Manifest(_Strict):
    """``manifest.json`` of a ``*.sspinn`` bundle."""

    schema_version: Literal[1] = MANIFEST_SCHEMA_VERSION
    model_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)]
    version: str = Field(description="Semantic version of the model, e.g. 1.2.0")
    created_utc: str = Field(description="ISO-8601 UTC creation time")
    sample_rate_hz: Annotated[float, Field(gt=0, le=1000)]
    sensors: list[str] = Field(description="Sensor names, in input order")
    input_tensor: TensorSpec = Field(description="The per-step input, shape (1, F)")
    input_features: list[str] = Field(
        description="Name of each of the F input features, e.g. 'femur_r_acc_x', 'height_m'"
    )
    normalisation: Normalisation
    input_axes: InputAxes = Field(
        default="sensor",
        description="Axes of the IMU channels the features are computed from: 'sensor' "
        "(as measured, after the device's calibration) or 'segment' (the sensor mounting "
        "undone first, by edge.mounting's rule). Absent in older bundles: 'sensor'",
    )
    body_inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Body inputs and how they are fed, e.g. {'height_m': 'input feature'}",
    )
    states: list[StateSpec] = Field(default_factory=list)
    outputs: dict[str, OutputGroup] = Field(
        description="Published groups: angles_deg, moments_bwbh, grf_bw, speed_m_s, ..."
    )
    quantization: QuantizationMode
    min_runtime: RuntimeRequirement = Field(default_factory=RuntimeRequirement)
    provenance: dict[str, object] = Field(default_factory=dict)
    metrics: dict[str, object] = Field(default_factory=dict)
    model_file: Literal["model.tflite"] = "model.tflite"
    model_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    @field_validator("version")
    @classmethod
    def _semver(cls, v: str) -> str:
        if not _SEMVER.match(v):
            raise ValueError(f"version {v!r} is not semantic (MAJOR.MINOR.PATCH)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        f = len(self.input_features)
        if self.input_tensor.shape != [1, f]:
            raise ValueError(
                f"input_tensor.shape {self.input_tensor.shape} != [1, {f}] (input_features)"
            )
        if len(self.normalisation.mean) != f:
            raise ValueError(
                f"normalisation has {len(self.normalisation.mean)} values for {f} features"
            )
        if len(set(self.input_features)) != f:
            raise ValueError("input_features has duplicates")
        return self
