"""Broker login for the operator's command-line tools (``sspinn-edge send-command``,
``sspinn-convert push``, ``sspinn-dashboard``): ``--username`` and a password that never
has to be on the process list: ``--password-file FILE`` (first line) or the
``SSPINN_MQTT_PASSWORD`` environment variable."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

PASSWORD_ENV = "SSPINN_MQTT_PASSWORD"


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--username`` and ``--password-file`` to ``parser``."""
    parser.add_argument("--username", help="broker account (docs/security.md)")
    parser.add_argument(
        "--password-file",
        type=Path,
        help=f"file whose first line is the password (or set {PASSWORD_ENV})",
    )


def read_password(path: Path) -> str:
    """The first line of a password file.

    Raises:
        ValueError: missing or unreadable file, in one line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the password file {path}: {exc}") from exc
    return text.splitlines()[0] if text else ""


def resolve_login(
    username: str | None, password_file: Path | None, password: str | None = None
) -> tuple[str | None, str | None]:
    """``(username, password)`` from the options: an explicit ``password``, else the file,
    else ``$SSPINN_MQTT_PASSWORD``; no username means anonymous.

    Raises:
        ValueError: a password without a username, or an unreadable password file.
    """
    if password is None and password_file is not None:
        password = read_password(password_file)
    if password is None:
        password = os.environ.get(PASSWORD_ENV) or None
        if password is not None and not username:
            return None, None  # the variable is for logins; anonymous ignores it
    if password is not None and not username:
        raise ValueError("a password needs --username")
    return username, password
