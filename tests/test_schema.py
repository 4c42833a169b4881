"""The JSON Schema of cutover.toml that editors check a file against: generated from the config
models, shipped in the package, and in step with what the plugin accepts."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import jsonschema
import pytest

from pytest_cutover.schema import config_schema, schema_text, shipped_path

from .conftest import MINIMAL_CONFIG, REPO
from .test_cli import cutover

README_EXAMPLES = re.findall(r"```toml\n(.*?)```", (REPO / "README.md").read_text(), re.S)
CONFIGS = [REPO / "cutover.toml", REPO / ".ci" / "wheel_project" / "cutover.toml"]


def as_an_editor_reads(text: str) -> Any:
    """TOML as Taplo hands it to a JSON Schema validator: dates and times become strings."""
    return json.loads(json.dumps(tomllib.loads(text), default=str))


def errors(document: Any) -> list[str]:
    """Every error, with those under an `anyOf` (a section that may be absent) spelled out."""
    validator = jsonschema.Draft202012Validator(config_schema())
    found: list[str] = []
    pending = list(validator.iter_errors(document))
    while pending:
        error = pending.pop()
        found.append(f"{list(error.absolute_path)}: {error.message}")
        pending += error.context or []
    return found


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(config_schema())


@pytest.mark.parametrize(
    "example", README_EXAMPLES, ids=[f"readme{i}" for i in range(len(README_EXAMPLES))]
)
def test_every_readme_example_is_accepted(example: str) -> None:
    text = example if "[systems." in example else MINIMAL_CONFIG + example
    assert errors(as_an_editor_reads(text)) == []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_shipped_configs_are_accepted(path: Any) -> None:
    assert errors(as_an_editor_reads(path.read_text())) == []


@pytest.mark.parametrize(
    ("addition", "where"),
    [
        ("[smoke]\nendpoint = []\n", "'endpoint' was unexpected"),
        ("[sytems.legacy]\nbase_url = 'http://x'\n", "'sytems' was unexpected"),
        ("[load]\nuser = 5\n", "'user' was unexpected"),
    ],
)
def test_a_typo_is_rejected(addition: str, where: str) -> None:
    found = errors(as_an_editor_reads(MINIMAL_CONFIG + addition))
    assert any(where in error for error in found), found


def test_values_are_accepted_as_written() -> None:
    text = MINIMAL_CONFIG + 'timeout = "${NEW_TIMEOUT}"\nverify_tls = "${VERIFY}"\n'
    text += '[load]\nusers = 10\nthresholds = "p95 < 300ms"\n'
    assert errors(as_an_editor_reads(text)) == []
    assert errors(as_an_editor_reads(MINIMAL_CONFIG + "verify_tls = 3\n")) != []


def test_the_packaged_copy_is_what_the_models_generate() -> None:
    assert shipped_path().read_text() == schema_text(), (
        "pytest_cutover/cutover.schema.json is stale: run "
        "`cutover schema --out pytest_cutover/cutover.schema.json`"
    )


def test_cutover_schema_prints_and_writes_it(tmp_path: Any) -> None:
    printed = cutover("schema", cwd=tmp_path)  # no cutover.toml needed
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == config_schema()
    written = cutover("schema", "--out", "editor/cutover.schema.json", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert json.loads((tmp_path / "editor" / "cutover.schema.json").read_text()) == config_schema()
