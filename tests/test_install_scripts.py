"""The install scripts: what the docs tell users to run is what they install
(apt-get and sudo replaced by stubs that only log; nothing is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Tools the scripts need besides the stubs.
TOOLS = ("bash", "dirname", "id", "cat")


def _stub_path(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH holding only the tools and stubs: ``apt-get`` logs its arguments and, for
    ``install``, creates the named packages' commands; ``sudo`` runs its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    for tool in TOOLS:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} not installed")
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "apt-get").write_text(
        "#!/bin/bash\n"
        f'echo "$*" >> {log}\n'
        'for a in "$@"; do case "$a" in\n'
        f"  mosquitto) printf '#!/bin/bash\\n' > {bin_dir}/mosquitto ;;\n"
        f"  mosquitto-clients) printf '#!/bin/bash\\n' > {bin_dir}/mosquitto_sub ;;\n"
        "esac; done\n"
        f"chmod +x {bin_dir}/mosquitto* 2>/dev/null || true\n"
    )
    (bin_dir / "sudo").write_text('#!/bin/bash\nexec "$@"\n')
    (bin_dir / "chmod").symlink_to(shutil.which("chmod") or "/bin/chmod")
    for stub in ("apt-get", "sudo"):
        (bin_dir / stub).chmod(0o755)
    return bin_dir, log


def test_ensure_mosquitto_installs_the_clients(tmp_path):
    bin_dir, log = _stub_path(tmp_path)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure_mosquitto.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    installs = [ln.split() for ln in log.read_text().splitlines() if "install" in ln.split()]
    assert installs and "mosquitto-clients" in installs[-1]
    assert (bin_dir / "mosquitto_sub").exists()
    # Once both are there, a second run installs nothing.
    log.unlink()
    again = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure_mosquitto.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0 and not log.exists()


def test_the_pi_install_brings_mosquitto_sub():
    text = (ROOT / "scripts" / "install_pi.sh").read_text()
    apt_lines = text.split("apt-get install", 1)[1].split(">/dev/null", 1)[0]
    assert "mosquitto-clients" in apt_lines
