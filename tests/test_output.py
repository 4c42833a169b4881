"""The one redaction point (pytest_cutover.output): no module writes or prints around it, each
way of writing masks what the run's redactor knows, and what pytest and allure-pytest write
about a gate run goes through it too."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_cutover.output import Output
from pytest_cutover.redact import Redactor

from .conftest import MINIMAL_CONFIG, OWN_GATES_ONLY, REPO

SECRET = "k3y-9f8e7d6c5b4a"
# A program's input, not an output (it must hold what the program needs), or text rendered for
# an output to print.
INPUTS = {
    ("pytest_cutover/reports/console.py", "Console"): "renders the summary into a string",
    ("pytest_cutover/actions/nginx.py", "write_text_atomically"): "nginx's include file",
    ("pytest_cutover/actions/lock.py", "os.pwrite"): "the lock's holder (user, host, pid, purpose)",
    ("pytest_cutover/shared.py", "open"): "an empty lock file",
    ("pytest_cutover/gates/load/profile.py", "os.fdopen"): "locust's profile, owner-only",
    ("pytest_cutover/gates/load/profile.py", "json.dump"): "locust's profile, owner-only",
    ("pytest_cutover/gates/load/runner.py", "open"): "locust's own logs, in the private folder",
    ("pytest_cutover/gates/load/live_locustfile.py", "open"): "runs in locust, private folder",
    ("pytest_cutover/scaffold.py", "write_text"): "`cutover init`'s fixed template",
}
OUTPUT_MODULES = {"pytest_cutover/output.py", "pytest_cutover/reports/atomic.py"}


DIRECT = {"print", "os.write", "os.pwrite", "json.dump", "sys.stdout.write", "sys.stderr.write"}
METHODS = {"write_text", "write_bytes", "write_text_atomically", "Console"}
WRITE_MODE = re.compile(r"[rwxabt+]{1,3}")


def writes_and_prints(source: str) -> list[tuple[str, int]]:
    """Every call that writes a file or prints: (what, line)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        short = name.rsplit(".", 1)[-1]
        if name in DIRECT:
            found.append((name, node.lineno))
        elif short in METHODS and not name.endswith(("output.write_text", "output.console")):
            found.append((short, node.lineno))
        elif short in ("open", "fdopen") and _writing(node):
            found.append(("os.fdopen" if short == "fdopen" else "open", node.lineno))
    return found


def _writing(call: ast.Call) -> bool:
    modes = [*call.args, *(k.value for k in call.keywords if k.arg == "mode")]
    return any(
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and WRITE_MODE.fullmatch(mode.value) is not None
        and any(c in mode.value for c in "wax+")
        for mode in modes
    )


def test_nothing_writes_or_prints_around_the_output() -> None:
    """Every output goes through pytest_cutover.output; only a program's input is written
    otherwise, and each one is listed in INPUTS with the reason."""
    around, seen = [], set()
    for path in sorted([*REPO.glob("pytest_cutover/**/*.py"), *REPO.glob("suites/*.py")]):
        module = path.relative_to(REPO).as_posix()
        if module in OUTPUT_MODULES:
            continue
        for what, line in writes_and_prints(path.read_text()):
            seen.add((module, what))
            if (module, what) not in INPUTS:
                around.append(f"{module}:{line}: {what}")
    assert around == []
    assert set(INPUTS) - seen == set(), "an input listed here is no longer written"


def test_the_scan_sees_each_way_of_writing() -> None:
    source = """
print("x")
open(p, "w")
path.open("ab")
os.fdopen(fd, mode="w")
path.write_text("x")
target.write_bytes(b"x")
os.write(fd, b"x")
json.dump(document, handle)
Console(stderr=True)
write_text_atomically(path, "x")
sys.stderr.write("x")
open(p).read()
path.read_text()
"""
    assert [line for _, line in writes_and_prints(source)] == list(range(2, 13))


@pytest.fixture
def output() -> Output:
    return Output(Redactor([SECRET]))


