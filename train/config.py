"""Training configuration (TOML or JSON file → typed model; unknown keys are errors)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from train.model.network import NetworkConfig

if TYPE_CHECKING:
    from train.physics.contact import ContactConsistencyParameters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Where the (unlabelled) training windows come from."""

    rate_hz: float = Field(100.0, gt=10, le=400, description="Model sample rate")
    window: int = Field(256, ge=32, le=4096, description="Steps per training window")
    stride: int = Field(32, ge=1, description="Steps between window starts")
    batch_size: int = Field(32, ge=1, le=1024)
    real_recordings: list[str] = Field(
        default_factory=lambda: ["bundled:P01_walking", "bundled:P01_running"],
        description="Recording CSVs ('bundled:NAME' for a shipped one); truth columns are dropped",
    )
    real_cycles: int = Field(60, ge=4, description="Cycles tiled per real mean-cycle file")
    synthetic_minutes: float = Field(
        0.0, ge=0, description="Minutes of synthetic IMU data (labels unused); 0 disables"
    )
    synthetic_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of windows drawn from synthetic data when present"
    )
    time_warp: float = Field(0.02, ge=0, le=0.2, description="Stride-to-stride duration jitter (±)")
    amplitude_jitter: float = Field(0.02, ge=0, le=0.2, description="Per-cycle amplitude (±)")
    undo_mounting: bool = Field(
        False,
        description="Turn every recording into segment axes before windowing (the sidecar's "
        "calibration, else the functional estimate from the gait; docs/calibration.md): the "
        "model then expects segment-axis input. Off for the shipped model so far",
    )
    acc_noise: float = Field(0.05, ge=0, description="m/s², white noise added to accelerometers")
    gyr_noise: float = Field(0.01, ge=0, description="rad/s, white noise added to gyroscopes")


class LossWeights(_Strict):
    """Weights of the self-supervised terms (0 removes a term).

    Each term is dimensionless (see ``train/losses.py``); a weight of 1/e² makes an
    error of e cost 1.
    """

    imu_acc: float = 100.0
    imu_gyr: float = 10.0
    eom: float = 100.0
    temporal_q: float = 100.0
    temporal_qd: float = 30.0
    negative_normal: float = 10.0
    off_ground: float = 10.0
    sliding: float = 10.0
    friction_cone: float = 10.0
    penetration: float = 10.0
    effort: float = 1.0
    joint_range: float = 10.0
    speed: float = 10.0
    gyro_no_slip: float = Field(
        0.0,
        description="No-slip of the loaded points with the gyroscope-measured segment rates: "
        "pins the forward speed (train.physics.contact.gyro_no_slip_term); 0 disables",
    )


class OptimConfig(_Strict):
    learning_rate: float = Field(2e-3, gt=0)
    final_learning_rate: float = Field(1e-4, gt=0)
    clip_norm: float = Field(1.0, gt=0)
    steps: int = Field(3000, ge=1)
    physics_warmup_steps: int = Field(
        300, ge=0, description="Steps over which the dynamics terms ramp in from 0"
    )


class ContactConfig(_Strict):
    """How the contact terms read the foot (``train.physics.contact``, docs/physics.md)."""

    compliance_m_per_bw: float = Field(
        0.0, ge=0, le=0.05, description="m/BW a loaded point may press into the ground"
    )
    touchdown_band_m: float = Field(
        0.0, ge=0, le=0.05, description="m above ground where a point may start to take load"
    )

    def parameters(self) -> ContactConsistencyParameters:
        """The scales for ``contact_consistency_terms`` (imports TensorFlow)."""
        from train.physics.contact import ContactConsistencyParameters

        return ContactConsistencyParameters(
            compliance_m_per_bw=self.compliance_m_per_bw,
            touchdown_band_m=self.touchdown_band_m,
        )


class StreamConfig(_Strict):
    """Windows streamed from a binary shard cache (TFRecord) instead of held in memory.

    Off by default: the default model trains from in-memory windows. On, the recordings
    (``data.real_recordings``: files, ``bundled:NAME``, folders of CSVs or recorder
    sessions) and the synthetic data are written once into ``cache_dir`` (one shard per
    recording, keyed by its content hash and the processing settings) and read back
    with interleave and a shuffle buffer (``train.data.shards``, docs/training.md).
    """

    enabled: bool = False
    cache_dir: str = Field(
        "shard_cache", description="Folder of the shard cache (shared by runs and workers)"
    )
    shuffle_buffer: int = Field(
        0,
        ge=0,
        description="Windows held for shuffling; 0 = all windows of a source (the in-memory "
        "path's exact order, memory as the in-memory path)",
    )
    interleave: int = Field(
        4, ge=1, le=64, description="Shards read at once when shuffle_buffer > 0"
    )
    windows_per_record: int = Field(
        64, ge=1, le=4096, description="Consecutive windows per TFRecord record"
    )


class DistributeConfig(_Strict):
    """Which ``tf.distribute`` strategy runs the training step (docs/training.md)."""

    strategy: Literal["default", "mirrored", "multi_worker"] = Field(
        "default",
        description="default: one device; mirrored: the GPUs of one machine; multi_worker: "
        "several machines (TF_CONFIG). data.batch_size is the global batch",
    )
    shard_policy: Literal["data", "file"] = Field(
        "data",
        description="multi_worker input: 'data' (every worker reads all data, keeps its "
        "part of each global batch: the single-process result) or 'file' (every worker "
        "reads its own shards; needs stream.enabled and at least one shard per worker)",
    )


class TrainConfig(_Strict):
    """Everything ``sspinn-train`` needs; saved with every checkpoint."""

    name: str = Field("default", pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    losses: LossWeights = Field(default_factory=LossWeights)
    contact: ContactConfig = Field(default_factory=ContactConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    distribute: DistributeConfig = Field(default_factory=DistributeConfig)
    burn_in: int = Field(32, ge=0, description="Initial steps of each window left out of the loss")
    dtype: Literal["float32"] = "float32"
    log_every: int = Field(25, ge=1)
    checkpoint_every: int = Field(250, ge=1)


class ConfigError(ValueError):
    """A training config that cannot be used; names the file and the key."""


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a TOML (``.toml``) or JSON config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: " + "; ".join(lines)) from exc
