"""Shared fixtures: a real mosquitto broker on a free 127.0.0.1 port, and sample data."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def p01_walking_csv() -> Path:
    return bundled_recording_path("P01_walking")


@pytest.fixture(scope="session")
def p01_running_csv() -> Path:
    return bundled_recording_path("P01_running")
