"""Write a report file so a reader never sees half of it, and a crash never leaves half of it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json_atomically(path: Path, document: Any) -> None:
    """Temp file in the same folder, fsync, rename over the target, fsync the folder."""
    write_text_atomically(path, json.dumps(document, indent=2, default=str) + "\n")


def write_text_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """The same for any text (a config file nginx reads); `mode` sets its permissions, since a
    temp file is created readable by its owner only."""
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
