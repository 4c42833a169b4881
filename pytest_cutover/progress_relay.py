"""Progress of the gates an xdist worker runs, shown on the controller's terminal.

pytest-xdist shows nothing a worker prints, and a worker can send the controller nothing but
test reports, which arrive when a test ends: too late for a load run that takes minutes. So a
worker appends its progress lines (the CI cadence: start, every interval, end) to a file of
its own in the run's folder, and the controller, which owns the terminal, shows new lines as
they come and the rest when the session ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 1.0


class ProgressRelay:
    def __init__(self, folder: Path, show: Callable[[str], None]) -> None:
        self.folder = folder
        self.show = show
        self._read: dict[Path, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="cutover-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and show every line not shown yet."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._drain()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            for path in sorted(self.folder.glob("*.log")):
                offset = self._read.get(path, 0)
                try:
                    with path.open("rb") as handle:
                        handle.seek(offset)
                        data = handle.read()
                except OSError:
                    continue
                complete = data[: data.rfind(b"\n") + 1]  # a line being written waits
                self._read[path] = offset + len(complete)
                for line in complete.decode("utf-8", "replace").splitlines():
                    self.show(line)
