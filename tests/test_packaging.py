"""Packaging: the `edge` install is what the Pi runs and nothing more, the README says so,
and installing prints no setuptools licence deprecation warnings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from edge.mqtt.local_broker import LocalBroker

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: What neither `sspinn-edge run` nor `simulate` may load: the workstation's packages.
NOT_ON_THE_PI = ("tensorflow", "keras", "scipy", "matplotlib", "train", "converters")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~; \[]", requirement, maxsplit=1)[0].lower()


def test_license_metadata_is_an_spdx_expression():
    """A licence table or a licence classifier makes setuptools >= 77 print pages of
    deprecation warnings before `make install` / `make demo` say anything."""
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]
    setuptools = next(r for r in PYPROJECT["build-system"]["requires"] if _name(r) == "setuptools")
    assert setuptools.replace(" ", "") == "setuptools>=77"


def test_the_pi_installs_no_scipy():
    pi = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    pi |= {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["edge"]}
    assert not pi & {"scipy", "tensorflow", "tensorflow-cpu", "matplotlib", "amqtt"}, pi
    assert "scipy" in {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["train"]}


def test_readme_lists_the_pi_dependencies():
    """The README's Pi line names exactly the base dependencies and the `edge` extra."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    line = readme.split("The Pi needs only the `edge` extra:", 1)[1].split("(no TensorFlow")[0]
    line = line.replace("on the Pi", "")
    listed = {w.strip(" ,.;:`").lower() for w in re.split(r"[,;]| and ", line)}
    listed.discard("")
    wanted = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    wanted |= {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["edge"]}
    assert listed == wanted


_LEAN = textwrap.dedent(
    """
    import json, sys
    from edge.cli import main
    broker, config = sys.argv[1], sys.argv[2]
    rc_sim = main(["simulate", "--recording", "P01_walking", "--duration", "1", "--fast",
                   "--broker", broker, "--device-id", "lean"])
    rc_run = main(["run", "--config", config, "--validate-config"])
    # what `run` goes on to import after the checks (it needs a real I2C bus to go on)
    import edge.daemon, firmware_bridge.bus, firmware_bridge.sensor_map  # noqa: F401
    print(json.dumps({"simulate": rc_sim, "run": rc_run,
                      "loaded": sorted(m for m in sys.argv[3:] if m in sys.modules)}))
    """
)


def test_sspinn_edge_run_and_simulate_load_nothing_of_the_workstation(
    mosquitto: LocalBroker, tmp_path: Path
) -> None:
    bundle = ROOT / "edge" / "models" / "default.sspinn"
    shutil.copyfile(bundle, tmp_path / "current.sspinn")
    config = (ROOT / "edge" / "config.example.toml").read_text()
    config = config.replace('"models/current.sspinn"', f'"{tmp_path / "current.sspinn"}"')
    config = config.replace('dir = "recordings"', f'dir = "{tmp_path / "recordings"}"')
    (tmp_path / "edge.toml").write_text(config)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _LEAN,
            mosquitto.address,
            str(tmp_path / "edge.toml"),
            *NOT_ON_THE_PI,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["simulate"] == 0, done.stderr
    assert out["run"] == 0, done.stdout + done.stderr
    assert out["loaded"] == [], f"the Pi's commands loaded {out['loaded']}"


_DEMO = textwrap.dedent(
    """
    import json, sys
    from dashboard.demo import main
    rc = main(["--seconds", "1", "--port", "0"])
    print(json.dumps({"rc": rc, "loaded": sorted(m for m in sys.argv[1:] if m in sys.modules)}))
    """
)


def test_the_demo_says_its_own_first_line_and_loads_no_tensorflow(tmp_path: Path) -> None:
    """`make demo` (python -m dashboard.demo): its first output line is its own, no
    warning comes before it (all warnings shown: -W default), and the demo process loads
    nothing of the workstation (the simulator it starts is the lean `sspinn-edge`)."""
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", _DEMO, *NOT_ON_THE_PI, "absl", "google.protobuf"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[0].startswith("SSPINNpose demo: starting"), lines[:5]
    assert "warning" not in done.stderr.lower(), done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["rc"] == 0 and out["loaded"] == [], out
