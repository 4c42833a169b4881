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


def _integrity_project(folder: Path) -> None:
    """Two SQLite databases: `orders` comparable, `users` missing a column on new, `events`
    with a duplicated key on new (no primary key there)."""
    import sqlite3

    for side, extra in (("legacy", ""), ("new", "")):
        with sqlite3.connect(folder / f"{side}.db") as db:
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total NUMERIC)")
            email = ", email TEXT" if side == "legacy" else extra
            db.execute(f"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT{email})")
            key = " PRIMARY KEY" if side == "legacy" else ""
            db.execute(f"CREATE TABLE events (id INTEGER{key}, kind TEXT)")
            rows = [(1, "a"), (2, "b")] + ([(2, "c")] if side == "new" else [])
            db.executemany("INSERT INTO events VALUES (?, ?)", rows)
        db.close()
    (folder / "cutover.toml").write_text(
        """
[systems.legacy]
base_url = "http://127.0.0.1:9"
database = "sqlite:///legacy.db"

[systems.new]
base_url = "http://127.0.0.1:9"
database = "sqlite:///new.db"

[[integrity.tables]]
table = "orders"
key = "id"

[[integrity.tables]]
table = "users"
key = "id"
columns = ["name", "email"]

[[integrity.tables]]
table = "events"
key = "id"
"""
    )


def test_check_lists_the_integrity_tables(tmp_path: Path) -> None:
    _integrity_project(tmp_path)
    result = cutover("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "  integrity: 3 table(s)" in result.stdout
    assert "    users: legacy users -> new users, key (id), columns name, email" in result.stdout


def test_check_connect_names_each_problem_read_only(tmp_path: Path) -> None:
    _integrity_project(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.db")}
    result = cutover("check", "--connect", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "    ok   orders: tables, key (id) and 2 compared column(s) exist on both sides" in lines
    assert "    ok   orders: new key is declared unique and NOT NULL" in lines
    assert any(
        line.startswith(
            "    FAIL users: column 'email' does not exist in table 'users' of the new database"
        )
        for line in lines
    ), result.stdout
    assert (
        "    FAIL events: new events: 0 row(s) with a NULL key, 1 duplicated key value(s) "
        "(['2'] x2)" in lines
    )
    assert "    ok   events: legacy key is declared unique and NOT NULL" in lines
    # Nothing was written: the files are byte for byte the same, and no journal was left.
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.db")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cutover.toml", "legacy.db", "new.db"]

    as_json = json.loads(cutover("check", "--connect", "--json", cwd=tmp_path).stdout)
    assert [(t["table"], t["ok"]) for t in as_json["integrity_check"]] == [
        ("orders", True),
        ("users", False),
        ("events", False),
    ]


def test_check_help_names_the_connect_option() -> None:
    result = cutover("check", "--help")
    assert result.returncode == 0
    assert "--connect" in result.stdout
    assert "integrity table, key and column" in " ".join(result.stdout.split())


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
