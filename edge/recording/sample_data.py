"""The real recordings shipped with the package (Dorschky et al. 2019, BioMAC-Sim-Toolbox).

See ``edge/sample_data/ATTRIBUTION.md``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_data_dir() -> Path:
    """Folder of the bundled recordings (``imu/``)."""
    return Path(str(resources.files("edge") / "sample_data"))


def bundled_recording_names() -> list[str]:
    """Stems of the bundled recordings, e.g. ``["P01_running", "P01_walking"]``."""
    return sorted(p.stem for p in (sample_data_dir() / "imu").glob("*.csv"))


def bundled_recording_path(name: str) -> Path:
    """Path of a bundled recording CSV by stem, e.g. ``bundled_recording_path("P01_walking")``."""
    path = sample_data_dir() / "imu" / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"no bundled recording {name!r}; available: {', '.join(bundled_recording_names())}"
        )
    return path