def test_files_are_written_masked(output: Output, tmp_path: Path) -> None:
    output.write_text(tmp_path / "a.txt", f"key {SECRET} and api_key=abcdef123456")
    output.write_json(tmp_path / "b.json", {"note": SECRET, "password": "hunter2-x", "n": 3})
    output.write_lines(tmp_path / "c.jsonl", [f"line {SECRET}", "plain"])
    output.append(tmp_path / "d.log", f"one {SECRET}\n")
    output.append_json(tmp_path / "d.log", {"token": "t0k3n-abc"})
    shown = "".join(p.read_text() for p in sorted(tmp_path.iterdir()))
    assert [s for s in (SECRET, "hunter2-x", "t0k3n-abc") if s in shown] == []
    assert "api_key=***" in shown
    assert json.loads((tmp_path / "b.json").read_text()) == {
        "note": "***",
        "password": "***",
        "n": 3,
    }
    assert (tmp_path / "d.log").read_text().splitlines() == [
        "one ***",
        '{"token": "***"}',
    ]


def test_a_copy_masks_text_and_leaves_other_bytes_alone(output: Output, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"\x89PNG\xff\x00 " + SECRET.encode() + b" \xfe")
    output.copy_tree(tmp_path, tmp_path / "out")
    assert (tmp_path / "out" / "in.bin").read_bytes() == b"\x89PNG\xff\x00 *** \xfe"


def test_a_child_process_log_is_masked_line_by_line(output: Output, tmp_path: Path) -> None:
    log = output.child_log(tmp_path / "system.log")
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", f"print('starting with {SECRET}'); print('ready')"],
            stdout=log.fd, stderr=subprocess.STDOUT,
        )  # fmt: skip
    finally:
        log.started()
    process.wait()
    log.wait(timeout=10)
    assert (tmp_path / "system.log").read_text() == "starting with ***\nready\n"


def test_printed_lines_and_consoles_are_masked(
    output: Output, capsys: pytest.CaptureFixture[str]
) -> None:
    output.print(f"status: {SECRET}")
    output.console(stderr=True).print(f"error: token={SECRET}")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("status: ***\n", "error: token=***\n")


GATE_TEST = """
import os
import allure
import pytest

@pytest.mark.canary_gate
def test_gate(record_property, tmp_path):
    planted = os.environ["PLANTED"]
    print("captured", planted)
    record_property("api_token", planted)
    record_property("note", "about " + planted)
    allure.attach("attached " + planted, name="evidence " + planted)
    (tmp_path / "file.txt").write_text("file " + planted)
    allure.attach.file(str(tmp_path / "file.txt"), name="file")
    assert planted == "other", "compared " + planted
"""


def test_pytest_and_allure_write_a_gate_run_masked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failure messages and tracebacks, captured output, JUnit properties, Allure results and
    attachments (by data and by file) and the terminal: a secret the config holds, none."""
    pytester.makefile(
        ".toml",
        cutover=MINIMAL_CONFIG
        + '\n[smoke]\n[[smoke.endpoints]]\npath = "/x"\nheaders = { X-Key = "${PLANTED}" }\n',
    )
    pytester.makeini(OWN_GATES_ONLY)
    pytester.makepyfile(test_gate=GATE_TEST)
    monkeypatch.setenv("PLANTED", SECRET)
    result = pytester.runpytest_subprocess(
        "-m", "canary_gate", "-rA", "-o", "junit_logging=all",
        f"--alluredir={pytester.path / 'allure'}",
        f"--junitxml={pytester.path / 'junit.xml'}",
    )  # fmt: skip
    assert result.ret == 1
    printed = result.stdout.str() + result.stderr.str()
    junit = (pytester.path / "junit.xml").read_text()
    allure = "".join(p.read_text() for p in (pytester.path / "allure").iterdir())
    assert SECRET not in printed + junit + allure
    for shown, where in (
        (["compared ***", "captured ***"], printed),
        (['"api_token" value="***"', '"note" value="about ***"', "compared ***", "captured ***"],
         junit),
        (["attached ***", "file ***", "evidence ***", "compared ***", "captured ***"], allure),
    ):  # fmt: skip
        assert [text for text in shown if text not in where] == []
