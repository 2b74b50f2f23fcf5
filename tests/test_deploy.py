"""Raspberry Pi deployment files: the systemd unit and the install script."""

from __future__ import annotations

import configparser
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from daemon_helpers import Watcher

from edge.bundle import build_bundle, read_bundle
from edge.config import load_config

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "edge" / "systemd" / "sspinn-edge.service"
INSTALL = ROOT / "scripts" / "install_pi.sh"
PI_CONFIG = ROOT / "scripts" / "pi_config.sh"
SHIPPED = ROOT / "edge" / "models" / "default.sspinn"
EDGE = [sys.executable, "-m", "edge.cli"]
LITERT_INFO = "INFO: Created TensorFlow Lite XNNPACK delegate"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keep key case
    parser.read(UNIT)
    return parser


def test_unit_runs_unprivileged_with_restart_and_journal():
    unit = _unit()
    svc = unit["Service"]
    assert svc["User"] == "sspinn"
    assert set(svc["SupplementaryGroups"].split()) == {"i2c", "gpio"}
    assert svc["Restart"] == "on-failure"
    assert svc["StandardOutput"] == "journal"
    assert "sspinn-edge run --config /etc/sspinn/edge.toml" in svc["ExecStart"]
    assert "--validate-config" in svc["ExecStartPre"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert unit["Unit"]["StartLimitBurst"] == "10"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_has_no_unknown_keys():
    out = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True)
    problems = [
        line
        for line in (out.stdout + out.stderr).splitlines()
        if line.strip() and "is not executable" not in line and "No such file" not in line
    ]
    assert problems == []


def _installed_config(tmp_path: Path, bundle: Path = SHIPPED) -> tuple[Path, str]:
    """What install_pi.sh writes, under ``tmp_path/data`` instead of /var/lib/sspinn:
    the example config (paths moved, require_signature = true) and the factory bundle
    at models/current.sspinn, pinned by its sha256."""
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    shutil.copyfile(bundle, data / "models" / "current.sspinn")
    config = tmp_path / "edge.toml"
    run = [
        [
            "bash",
            str(PI_CONFIG),
            "write",
            str(ROOT / "edge" / "config.example.toml"),
            str(config),
            str(data),
        ],
        ["bash", str(PI_CONFIG), "pin", str(config), str(bundle)],
    ]
    outs = [subprocess.run(cmd, capture_output=True, text=True, check=True).stdout for cmd in run]
    return config, outs[1].strip()


def test_install_script_is_valid_bash_and_calls_the_tested_config_steps():
    for script in (INSTALL, PI_CONFIG):
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = INSTALL.read_text()
    assert 'pi_config.sh" write' in text and 'pi_config.sh" pin' in text
    assert "--validate-config" in text and "runuser -u sspinn" in text


