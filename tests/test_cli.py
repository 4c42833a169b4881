"""The `cutover` console script, run as a user runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MINIMAL_CONFIG, REPO


def cutover(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    beside_python = Path(sys.executable).parent / "cutover"
    program = str(beside_python) if beside_python.exists() else shutil.which("cutover")
    if program is None:
        pytest.fail("the `cutover` console script is not installed (pip install -e .)")
    return subprocess.run([program, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_check_shows_the_demo_config() -> None:
    result = cutover("check")
    assert result.returncode == 0, result.stderr
    assert f"{REPO / 'cutover.toml'}: valid" in result.stdout
    assert "legacy: http://127.0.0.1:{port} (started by the plugin)" in result.stdout


def test_check_masks_secrets_and_reports_mistakes(tmp_path: Path) -> None:
    (tmp_path / "cutover.toml").write_text(
        MINIMAL_CONFIG + 'database = "postgresql://app:pw-123456@db/x"\n'
    )
    result = cutover("check", "--json", cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["systems"]["new"]["database"] == "postgresql://app:***@db/x"
    (tmp_path / "cutover.toml").write_text(MINIMAL_CONFIG + "verify_tls = 'maybe'\n")
    result = cutover("check", cwd=tmp_path)
    assert result.returncode == 2
    assert "systems.new.verify_tls = 'maybe'" in result.stderr
    assert "Traceback" not in result.stderr


def option_helps(help_text: str) -> dict[str, str]:
    """Each option or argument argparse lists, with the help text it shows (empty: none)."""
    found: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        entry = re.match(r"^  (\S.*?)(?:\s{2,}(\S.*))?$", line)
        if entry and not line.startswith("   "):
            current = entry[1].split(",")[-1].split()[0]
            found[current] = entry[2] or ""
        elif current and line.startswith("    ") and line.strip():
            found[current] = (found[current] + " " + line.strip()).strip()
        elif not line.strip():
            current = None
    return found


@pytest.mark.parametrize(
    "command",
    ["check", "ab-record", "status", "shift", "rollback", "resolve", "run", "init", "schema"],
)
def test_every_option_of_every_command_says_what_it_does(command: str) -> None:
    result = cutover(command, "--help")
    assert result.returncode == 0, result.stderr
    helps = option_helps(result.stdout.split("\n\n", 1)[1])
    assert helps, result.stdout
    assert [name for name, text in helps.items() if not text] == [], result.stdout
    if "--config" in helps:  # the command line reads no ini file
        assert "[env CUTOVER_CONFIG]" in helps["--config"]
