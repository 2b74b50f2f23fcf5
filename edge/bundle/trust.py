"""The device's trust policy for model bundles, in one place.

Signatures (enforced by :func:`edge.bundle.read_bundle`):

- with any ``trusted_keys`` configured, a bundle must carry a signature that verifies with
  one of them: an unsigned bundle is refused whatever ``require_signature`` says (else
  stripping the signature would be a way around the keys);
- ``require_signature = true`` refuses unsigned bundles too (and, without keys, every
  signed one: there is nothing to verify it with);
- the one exception is a *pinned* bundle: one whose whole-file sha256 is listed in
  ``[model] factory_sha256`` (the installer pins the factory bundle it installs), which
  is trusted as those exact bytes, signed or not.

Versions (enforced by :meth:`edge.daemon.model_slot.ModelSlot.replace`): a pushed bundle
whose manifest ``version`` is older than the running model's is refused, unless the
command says ``"allow_downgrade": true`` (docs/security.md). The same version again is
accepted (a re-signed or re-pushed bundle).
"""

from __future__ import annotations

import hashlib
import re

from edge.bundle.errors import BundleError

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def file_sha256(data: bytes) -> str:
    """The sha256 (hex) of a bundle file's bytes: what ``factory_sha256`` pins."""
    return hashlib.sha256(data).hexdigest()


def version_key(version: str) -> tuple:
    """A sort key with semantic-version precedence (1.2.0-rc.1 < 1.2.0 < 1.10.0; build
    metadata ignored).

    Raises:
        BundleError: not MAJOR.MINOR.PATCH[-pre][+build].
    """
    m = _VERSION.match(version)
    if m is None:
        raise BundleError(f"version {version!r} is not semantic (MAJOR.MINOR.PATCH)")
    major, minor, patch, pre = m.groups()
    if pre is None:
        pre_key: tuple = (1,)
    else:
        pre_key = (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))
    return (int(major), int(minor), int(patch), pre_key)


def check_not_older(running: str | None, incoming: str, *, allow_downgrade: bool) -> None:
    """Refuse replacing model version ``running`` with an older ``incoming`` one.

    Raises:
        BundleError: ``incoming`` is older and ``allow_downgrade`` is not set.
    """
    if running is None or allow_downgrade:
        return
    if version_key(incoming) < version_key(running):
        raise BundleError(
            f"model version {incoming} is older than the running {running}: downgrade refused "
            '(send {"bundle": <base64>, "allow_downgrade": true} on cmd/model, or '
            "`sspinn-convert push --allow-downgrade`, to roll back on purpose)"
        )
