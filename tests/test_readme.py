"""Every cutover.toml example in the README is a valid config: docs that drift fail here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_cutover.config import load_config

from .conftest import MINIMAL_CONFIG, REPO

EXAMPLES = re.findall(r"```toml\n(.*?)```", (REPO / "README.md").read_text(), re.S)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_config_example_is_valid(example: str, tmp_path: Path) -> None:
    text = example if "[systems." in example else MINIMAL_CONFIG + example
    path = tmp_path / "cutover.toml"
    path.write_text(text)
    for schema in re.findall(r'json_schema = "([^"]+)"', text):  # files the example names
        (tmp_path / schema).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / schema).write_text('{"type": "object"}')
    variables = set(re.findall(r"\$\{([A-Z_]+)\}", text))
    load_config(path, environ=dict.fromkeys(variables, "secret-value"))


def test_the_readme_has_an_example_per_gate() -> None:
    sections = {s for e in EXAMPLES for s in re.findall(r"^\[+([a-z_]+)", e, re.M)}
    assert {"systems", "smoke", "ab", "integrity", "load", "metrics"} <= sections
