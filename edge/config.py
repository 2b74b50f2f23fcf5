"""The edge daemon's configuration: pydantic models loaded from a TOML file.

Every section forbids unknown keys, so a typo (``prot = 1883``) is an error naming the
key, not a silently ignored setting. Relative paths are resolved against the config
file's folder. :func:`load_config` raises :class:`ConfigError`, whose message names the
file and each offending key path, e.g. ``mqtt.port: Input should be less than 65536``.

``sspinn-edge run --validate-config`` loads it with :func:`load_config`, then runs every
start-up check (:mod:`edge.daemon.preflight`).
"""

from __future__ import annotations

import difflib
import logging
import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge.mounting.device import MountingConfig
from edge.mqtt.broker_address import check_host_setting, split_host_setting
from edge.mqtt.command_settings import CommandsConfig, decode_public_key
from edge.mqtt.publish_settings import PublishFields
from edge.recording.schema import Participant

log = logging.getLogger(__name__)

#: Device ids become MQTT topic levels and file names: keep them plain.
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"


class ConfigError(ValueError):
    """A configuration that cannot be used as it is.

    Attributes:
        path: the config file (or ``<text>`` for a string).
        problems: ``(key path, reason)`` pairs, e.g. ``("mqtt.port", "Input should be ...")``;
            the key path is empty for file-level problems (missing file, TOML syntax).
    """

    def __init__(self, path: str | Path, problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = [f"{key}: {reason}" if key else reason for key, reason in problems]
        if len(lines) == 1:
            text = f"{self.path}: {lines[0]}"
        else:
            text = f"{self.path}: {len(lines)} problems\n" + "\n".join(f"  {x}" for x in lines)
        super().__init__(text)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    """Expand ``~`` and resolve a relative path against the config file's folder."""
    if path is None:
        return None
    path = path.expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


def _existing_file(path: Path | None, info: ValidationInfo) -> Path | None:
    path = _resolve(path, info)
    if path is not None and (info.context or {}).get("check_files", True) and not path.is_file():
        raise ValueError(f"file not found: {path}")
    return path


class DeviceConfig(_Section):
    """Which device this is: its id names MQTT topics and recording files."""

    id: Annotated[
        str,
        Field(
            pattern=DEVICE_ID_PATTERN,
            min_length=1,
            max_length=64,
            title="Device id",
            description="Letters, digits, '_' and '-' only (an MQTT topic level and a file name)",
        ),
    ]
    name: str | None = Field(
        default=None, max_length=100, description="Friendly name (dashboards, Home Assistant)"
    )


class TlsConfig(_Section):
    """TLS to the broker. An empty ``[mqtt.tls]`` table means TLS with the system CAs."""

    ca_file: Path | None = Field(default=None, description="CA bundle (PEM); None: system CAs")
    cert_file: Path | None = Field(default=None, description="Client certificate (PEM)")
    key_file: Path | None = Field(default=None, description="Client private key (PEM)")
    insecure: bool = Field(
        default=False, description="Skip the broker hostname check (testing only, never in field)"
    )

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _files(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _existing_file(value, info)

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class OfflineQueueConfig(_Section):
    """What the MQTT link keeps while the broker is unreachable (see docs/mqtt.md)."""

    max_messages: int = Field(
        default=2000,
        ge=1,
        le=1_000_000,
        description="Messages held while offline (estimates, health and command results)",
    )
    policy: Literal["drop_oldest", "drop_newest"] = Field(
        default="drop_oldest",
        description="Which estimate/health message to drop when full; results are dropped last",
    )


class ReconnectConfig(_Section):
    """Exponential reconnect back-off (s): min_s, doubling up to max_s."""

    min_s: float = Field(default=1.0, gt=0.0, le=60.0, description="First retry delay (s)")
    max_s: float = Field(
        default=2.0,
        gt=0.0,
        le=3600.0,
        description="Longest retry delay (s): the worst wait after the broker or WiFi comes "
        "back (2 s: estimates resume within a few seconds of an outage's end)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectConfig:
        if self.max_s < self.min_s:
            raise ValueError(f"max_s ({self.max_s}) must be >= min_s ({self.min_s})")
        return self


class MqttConfig(PublishFields, _Section):
    """The broker and how estimates are published to dashboards (the publish fields
    ``publish_rate_hz``, ``decimation``, ``batch_size`` are :class:`PublishFields`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = Field(
        default="localhost",
        min_length=1,
        description="Broker host name or IP (or mqtt://host:port, mqtts://host:port)",
    )
    port: int = Field(default=1883, gt=0, lt=65536, description="Broker TCP port")
    client_id: str | None = Field(
        default=None, max_length=64, description="MQTT client id; default 'sspinn-<device id>'"
    )
    topic_prefix: str = Field(
        default="sspinn",
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="Topics are '<topic_prefix>/<device id>/...'",
    )
    tls: TlsConfig | None = Field(default=None, description="TLS settings; omit for plain TCP")
    username: str | None = Field(default=None, min_length=1)
    password: SecretStr | None = Field(default=None, description="Prefer password_file")
    password_file: Path | None = Field(
        default=None, description="File whose first line is the password (keeps it out of here)"
    )
    keepalive_s: int = Field(
        default=15, ge=5, le=600, description="MQTT keepalive (s); a dead link shows after 1.5x"
    )
    qos_estimate: Literal[0, 1] = Field(default=0, description="QoS of estimate messages")
    # publish_rate_hz, decimation, batch_size: from PublishFields (edge.mqtt.publish_settings)
    health_interval_s: float = Field(default=5.0, ge=0.5, le=3600.0, description="Health period")
    offline_queue: OfflineQueueConfig = Field(default_factory=OfflineQueueConfig)
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig)
    home_assistant_discovery: bool = Field(
        default=False, description="Publish Home Assistant MQTT discovery configs on connect"
    )
    discovery_prefix: str = Field(
        default="homeassistant", pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"
    )

    @model_validator(mode="before")
    @classmethod
    def _address_forms(cls, data: Any) -> Any:
        """``host`` may be ``mqtt://h:p``, ``mqtts://h`` or ``h:p``: split into the keys."""
        return split_host_setting(data) if isinstance(data, dict) else data

    @field_validator("host")
    @classmethod
    def _plain_host(cls, value: str) -> str:
        return check_host_setting(value)

    @field_validator("password_file")
    @classmethod
    def _pw_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _existing_file(value, info)

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if (self.password is not None or self.password_file is not None) and not self.username:
            raise ValueError("a password needs a username")
        return self

    def resolved_password(self) -> str | None:
        """The password (read from ``password_file`` if given), or None."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            text = self.password_file.read_text(encoding="utf-8")
            return text.splitlines()[0] if text else ""
        return None


class RecorderConfig(_Section):
    """The raw recorder: every sample, in closed segments (see docs/recorder.md)."""

    dir: Path = Field(default=Path("recordings"), description="Where sessions are written")
    segment_s: float = Field(default=60.0, ge=1.0, le=3600.0, description="Segment length (s)")
    min_free_mb: float = Field(
        default=200.0, ge=0.0, description="Stop recording below this much free disk (MB)"
    )
    enabled_at_start: bool = Field(default=False, description="Start recording at daemon start")
    flush_interval_s: float = Field(
        default=1.0, ge=0.01, le=10.0, description="Hand samples to the OS this often (s)"
    )
    fsync_interval_s: float = Field(
        default=5.0, ge=0.0, le=300.0, description="Force them to the card this often (s)"
    )

    @field_validator("dir")
    @classmethod
    def _dir(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)  # type: ignore[return-value]


class SamplingConfig(_Section):
    """The IMU sample rate and how the samples are acquired (docs/acquisition.md)."""

    rate_hz: float = Field(default=100.0, ge=25.0, le=400.0, description="Sample rate (Hz)")
    mode: Literal["fifo", "polled"] = Field(
        default="fifo", description="fifo: chips' own clocks, FIFOs drained; polled: per sample"
    )
    drain_interval_ms: float = Field(
        default=4.0, ge=1.0, le=50.0, description="FIFO mode: drain period (ms), adds latency"
    )


class ModelConfig(_Section):
    """The model bundle and which signers the device trusts."""

    bundle: Path | None = Field(
        default=None, description="Model bundle (*.sspinn); None: record only, no estimates"
    )
    trusted_keys: list[str] = Field(
        default_factory=list, description="Ed25519 public keys (hex or base64) of bundle signers"
    )
    require_signature: bool = Field(
        default=False,
        description="Refuse unsigned bundles (with any trusted_keys they are refused anyway)",
    )
    factory_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="sha256 of the factory bundle file (written by the installer): that "
        "exact file is trusted, signed or not; every other bundle follows the key rules",
    )

    @field_validator("bundle")
    @classmethod
    def _bundle(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @field_validator("trusted_keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            decode_public_key(key)
        return keys

    @model_validator(mode="after")
    def _signature_needs_keys(self) -> ModelConfig:
        if self.require_signature and not self.trusted_keys and not self.factory_sha256:
            raise ValueError(
                "require_signature = true needs at least one trusted_keys entry "
                "(or a factory_sha256 pin)"
            )
        return self

    @property
    def pinned_sha256(self) -> list[str]:
        """Bundle files trusted by their hash (the factory bundle), lower-case hex."""
        return [self.factory_sha256.lower()] if self.factory_sha256 else []

    def trusted_key_bytes(self) -> list[bytes]:
        """The trusted keys as 32-byte raw Ed25519 public keys."""
        return [decode_public_key(k) for k in self.trusted_keys]


class GpioConfig(_Section):
    """Optional buttons, LED and multiplexer reset line (BCM pin numbers; docs/acquisition.md)."""

    record_button: int | None = Field(default=None, ge=0, le=27, description="Record start/stop")
    calibrate_button: int | None = Field(default=None, ge=0, le=27)
    status_led: int | None = Field(default=None, ge=0, le=27, description="ok/recording/fault")
    mux_reset: int | None = Field(
        default=None, ge=0, le=27, description="TCA9548A RESET (active low): frees a locked bus"
    )
    button_hold_s: float = Field(
        default=1.0, ge=0.05, le=10.0, description="Hold time that counts as a press (gloves)"
    )

    @model_validator(mode="after")
    def _distinct(self) -> GpioConfig:
        given = (self.record_button, self.calibrate_button, self.status_led, self.mux_reset)
        pins = [p for p in given if p is not None]
        if len(pins) != len(set(pins)):
            raise ValueError(f"pins must be distinct, got {pins}")
        if i2c := sorted(set(pins) & {2, 3}):
            raise ValueError(f"GPIO{i2c[0]} is the I2C bus (GPIO2 SDA, GPIO3 SCL): use another pin")
        return self


class DaemonConfig(_Section):
    """Everything ``sspinn-edge run`` needs."""

    model_config = ConfigDict(extra="forbid", title="SSPINNpose edge daemon")

    device: DeviceConfig
    participant: Participant = Field(
        description="Who wears the sensors (height and mass feed the model and the recordings)"
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    recorder: RecorderConfig = Field(default_factory=RecorderConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    sensors: dict[str, Any] = Field(
        default_factory=dict,
        description="Sensor map (bus, multiplexer channel, address, chip, segment); "
        "validated by firmware_bridge's sensor map",
    )
    gpio: GpioConfig = Field(default_factory=GpioConfig)
    mounting: MountingConfig = Field(default_factory=MountingConfig)
    commands: CommandsConfig = Field(
        default_factory=CommandsConfig, description="Signed commands (off by default)"
    )

    @model_validator(mode="after")
    def _rates(self) -> DaemonConfig:
        rate = self.mqtt.publish_rate_hz
        if rate is not None and rate > self.sampling.rate_hz:
            raise ValueError(
                f"mqtt.publish_rate_hz ({rate:g}) must not exceed sampling.rate_hz "
                f"({self.sampling.rate_hz:g})"
            )
        return self

    @property
    def publish_rate_hz(self) -> float:
        """Estimate frames per second sent to dashboards."""
        return self.mqtt.effective_rate_hz(self.sampling.rate_hz)


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that holds the last element of ``loc`` (for suggestions)."""
    model: type[BaseModel] | None = DaemonConfig
    for part in loc[:-1]:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return model


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            model = _model_at(loc)
            if model is not None:
                close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
                msg += (
                    f" (did you mean {close[0]!r}?)"
                    if close
                    else (f" (known keys: {', '.join(model.model_fields)})")
                )
        elif err["type"] == "missing":
            msg = "required key is missing"
        out.append((key, msg))
    return out


def validate_config_data(
    data: dict[str, Any],
    source: str | Path = "<data>",
    *,
    base_dir: Path | None = None,
    check_files: bool = True,
) -> DaemonConfig:
    """Validate an already-parsed config table.

    Args:
        data: the TOML document as a dict.
        source: named in errors.
        base_dir: folder that relative paths are resolved against (None: leave them).
        check_files: check that TLS and password files exist.

    Raises:
        ConfigError: naming ``source`` and each offending key path.
    """
    try:
        return DaemonConfig.model_validate(
            data, context={"base_dir": base_dir, "check_files": check_files}
        )
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from exc


def validate_config_text(
    text: str,
    source: str | Path = "<text>",
    *,
    base_dir: Path | None = None,
    check_files: bool = True,
) -> DaemonConfig:
    """Parse and validate TOML text; raises :class:`ConfigError` (TOML syntax errors name
    the line and column)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [("", f"not valid TOML: {exc}")]) from exc
    _reject_non_finite(data, source)
    return validate_config_data(data, source, base_dir=base_dir, check_files=check_files)


def _reject_non_finite(data: Any, source: str | Path, key: str = "") -> None:
    """TOML allows ``inf`` and ``nan``; no setting here means either."""
    if isinstance(data, dict):
        for k, v in data.items():
            _reject_non_finite(v, source, f"{key}.{k}" if key else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _reject_non_finite(v, source, f"{key}.{i}")
    elif isinstance(data, float) and not math.isfinite(data):
        raise ConfigError(source, [(key, f"must be a finite number, got {data}")])


def load_config(path: str | Path, *, check_files: bool = True) -> DaemonConfig:
    """Load and validate the daemon config from a TOML file.

    Relative paths in the file are resolved against the file's folder.

    Raises:
        ConfigError: missing/unreadable file, TOML syntax, or invalid values, naming the
            file and the offending key path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(path, [("", "config file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("", f"cannot read the config file: {exc}")]) from exc
    return validate_config_text(text, path, base_dir=path.resolve().parent, check_files=check_files)