def test_the_installed_config_pins_the_factory_bundle_and_validates(tmp_path):
    config, sha = _installed_config(tmp_path)
    assert sha == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    cfg = load_config(config)
    assert str(cfg.recorder.dir) == str(tmp_path / "data" / "recordings")
    assert cfg.model.bundle == tmp_path / "data" / "models" / "current.sspinn"
    assert cfg.model.require_signature is True and cfg.model.trusted_keys == []
    assert cfg.model.factory_sha256 == sha
    assert not read_bundle(SHIPPED).is_signed  # runs by its pin, not by a signature
    out = subprocess.run(
        [*EDGE, "run", "--config", str(config), "--validate-config"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith(f"OK: {config}")
    # Pinning again replaces the pin (a re-install with another --bundle), never adds one.
    other = tmp_path / "other.sspinn"
    other.write_bytes(b"another bundle")
    subprocess.run(["bash", str(PI_CONFIG), "pin", str(config), str(other)], check=True)
    pins = [ln for ln in config.read_text().splitlines() if ln.startswith("factory_sha256")]
    assert pins == [f'factory_sha256 = "{hashlib.sha256(b"another bundle").hexdigest()}"']


def _validate(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*EDGE, "run", "--config", str(config), "--validate-config"], capture_output=True, text=True
    )


def _one_line_refusal(out: subprocess.CompletedProcess, setting: str, *words: str) -> str:
    assert out.returncode == 2, out.stdout + out.stderr
    # LiteRT's native library prints this line itself when a model loads.
    lines = [
        line
        for line in (out.stdout + out.stderr).splitlines()
        if line.strip() and not line.startswith(LITERT_INFO)
    ]
    text = "\n".join(lines)
    assert "Traceback" not in text
    assert len(lines) == 1, text
    assert f": {setting}: " in text, text
    for word in words:
        assert word in text, text
    return text


def test_validate_config_checks_what_start_up_checks(tmp_path):
    config, _ = _installed_config(tmp_path)
    text = config.read_text()
    # Another unsigned bundle where the factory one was: refused by the trust policy.
    shipped = read_bundle(SHIPPED)
    other = build_bundle(
        shipped.manifest.model_copy(update={"version": "0.1.1"}), shipped.model_bytes
    )
    current = tmp_path / "data" / "models" / "current.sspinn"
    current.write_bytes(other)
    _one_line_refusal(_validate(config), "model.bundle", "unsigned")
    current.write_bytes(SHIPPED.read_bytes())
    assert _validate(config).returncode == 0

    # A recorder folder that cannot be created (its parent is a file: fails even as root).
    (tmp_path / "a-file").write_text("x")
    bad_dir = text.replace(
        f'dir = "{tmp_path}/data/recordings"', f'dir = "{tmp_path}/a-file/recordings"'
    )
    assert bad_dir != text
    config.write_text(bad_dir)
    _one_line_refusal(_validate(config), "recorder.dir", "a-file", "not a folder")

    # A CA file that is not PEM.
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    config.write_text(
        text.replace(
            "[mqtt.offline_queue]", '[mqtt.tls]\nca_file = "ca.pem"\n\n[mqtt.offline_queue]'
        )
    )
    _one_line_refusal(_validate(config), "mqtt.tls.ca_file", "ca.pem", "PEM")


@pytest.mark.parametrize("problem", ["recorder", "ca"])
def test_run_refuses_to_start_with_one_line_and_exit_2(tmp_path, problem):
    config, _ = _installed_config(tmp_path)
    text = config.read_text()
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n")
    if problem == "recorder":
        text = text.replace(f"{tmp_path}/data/recordings", f"{tmp_path}/a-file/rec")
        setting = "recorder.dir"
    else:
        text = text.replace(
            "[mqtt.offline_queue]", '[mqtt.tls]\nca_file = "ca.pem"\n\n[mqtt.offline_queue]'
        )
        setting = "mqtt.tls.ca_file"
    config.write_text(text)
    out = subprocess.run(
        [*EDGE, "run", "--config", str(config), "--duration", "1"], capture_output=True, text=True
    )
    _one_line_refusal(out, setting)


def _pointed_at(config: Path, broker) -> Path:
    """The installed config with only its broker changed (as a user edits it)."""
    text = config.read_text()
    assert 'host = "localhost"' in text and "port = 1883" in text
    text = text.replace('host = "localhost"', f'host = "{broker.host}"')
    config.write_text(text.replace("port = 1883", f"port = {broker.port}"))
    return config


@pytest.mark.slow
def test_the_installed_config_gets_estimates_from_the_shipped_bundle(tmp_path, mosquitto):
    """`sspinn-edge run --config FILE --simulate RECORDING`: the config the installer
    writes, with only the broker changed, runs the factory bundle (pinned) on the emulated
    bus through the same daemon construction as `run`: estimates arrive over MQTT."""
    config, _ = _installed_config(tmp_path)
    _pointed_at(config, mosquitto)
    cfg = load_config(config)
    watcher = Watcher(mosquitto, cfg.device.id)
    try:
        assert watcher.subscribed.wait(10)
        out = subprocess.run(
            [*EDGE, "run", "--config", str(config), "--simulate", "bundled:P01_walking",
             "--duration", "8"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        stats = json.loads(out.stdout.splitlines()[-1])
        # Every sample the loop took (FIFO mode, the installed default) was estimated
        # and published at the config's publish rate (20 frames/s of 100 samples/s) in
        # batches of 2.
        watcher.wait_count("estimate", 1, timeout=10)
        frames = watcher.frames()
        assert stats["mode"] == "fifo" and stats["samples"] >= 400, stats
        assert len(frames) >= stats["samples"] // 5 - 2, (len(frames), stats["samples"])
        assert frames[0]["seq"] == 0 and np.all(np.diff([f["seq"] for f in frames]) > 0)
        assert all(np.isfinite(f["angles_deg"]["knee_angle_r"]) for f in frames)
        meta = json.loads(watcher.wait_for("meta"))
        assert meta["device"] == cfg.device.id and meta["batch_size"] == 2
    finally:
        watcher.close()


def test_run_simulate_refuses_an_unknown_recording_in_one_line(tmp_path):
    config, _ = _installed_config(tmp_path)
    out = subprocess.run(
        [*EDGE, "run", "--config", str(config), "--simulate", "bundled:no_such_walk"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("error: --simulate: ") and len(out.stderr.splitlines()) == 1
    assert "no_such_walk" in out.stderr
