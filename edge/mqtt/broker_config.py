"""A mosquitto recipe that decides who may command a device (docs/security.md).

:func:`write_broker_config` writes, into one folder:

- ``passwd``: a mosquitto ``password_file`` (PBKDF2-SHA512 hashes, ``$7$`` as
  ``mosquitto_passwd`` writes them) for every device account and the operator account
  (mode 0600; 0640 with group ``mosquitto`` when written as root);
- ``acl``: a mosquitto ``acl_file``:

  ============  ==============================================================
  account       may
  ============  ==============================================================
  anonymous     read ``<prefix>/+/estimate`` (live plots), nothing else
  device ``D``  write ``<prefix>/D/{status,meta,estimate,health}`` and
                ``<prefix>/D/cmd/+/result`` (and its Home Assistant discovery),
                read ``<prefix>/D/cmd/#``: never another device's topics
  operator      read ``<prefix>/#``, write ``<prefix>/+/cmd/+`` (command any device)
  viewer ``V``  read ``<prefix>/+/{status,meta,estimate,health}`` (a dashboard's login;
                optional), write nothing
  ============  ==============================================================

- ``mosquitto.conf``: the lines that switch them on (``include_dir`` it or paste it);
- ``<account>.password``: each generated password (mode 0600), for the device config's
  ``[mqtt] password_file`` and the operator's tools.

A message a client may not publish is dropped by the broker (MQTT 3.1.1 has no way to
say so), so a forbidden command never reaches the device.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_ACCOUNT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$


def mosquitto_hash(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """A ``password_file`` hash: ``$7$<iterations>$<salt b64>$<PBKDF2-SHA512 b64>``."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def acl_text(
    devices: Sequence[str],
    operator: str,
    prefix: str = "sspinn",
    discovery_prefix: str = "homeassistant",
    viewers: Sequence[str] = (),
) -> str:
    """The ``acl_file`` for these accounts (see the module docstring)."""
    lines = [
        "# SSPINNpose broker ACL, written by `sspinn-edge broker-config` (docs/security.md).",
        "# Anonymous clients: live estimates only.",
        f"topic read {prefix}/+/estimate",
        "",
        "# Operator: reads everything, may command any device.",
        f"user {operator}",
        f"topic read {prefix}/#",
        f"topic write {prefix}/+/cmd/+",
    ]
    for viewer in viewers:
        lines += [
            "",
            f"# Viewer {viewer} (a dashboard): reads what a dashboard shows, commands nothing.",
            f"user {viewer}",
            *(f"topic read {prefix}/+/{t}" for t in ("status", "meta", "estimate", "health")),
        ]
    for device in devices:
        base = f"{prefix}/{device}"
        lines += [
            "",
            f"# Device {device}: publishes only its own topics, reads only its own commands.",
            f"user {device}",
            *(f"topic write {base}/{t}" for t in ("status", "meta", "estimate", "health")),
            f"topic write {base}/cmd/+/result",
            f"topic write {discovery_prefix}/sensor/sspinn_{device}/#",
            f"topic read {base}/cmd/#",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BrokerConfigFiles:
    """What :func:`write_broker_config` wrote."""

    passwd: Path
    acl: Path
    conf: Path
    passwords: dict[str, Path]


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def _readable_by_mosquitto(path: Path) -> None:
    """mosquitto reads its password file after dropping to the ``mosquitto`` user: as
    root, hand the file to that group (mode 0640); otherwise leave it 0600 (a broker run
    by this user reads it, and the operator copies it into place)."""
    if os.geteuid() != 0:
        return
    try:
        shutil.chown(path, group="mosquitto")
    except (LookupError, OSError):
        return
    os.chmod(path, 0o640)


def write_broker_config(
    out: str | Path,
    devices: Sequence[str],
    *,
    operator: str = "operator",
    prefix: str = "sspinn",
    passwords: dict[str, str] | None = None,
    conf_dir: str | Path | None = None,
    viewers: Sequence[str] = (),
) -> BrokerConfigFiles:
    """Write the password file, ACL, config snippet and passwords into ``out``.

    Args:
        devices: device ids (each is also its account name).
        operator: the account that may command devices.
        viewers: read-only accounts for dashboards (status, meta, estimates, health).
        prefix: the topic prefix (``[mqtt] topic_prefix``).
        passwords: account → password; accounts not given get a random one.
        conf_dir: where the files will live on the broker host (the paths written into
            ``mosquitto.conf``); default ``out``.

    Raises:
        ValueError: an account name that is not plain, or used twice.
    """
    accounts = [*devices, operator, *viewers]
    for name in accounts:
        if not _ACCOUNT.match(name):
            raise ValueError(f"account {name!r}: letters, digits, '_' and '-' only")
    if len(set(accounts)) != len(accounts):
        raise ValueError(f"account names must differ: {accounts}")
    if not devices:
        raise ValueError("give at least one device")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    given = dict(passwords or {})
    chosen = {a: given.get(a) or secrets.token_urlsafe(18) for a in accounts}
    files = {a: out / f"{a}.password" for a in accounts}
    for account, path in files.items():
        _write_private(path, chosen[account] + "\n")
    passwd = out / "passwd"
    _write_private(passwd, "".join(f"{a}:{mosquitto_hash(chosen[a])}\n" for a in accounts))
    _readable_by_mosquitto(passwd)
    acl = out / "acl"
    acl.write_text(acl_text(devices, operator, prefix, viewers=viewers))
    where = Path(conf_dir) if conf_dir is not None else out.resolve()
    conf = out / "mosquitto.conf"
    conf.write_text(
        "# SSPINNpose accounts and ACL (docs/security.md); anonymous clients may only read\n"
        "# estimates. Requires per_listener_settings false (the default).\n"
        "allow_anonymous true\n"
        f"password_file {where / 'passwd'}\n"
        f"acl_file {where / 'acl'}\n"
    )
    return BrokerConfigFiles(passwd, acl, conf, files)
