"""Model bundles (``*.sspinn``): canonical zip of manifest, TFLite model and signature."""

from edge.bundle.archive import (
    MAX_BUNDLE_BYTES,
    Bundle,
    build_bundle,
    manifest_to_bytes,
    read_bundle,
    write_bundle,
)
from edge.bundle.errors import BundleError
from edge.bundle.manifest import (
    Manifest,
    Normalisation,
    OutputGroup,
    RuntimeRequirement,
    StateSpec,
    TensorSpec,
)
from edge.bundle.runtime_guard import installed_runtimes, select_runtime
from edge.bundle.signing import generate_keypair, load_signing_key, parse_public_key, public_key_hex

__all__ = [
    "MAX_BUNDLE_BYTES",
    "Bundle",
    "BundleError",
    "Manifest",
    "Normalisation",
    "OutputGroup",
    "RuntimeRequirement",
    "StateSpec",
    "TensorSpec",
    "build_bundle",
    "generate_keypair",
    "installed_runtimes",
    "load_signing_key",
    "manifest_to_bytes",
    "parse_public_key",
    "public_key_hex",
    "read_bundle",
    "select_runtime",
    "write_bundle",
]
