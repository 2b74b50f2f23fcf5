"""Shared fixtures: a real mosquitto broker on a free 127.0.0.1 port, and sample data."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

from edge.mqtt.local_broker import LocalBroker, start_mosquitto
from edge.recording import bundled_recording_path


@pytest.fixture
def mosquitto() -> Iterator[LocalBroker]:
    """A fresh mosquitto for one test, stopped by PID afterwards."""
    broker = start_mosquitto()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    """A folder for ``sspinn-edge broker-config`` files that the broker can read after it
    drops to the ``mosquitto`` user (pytest's own temporary folders are private to the
    user running the tests)."""
    folder = Path(tempfile.mkdtemp(prefix="sspinn-acl-"))
    folder.chmod(0o755)
    yield folder / "broker"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def p01_walking_csv() -> Path:
    return bundled_recording_path("P01_walking")


@pytest.fixture(scope="session")
def p01_running_csv() -> Path:
    return bundled_recording_path("P01_running")
