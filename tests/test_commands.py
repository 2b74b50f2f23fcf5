"""What a user meets on the command line: every console script answers ``--help`` without
loading TensorFlow, has ``--version``, and every command that takes a recording accepts
the same names (``NAME``, ``bundled:NAME``, a CSV path) and says what is wrong in one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from edge.recording import (
    RecordingError,
    bundled_recording_path,
    read_recording,
    resolve_recording,
)

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS: dict[str, str] = PYPROJECT["project"]["scripts"]
VERSION: str = PYPROJECT["project"]["version"]
#: Modules a --help must not load (seconds of start-up each).
HEAVY = ("tensorflow", "keras", "matplotlib")

#: Scripts whose --help still loads TensorFlow, with why (a strict xfail: fixing one
#: makes the test fail until it is taken off this list).
SLOW_HELP: dict[str, str] = {}

_PROBE = textwrap.dedent(
    """
    import contextlib, importlib, io, json, sys
    module, func = sys.argv[1].split(":")
    main = getattr(importlib.import_module(module), func)
    out = {}
    for flag in ("--help", "--version"):
        buf = io.StringIO()
        code = None
        with contextlib.redirect_stdout(buf):
            try:
                main([flag])
            except SystemExit as exc:
                code = exc.code
        out[flag] = {"code": code, "text": buf.getvalue()}
    out["heavy"] = [m for m in sys.argv[2:] if m in sys.modules]
    print(json.dumps(out))
    """
)


def _probe(target: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, target, *HEAVY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(reason=SLOW_HELP[name], run=False) if name in SLOW_HELP else (),
        )
        for name in SCRIPTS
    ],
)
def test_every_script_answers_help_and_version_without_tensorflow(script):
    out = _probe(SCRIPTS[script])
    assert out["--help"]["code"] == 0 and "usage:" in out["--help"]["text"]
    assert "--version" in out["--help"]["text"]
    assert "``" not in out["--help"]["text"], "raw markup in the help"
    assert out["--version"]["code"] == 0
    assert out["--version"]["text"].strip() == f"{script} {VERSION}"
    assert out["heavy"] == [], f"{script} --help loaded {out['heavy']}"


def test_convert_names_a_mistyped_command(capsys):
    from converters.cli import main

    assert main(["keygn"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'keygn' is not a command" in err and "keygen" in err and "push" in err
    assert len(err.splitlines()) == 1


def test_convert_quantize_has_help(capsys):
    from converters.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--quantize {float32,dynamic,int8} float32:" in text


# ---------------------------------------------------------------------- recording names
@pytest.mark.parametrize("spec", ["P01_walking", "bundled:P01_walking"])
def test_bundled_names_resolve_alike(spec):
    assert resolve_recording(spec) == bundled_recording_path("P01_walking")


def test_an_existing_path_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "P01_walking").write_text("")  # a local file wins over the bundled name
    assert resolve_recording("P01_walking") == Path("P01_walking")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("missing.csv", "no such file: missing.csv"),
        ("dir/missing", "no such file: dir/missing"),
        ("P01_walkin", "no such file or bundled recording: 'P01_walkin'"),
        ("bundled:P01_walkin", "no bundled recording 'P01_walkin'"),
    ],
)
def test_unknown_recordings_say_which(spec, words):
    with pytest.raises(FileNotFoundError) as err:
        resolve_recording(spec)
    assert words in str(err.value)
    assert "sidecar" not in str(err.value)


def test_read_recording_of_a_missing_csv_says_no_such_file(tmp_path):
    with pytest.raises(RecordingError) as err:
        read_recording(tmp_path / "nothing.csv")
    assert "no such file" in str(err.value) and "sidecar" not in str(err.value)


def test_train_and_edge_share_the_resolver():
    import edge.simulated_hardware
    import train.sources

    rec = edge.simulated_hardware.load_recording("bundled:P01_running")
    assert rec.path == bundled_recording_path("P01_running")
    assert train.sources.resolve_recording_path("P01_running") == rec.path


@pytest.mark.parametrize("spec", ["P01_walkin", "missing.csv"])
def test_simulate_rejects_an_unknown_recording_in_one_line(spec, capsys):
    from edge.cli import main

    assert main(["simulate", "--recording", spec, "--broker", "127.0.0.1:9"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no such file" in err and "sidecar" not in err


@pytest.mark.parametrize("spec", ["P01_walkin", "missing.csv"])
def test_eval_rejects_an_unknown_recording_before_loading_a_model(spec, capsys):
    from train.eval_cli import main

    assert main(["--data", spec]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no such file" in err and "sidecar" not in err


def test_convert_rejects_unknown_data_before_loading_a_model(tmp_path, capsys):
    from converters.cli import main

    assert main(["--out", str(tmp_path / "x.sspinn"), "--data", "P01_walking", "nope.csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --data: no such file: nope.csv"


@pytest.mark.parametrize("spec", ["P01_walking", "bundled:P01_walking"])
def test_probe_takes_both_name_forms(spec, capsys):
    from edge.cli import main

    assert main(["probe", "--simulate", spec, "--no-self-test"]) == 0
    assert "all sensors found" in capsys.readouterr().out
