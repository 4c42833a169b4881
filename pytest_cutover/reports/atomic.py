"""Write a file so a reader never sees half of it, and a crash never leaves half of it.

Reports reach this only through pytest_cutover.output, which redacts them first; nginx's
include file (an input nginx reads, not an output) is the one other writer."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """Temp file in the same folder, fsync, rename over the target, fsync the folder; `mode`
    sets its permissions (a config file nginx reads), since a temp file is created readable by
    its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    """Make a rename or a new file's name in `folder` survive a crash."""
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
