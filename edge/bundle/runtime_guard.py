"""Choose an interpreter that can run a bundle, or refuse with what to install.

tflite-runtime 2.14 needs numpy < 2, cannot load dynamic-range models and gives wrong
outputs for 16x8 models, so each manifest names the minimum version of each runtime
that runs it correctly (None: that runtime must not be used).
"""

from __future__ import annotations

from importlib import metadata

from edge.bundle.errors import BundleError
from edge.bundle.manifest import Manifest

#: (manifest field, distribution name, pip spec), in order of preference.
RUNTIMES: tuple[tuple[str, str], ...] = (
    ("ai_edge_litert", "ai-edge-litert"),
    ("tflite_runtime", "tflite-runtime"),
)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    return tuple(parts)


def installed_runtimes() -> dict[str, str]:
    """Installed interpreter distributions, ``{manifest field: version}``."""
    found: dict[str, str] = {}
    for field, dist in RUNTIMES:
        try:
            found[field] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def select_runtime(manifest: Manifest, installed: dict[str, str] | None = None) -> str:
    """The manifest field name of the runtime to use (``"ai_edge_litert"`` ...).

    Raises:
        BundleError: no installed runtime meets the manifest's minimum; the message
            names the package and version to install.
    """
    installed = installed_runtimes() if installed is None else installed
    wanted: list[str] = []
    for field, dist in RUNTIMES:
        minimum = getattr(manifest.min_runtime, field)
        if minimum is None:
            continue
        wanted.append(f"{dist}>={minimum}")
        have = installed.get(field)
        if have is not None and _version_tuple(have) >= _version_tuple(minimum):
            return field
    have_text = ", ".join(f"{dict(RUNTIMES)[f]} {v}" for f, v in installed.items()) or "none"
    if not wanted:
        raise BundleError(f"model {manifest.model_id} names no runtime that can run it")
    raise BundleError(
        f"model {manifest.model_id} {manifest.version} ({manifest.quantization}) needs "
        f"{' or '.join(wanted)}; installed: {have_text}. "
        f"Install it with: pip install '{wanted[0]}'"
    )
