"""Errors of model bundles."""


class BundleError(ValueError):
    """A model bundle that must not run: corrupt, tampered, unsigned where signatures are
    required, malformed, or needing a newer runtime. The message says why and what to do."""
