"""What start-up needs, checked before anything starts: one line per problem, naming the
setting, never a traceback.

``sspinn-edge run --validate-config`` (also the systemd unit's ``ExecStartPre``) runs
every check; ``sspinn-edge run`` runs them too before it opens the bus (the model is then
checked by the daemon itself, which loads it). Checks:

- ``sensors``: the sensor map validates (firmware_bridge's rules);
- ``model.bundle``: the bundle loads under the device's trust policy (signatures, the
  pinned factory bundle), fits the sensors and the sampling rate, and passes the self-test;
- ``recorder.dir``: the folder exists and a file can be created in it, or it can be
  created (its nearest existing parent is a writable folder);
- ``mqtt.tls.*``: the CA file is readable PEM, the client certificate and key load;
  ``mqtt.password_file`` is readable.

The broker address (``mqtt.host``, ``mqtt.port``, ``mqtt://`` forms) is checked by the
config itself (:mod:`edge.config`).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from pydantic import ValidationError

from edge.config import ConfigError, DaemonConfig, load_config
from firmware_bridge.sensor_map import SensorMap

Problem = tuple[str, str]


def _oneline(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):  # the messages, without pydantic's links
        text = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
    else:
        text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def check_recorder_dir(path: Path) -> str | None:
    """Why recordings cannot be written under ``path``, or None."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{path} cannot be created: {probe} is not a folder"
    if probe != path:
        if not os.access(probe, os.W_OK | os.X_OK):
            return f"{path} cannot be created: {probe} is not writable by this user"
        return None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".sspinn-write-test-"):
            pass
    except OSError as exc:
        return f"{path} is not writable by this user ({exc.strerror or exc})"
    return None


def check_tls(cfg: DaemonConfig) -> list[Problem]:
    """The TLS files load as the MQTT link will load them."""
    tls = cfg.mqtt.tls
    if tls is None:
        return []
    problems: list[Problem] = []
    if tls.ca_file is not None:
        try:
            ssl.create_default_context(cafile=str(tls.ca_file))
        except (OSError, ssl.SSLError, ValueError) as exc:
            reason = f"{tls.ca_file} is not a readable PEM CA file ({_oneline(exc)})"
            problems.append(("mqtt.tls.ca_file", reason))
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        except (OSError, ssl.SSLError, ValueError) as exc:
            problems.append(
                (
                    "mqtt.tls.cert_file",
                    f"{tls.cert_file} / {tls.key_file}: certificate and key do not load "
                    f"({_oneline(exc)})",
                )
            )
    return problems


def check_mqtt(cfg: DaemonConfig) -> list[Problem]:
    """TLS files, and the password file (read as the link reads it)."""
    problems = check_tls(cfg)
    if cfg.mqtt.password_file is not None:
        try:
            cfg.mqtt.resolved_password()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(("mqtt.password_file", f"cannot read it: {_oneline(exc)}"))
    return problems


def check_model(cfg: DaemonConfig, sensor_map: SensorMap) -> list[Problem]:
    """Load the bundle as start-up does (trust policy, sensors, rate, self-test)."""
    from edge.bundle import BundleError
    from edge.daemon.model_slot import ModelSlot

    path = cfg.model.bundle
    if path is None:
        return []
    slot = ModelSlot.from_config(cfg, sensor_map)
    try:
        slot.load(path)
    except BundleError as exc:
        return [("model.bundle", _oneline(exc))]
    except (OSError, ValueError, RuntimeError) as exc:
        return [("model.bundle", f"{path} cannot be loaded: {_oneline(exc)}")]
    return []


def preflight(cfg: DaemonConfig, *, model: bool = True, sensors: bool = True) -> list[Problem]:
    """Every problem start-up would hit, as ``(setting, reason)`` one-liners."""
    problems: list[Problem] = []
    sensor_map = None
    if sensors or model:
        try:
            sensor_map = SensorMap.model_validate(cfg.sensors)
        except ValueError as exc:
            if sensors:
                problems.append(("sensors", _oneline(exc)))
    reason = check_recorder_dir(cfg.recorder.dir)
    if reason:
        problems.append(("recorder.dir", reason))
    problems += check_mqtt(cfg)
    if model and sensor_map is not None:
        problems += check_model(cfg, sensor_map)
    return problems


def preflight_cli(path: str | Path, *, startup: bool = True) -> int:
    """``sspinn-edge run --validate-config``: the config file, then (with ``startup``)
    every start-up check.

    Prints ``OK ...`` (exit 0) or the problems, one line each, ``config error: FILE:
    SETTING: REASON`` (exit 2).
    """
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        print(f"config error: {exc}")
        return 2
    problems = preflight(cfg) if startup else []
    for key, reason in problems:
        print(f"config error: {path}: {key}: {reason}")
    if problems:
        return 2
    model = cfg.model.bundle.name if cfg.model.bundle else "none"
    print(
        f"OK: {path} (device {cfg.device.id}, broker {cfg.mqtt.host}:{cfg.mqtt.port}, "
        f"{cfg.sampling.rate_hz:g} Hz, publishing {cfg.publish_rate_hz:g} frames/s, "
        f"model {model}, recordings in {cfg.recorder.dir})"
    )
    return 0
