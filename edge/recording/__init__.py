"""The recording format shared by the edge recorder, the emulated bus and training.

A recording is a CSV (``time_s``, six IMU channels per sensor, optional ground truth)
plus a JSON sidecar of the same stem; see :mod:`edge.recording.schema`.
"""

from edge.recording.csv_io import read_recording, read_sidecar, sidecar_path, write_recording
from edge.recording.errors import RecordingError
from edge.recording.recording import Recording
from edge.recording.sample_data import (
    bundled_recording_names,
    bundled_recording_path,
    resolve_recording,
    sample_data_dir,
)
from edge.recording.schema import (
    COORDINATE_NAMES,
    GRF_NAMES,
    IMU_CHANNELS,
    MOMENT_NAMES,
    PLANAR_CHANNEL_INDEX,
    SENSOR_NAMES,
    TRUTH_COLUMNS,
    Participant,
    SensorPlacement,
    Sidecar,
    imu_column,
)
from edge.recording.timebase import interpolate_at, resample, tile_cycles

__all__ = [
    "COORDINATE_NAMES",
    "GRF_NAMES",
    "IMU_CHANNELS",
    "MOMENT_NAMES",
    "PLANAR_CHANNEL_INDEX",
    "SENSOR_NAMES",
    "TRUTH_COLUMNS",
    "Participant",
    "Recording",
    "RecordingError",
    "SensorPlacement",
    "Sidecar",
    "bundled_recording_names",
    "bundled_recording_path",
    "imu_column",
    "interpolate_at",
    "read_recording",
    "read_sidecar",
    "resample",
    "resolve_recording",
    "sample_data_dir",
    "sidecar_path",
    "tile_cycles",
    "write_recording",
]
