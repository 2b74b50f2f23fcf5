"""Fail early, with a useful message, when the interpreter is too old for the project."""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 (runs under any python3)
    sys.exit(
        f"Python >= 3.11 is required, found {sys.version.split()[0]} at {sys.executable}. "
        "Install python3.11 (Debian 12 / Raspberry Pi OS bookworm ship it) or run "
        "`make PYTHON=/path/to/python3.11 ...`."
    )
