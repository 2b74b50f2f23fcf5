"""tf.distribute: two CPU workers (MultiWorkerMirroredStrategy via TF_CONFIG) take the
same step as one process on the same global batch, and resume from the chief's state."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _tiny_config(path: Path, p01_walking_csv: Path, strategy: str) -> Path:
    cfg = {
        "name": "tiny",
        "seed": 0,
        "burn_in": 8,
        "log_every": 1,
        "checkpoint_every": 1,
        "network": {"kind": "causal", "lstm_units": 16, "dense_units": 16},
        "data": {
            "window": 64,
            "stride": 32,
            "batch_size": 4,
            "real_recordings": [str(p01_walking_csv)],
            "real_cycles": 4,
        },
        "optim": {"steps": 2, "physics_warmup_steps": 1},
        "distribute": {"strategy": strategy},
    }
    path.write_text(json.dumps(cfg))
    return path


def _train_cmd(config: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "train.train_cli", "--config", str(config), "--out", str(out),
            "--no-eval", "-q", *extra]  # fmt: skip


def _env(tf_config: dict | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def _run_workers(config: Path, out: Path, *extra: str) -> None:
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = [
        subprocess.Popen(
            _train_cmd(config, out, *extra),
            cwd=ROOT,
            env=_env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT_S)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, text in zip(procs, logs, strict=True):
        assert p.returncode == 0, text[-3000:]


def _run_single(config: Path, out: Path, *extra: str) -> None:
    done = subprocess.run(
        _train_cmd(config, out, *extra), cwd=ROOT, env=_env(), capture_output=True, text=True,
        timeout=TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def _weights(ckpt_prefix: Path, prefix: str) -> dict[str, np.ndarray]:
    """Variables of a resume checkpoint whose name starts with ``prefix``: the model's
    weights are ``optimizer/_trainable_variables/*``, Adam's moments
    ``optimizer/_variables/*``."""
    reader = tf.train.load_checkpoint(str(ckpt_prefix))
    names = [n for n in reader.get_variable_to_shape_map() if n.startswith(prefix)]
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.slow
def test_two_workers_equal_one_process(tmp_path, p01_walking_csv):
    single_cfg = _tiny_config(tmp_path / "single.json", p01_walking_csv, "default")
    multi_cfg = _tiny_config(tmp_path / "multi.json", p01_walking_csv, "multi_worker")
    single, multi = tmp_path / "single", tmp_path / "multi"
    _run_workers(multi_cfg, multi)
    _run_single(single_cfg, single)

    h_single = json.loads((single / "history.json").read_text())
    h_multi = json.loads((multi / "history.json").read_text())
    assert [r["step"] for r in h_multi] == [1, 2]
    for a, b in zip(h_single, h_multi, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-4)
        assert b["imu_acc"] == pytest.approx(a["imu_acc"], rel=1e-5)
    for prefix in ("optimizer/_trainable_variables/", "optimizer/_variables/"):
        w_single = _weights(single / "resume" / "ckpt-1", prefix)
        w_multi = _weights(multi / "resume" / "ckpt-1", prefix)
        assert len(w_single) >= 7 and w_single.keys() == w_multi.keys()
        for name, value in w_single.items():
            # Adam's first step is lr·g/(|g| + eps) per weight: where g is near 0 it
            # magnifies the float rounding of the summed gradient, so weights compare to
            # a thousandth of the step (lr = 2e-3), Adam's moments relatively.
            atol = 2e-6 if "_trainable_variables" in prefix else 1e-9
            np.testing.assert_allclose(w_multi[name], value, rtol=1e-5, atol=atol, err_msg=name)
    # The steps move the weights: the comparison is not of two untouched copies.
    w_one = _weights(single / "resume" / "ckpt-1", "optimizer/_trainable_variables/")
    w_two = _weights(single / "resume" / "ckpt-2", "optimizer/_trainable_variables/")
    assert all(not np.allclose(w_two[n], v, rtol=0, atol=1e-6) for n, v in w_one.items())
    # Only the chief wrote TensorBoard and the exportable checkpoint.
    assert (multi / "tensorboard").is_dir() and (multi / "checkpoint" / "checkpoint.json").is_file()
    assert len(list((multi / "tensorboard").iterdir())) == 1

    # Resume under multi_worker: both workers restore the chief's step 2 and go on to 3.
    _run_workers(multi_cfg, multi, "--resume", "--steps", "3")
    _run_single(single_cfg, single, "--resume", "--steps", "3")
    h_single = json.loads((single / "history.json").read_text())
    h_multi = json.loads((multi / "history.json").read_text())
    assert [r["step"] for r in h_multi] == [1, 2, 3]
    assert h_multi[-1]["loss"] == pytest.approx(h_single[-1]["loss"], rel=1e-5)
