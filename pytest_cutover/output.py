"""The one redaction point (DESIGN rule 5): every byte the project writes or prints goes through
an `Output`, which holds the run's Redactor.

Reports, the decision, the audit log, copies of what other programs wrote (locust's results),
the logs of started systems, the `cutover` command's lines and the pytest terminal all reach
disk or a screen through the methods here, so a secret the redactor knows cannot be written
around it; tests/test_output.py fails when a module writes or prints any other way. What a
program needs as its input (nginx's include file, locust's load profile in a private folder, a
lock file) is not an output and says so where it is written.

Stdlib only, and cheap: the pytest plugin holds one for the terminal from the first line.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from pytest_cutover.redact import Redactor
from pytest_cutover.reports.atomic import fsync_directory, write_text_atomically

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Output:
    """Writes and prints with every secret `redactor` knows, or can tell by name, masked."""

    redactor: Redactor = field(default_factory=Redactor)

    def text(self, text: str) -> str:
        return self.redactor.text(text)

    def value(self, value: Any) -> Any:
        """A JSON-like structure, redacted (strings masked under secret-named keys)."""
        return self.redactor.value(value)

    def json(self, document: Any, *, indent: int | None = 2) -> str:
        """The document as JSON text; objects JSON cannot hold are shown redacted by str()."""
        return json.dumps(self.value(document), indent=indent, default=self._shown)

    def _shown(self, value: object) -> str:
        return self.text(str(value))

    def write_text(self, path: Path, text: str) -> None:
        """The whole file at once: a reader never sees half of it (reports/atomic.py)."""
        write_text_atomically(path, self.text(text))

    def write_json(self, path: Path, document: Any) -> None:
        write_text_atomically(path, self.json(document) + "\n")

    def write_lines(self, path: Path, lines: Iterable[str]) -> None:
        """A large file (every difference of a table), line by line, never all in memory:
        written aside, fsynced and renamed, so it is never half there."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for line in lines:
                    handle.write(self.text(line) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        fsync_directory(path.parent)

    def append(self, path: Path, text: str) -> None:
        """Appended in one write() on an O_APPEND descriptor and fsynced: records of runs that
        overlap never interleave, and a crash keeps every record written before it."""
        data = self.text(text).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_directory(path.parent)

    def append_json(self, path: Path, record: Any) -> None:
        """One JSON line, as `append` writes it."""
        self.append(path, self.json(record, indent=None) + "\n")

    def redact_bytes(self, data: bytes) -> bytes:
        """Any bytes, text or not: undecodable bytes pass through unchanged (surrogateescape),
        so a secret in a UTF-8 or ASCII stretch is masked wherever it sits."""
        text = data.decode("utf-8", "surrogateescape")
        return self.text(text).encode("utf-8", "surrogateescape")

    def copy(self, source: Path, target: Path) -> None:
        """A file another program wrote (locust's results), copied redacted."""
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.redact_bytes(source.read_bytes()))

    def copy_tree(self, source: Path, target: Path) -> None:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                self.copy(path, target / path.relative_to(source))

    def stream(self, target: TextIO | Callable[[], TextIO]) -> TextIO:
        """A text stream that redacts every write on its way to `target` (a stream, or a
        callable that names it at each write, as `sys.stdout` must be under capture)."""
        stream = RedactingStream(target if callable(target) else lambda: target, self.text)
        return cast(TextIO, stream)

    def print(self, text: str, *, stderr: bool = False) -> None:
        self.stream(_stderr if stderr else _stdout).write(text + "\n")

    def console(self, *, stderr: bool = False, **options: Any) -> Console:
        """A rich Console whose every byte goes through this Output."""
        from rich.console import Console

        return Console(file=self.stream(_stderr if stderr else _stdout), **options)

    def child_log(self, path: Path) -> ChildLog:
        """Where a started program's output goes: a pipe read line by line into `path`."""
        return ChildLog(self, path)


def _stdout() -> TextIO:
    return sys.stdout


def _stderr() -> TextIO:
    return sys.stderr


class RedactingStream(io.TextIOBase):
    """Writes `redact(text)` to the stream `target()` names at each write."""

    def __init__(self, target: Callable[[], TextIO], redact: Callable[[str], str]) -> None:
        super().__init__()
        self._target = target
        self._redact = redact

    def write(self, text: str) -> int:
        self._target().write(self._redact(text))
        return len(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self._target().isatty()

    def fileno(self) -> int:
        return self._target().fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]  # io.TextIOBase says Any
        return getattr(self._target(), "encoding", None) or "utf-8"


class ChildLog:
    """A child process's stdout and stderr, redacted line by line into a log file.

    Give `fd` to the child (`Popen(stdout=log.fd, stderr=STDOUT)`) and call `started()` once it
    runs (or could not be started): the parent's copy of the pipe is closed, so the copy ends
    when the child and everything it started have exited. The file exists from the start and
    each line is flushed, so what a failed start printed can be shown at once."""

    def __init__(self, output: Output, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        read_fd, self.fd = os.pipe()
        self._thread = threading.Thread(
            target=_copy_lines, args=(read_fd, path, output), daemon=True, name=f"log {path.name}"
        )
        self._thread.start()

    def started(self) -> None:
        os.close(self.fd)

    def wait(self, timeout: float) -> None:
        """Until every line written so far is in the file (the child has exited)."""
        self._thread.join(timeout)


def _copy_lines(read_fd: int, path: Path, output: Output) -> None:
    pipe: IO[bytes]
    with os.fdopen(read_fd, "rb") as pipe, path.open("ab") as log:
        for line in pipe:
            log.write(output.redact_bytes(line))
            log.flush()
