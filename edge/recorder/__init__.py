"""The raw recorder: every sample, in closed, self-contained segments (docs/recorder.md)."""

from edge.recorder.disk_space import default_free_bytes
from edge.recorder.recorder import Recorder, RecorderError, RecorderStats
from edge.recorder.recovery import PART_SUFFIX, UNRECOVERABLE_SUFFIX, recover_part, recover_parts

__all__ = [
    "PART_SUFFIX",
    "UNRECOVERABLE_SUFFIX",
    "Recorder",
    "RecorderError",
    "RecorderStats",
    "default_free_bytes",
    "recover_part",
    "recover_parts",
]
