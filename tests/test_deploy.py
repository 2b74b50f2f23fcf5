"""Raspberry Pi deployment files: the systemd unit and the install script."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.config import validate_config_text

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "edge" / "systemd" / "sspinn-edge.service"
INSTALL = ROOT / "scripts" / "install_pi.sh"


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


def test_install_script_is_valid_bash_and_its_config_validates():
    assert subprocess.run(["bash", "-n", str(INSTALL)]).returncode == 0
    # The script's edit of the example config must still validate.
    text = (ROOT / "edge" / "config.example.toml").read_text()
    text = text.replace('dir = "recordings"', 'dir = "/var/lib/sspinn/recordings"')
    text = text.replace(
        'bundle = "models/current.sspinn"', 'bundle = "/var/lib/sspinn/models/current.sspinn"'
    )
    assert "/var/lib/sspinn/recordings" in text and "/var/lib/sspinn/models" in text
    cfg = validate_config_text(text, "edge.toml", check_files=False)
    assert str(cfg.recorder.dir) == "/var/lib/sspinn/recordings"
    assert str(cfg.model.bundle) == "/var/lib/sspinn/models/current.sspinn"
