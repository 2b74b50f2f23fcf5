"""Recovery of open segments (``NAME.csv.part``) left by a crash or a power cut."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from edge.recording import RecordingError, read_recording, write_recording
from edge.recording.csv_io import fsync_dir

log = logging.getLogger(__name__)

PART_SUFFIX = ".csv.part"
UNRECOVERABLE_SUFFIX = ".csv.unrecoverable"


def recover_parts(directory: Path, skip: Path | None = None) -> list[Path]:
    """Close every leftover ``.part`` under ``directory`` (see :func:`recover_part`),
    except ``skip`` (the segment being written now).

    Returns:
        The recovered segment CSVs.
    """
    out: list[Path] = []
    if not directory.is_dir():
        return out
    for part in sorted(directory.rglob(f"*{PART_SUFFIX}")):
        if part == skip:
            continue
        try:
            path = recover_part(part)
        except Exception:
            log.exception("could not recover %s", part)
            continue
        if path is not None:
            out.append(path)
    return out


def recover_part(part: Path) -> Path | None:
    """Turn an open segment left by a crash into a closed one.

    The file is read with ``read_recording(..., drop_truncated_tail=True)``; a line that
    still does not parse (bytes a power cut left half-written) ends the data. A part
    without data rows is removed with its sidecar; one that cannot be read at all (no
    sidecar, a bad sidecar) is renamed ``NAME.csv.unrecoverable`` and kept.

    Returns:
        The closed segment CSV, or None when nothing was recoverable.
    """
    stem = part.name[: -len(PART_SUFFIX)]
    final = part.with_name(f"{stem}.csv")
    side = part.with_name(f"{stem}.json")

    def give_up(reason: str) -> None:
        keep = part.with_name(f"{stem}{UNRECOVERABLE_SUFFIX}")
        os.replace(part, keep)
        log.error("%s: %s; raw bytes kept as %s", part, reason, keep.name)

    if final.exists():
        give_up(f"{final.name} exists already")
        return None
    if not side.is_file():
        give_up("no sidecar")
        return None
    raw = part.read_bytes()
    nul = raw.find(b"\0")  # a power cut can leave zero-filled blocks at the end
    if nul >= 0:
        raw = raw[:nul]
    lines = raw.decode("utf-8", errors="replace").split("\n")
    with tempfile.TemporaryDirectory(prefix=".recover-", dir=part.parent) as tmp:
        probe = Path(tmp) / f"{stem}.csv"
        shutil.copyfile(side, probe.with_suffix(".json"))
        for _ in range(8):
            complete = len(lines) - 1  # lines ending in "\n" (the last piece may be cut)
            if complete < 2:  # header only: nothing was recorded
                part.unlink()
                side.unlink(missing_ok=True)
                log.warning("%s held no complete sample: removed", part)
                return None
            probe.write_text("\n".join(lines), encoding="utf-8")
            try:
                rec = read_recording(probe, drop_truncated_tail=True)
                break
            except RecordingError as exc:
                if exc.path != probe or exc.line is None or exc.line < 2:
                    give_up(str(exc).replace(str(probe), part.name))
                    return None
                log.warning("%s: cutting at line %d (%s)", part, exc.line, exc.reason)
                lines = [*lines[: exc.line - 1], ""]
        else:
            give_up("too many bad lines")
            return None
    write_recording(rec, final)
    part.unlink()
    fsync_dir(part.parent)
    log.warning("recovered %s: %d samples", final, rec.n_samples)
    return final
