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


#: The prefix that names a bundled recording explicitly: ``bundled:P01_walking``.
BUNDLED_PREFIX = "bundled:"


def resolve_recording(spec: str | Path) -> Path:
    """The one way every command turns a recording argument into a CSV path.

    Accepted forms: ``bundled:NAME`` and a bare ``NAME`` (a bundled recording's stem,
    e.g. ``P01_walking``), or a path to a CSV (or its ``.json`` sidecar, or the path
    without its suffix). A path that exists wins over a bundled name of the same spelling.

    Raises:
        FileNotFoundError: one line that says which: no such file, or no such bundled
            recording (listing the bundled ones).
    """
    text = str(spec)
    if text.startswith(BUNDLED_PREFIX):
        return bundled_recording_path(text.removeprefix(BUNDLED_PREFIX))
    path = Path(text)
    if path.is_file() or path.with_suffix(".csv").is_file():
        return path
    looks_like_path = path.suffix != "" or "/" in text or "\\" in text or text.startswith(".")
    if not looks_like_path:
        if text in bundled_recording_names():
            return bundled_recording_path(text)
        raise FileNotFoundError(
            f"no such file or bundled recording: {text!r} (bundled: "
            f"{', '.join(bundled_recording_names())}; or give a CSV path)"
        )
    raise FileNotFoundError(f"no such file: {text}")
