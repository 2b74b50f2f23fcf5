"""The one error type for bad recordings: it always names the file, and line/column when known."""

from __future__ import annotations

from pathlib import Path


class RecordingError(ValueError):
    """A recording (CSV + JSON sidecar) that cannot be read or written as it is.

    Attributes:
        path: the offending file (CSV or sidecar).
        line: 1-based line number in that file (the CSV header is line 1), or None.
        column: the CSV column name, or None.
        field: the sidecar field path (``participant.height_m``), or None.
        reason: what is wrong, in words.
    """

    def __init__(
        self,
        path: str | Path,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        self.column = column
        self.field = field
        where = str(self.path)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {reason}")
