"""What the redactor learns is secret, from cutover.toml and from the captured traffic: every
`${VAR}` in a credential position, what a config marks `secret = true`, the secret-named values
of each corpus format; and what it leaves visible (host names, paths, harmless values)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cutover.config import ConfigError, load_config
from pytest_cutover.corpus import corpus_secrets, load_corpus

from .conftest import MINIMAL_CONFIG

ENVIRON = {
    "HDR": "hdr-value-1234",
    "ENVV": "env-value-5678",
    "QS": "query-value-9012",
    "PW": "user-pass-3456",
    "HOST": "db-primary.internal",
    "TENANT": "acme-corp",
    "LIC": "licence-7890",
    "FLAG": "plain-flag-value",
}


def load(tmp_path: Path, text: str, environ: dict[str, str] = ENVIRON) -> set[str]:
    (tmp_path / "cutover.toml").write_text(text)
    config = load_config(tmp_path / "cutover.toml", environ)
    return {name for name, value in environ.items() if config.redactor.text(value) != value}


def test_a_variable_in_a_credential_position_is_secret_whatever_its_name(tmp_path: Path) -> None:
    secret = load(
        tmp_path,
        """
[systems.legacy]
base_url = "http://127.0.0.1:9"
database = "postgresql://gate:${PW}@${HOST}:5432/shop"

[systems.legacy.start]
command = ["serve", "--tenant", "${TENANT}", { value = "--licence=${LIC}", secret = true }]
env = { SERVICE_CONFIG = "${ENVV}" }

[systems.new]
base_url = "http://127.0.0.1:9"
headers = { X-Request-Source = "v1-${HDR}" }

[[smoke.endpoints]]
path = "/api/${TENANT}/items?q=${QS}"

[[smoke.endpoints]]
path = "/api/items"
headers = { Accept = { value = "${FLAG}", secret = false } }
""",
    )
    # FLAG: a header value, even marked `secret = false`; HOST and TENANT: a host and a path.
    assert secret == {"HDR", "ENVV", "QS", "PW", "LIC", "FLAG"}


def test_a_marked_value_is_secret_wherever_it_is(tmp_path: Path) -> None:
    secret = load(
        tmp_path,
        MINIMAL_CONFIG + '\n[ab]\ncorpus = "c.jsonl"\nopenapi = { value = "${TENANT}", '
        "secret = true }\n",
    )
    assert secret == {"TENANT"}


def test_marking_takes_a_string(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"smoke.retry_deadline.value: `secret = true` marks"):
        load(
            tmp_path, MINIMAL_CONFIG + "\n[smoke]\nretry_deadline = { value = 3, secret = true }\n"
        )


def test_an_error_about_the_config_shows_no_value_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "cutover.toml").write_text(
        MINIMAL_CONFIG.replace('"http://127.0.0.1:9"\n', '"ftp://u:${PW}@host"\n', 1)
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "cutover.toml", ENVIRON)
    assert "systems.legacy.base_url = 'ftp://u:***@host'" in str(caught.value)


def test_urls_and_headers_of_every_section_are_known(tmp_path: Path) -> None:
    secret = load(
        tmp_path,
        MINIMAL_CONFIG
        + """
[ab]
noise_base_url = "http://n:${PW}@legacy-2.internal"
[ab.new]
headers = { X-Side = "${HDR}" }
[metrics.scrape]
urls = { new = "http://${HOST}:9100/metrics?key=${QS}" }
[traffic]
driver = "http"
[traffic.http]
url = "http://lb/split?w={percent}"
status_url = "http://lb/status?t=${ENVV}"
[actions.rollback]
command = ["rollback.sh"]
env = { NOTE = "${LIC}" }
""",
    )
    assert secret == {"PW", "HDR", "QS", "ENVV", "LIC"}


def test_each_corpus_format_yields_its_secret_named_values(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text(
        json.dumps(
            {
                "path": "/a",
                "query": {"api_key": "jsonl-query-1", "page": "2"},
                "headers": {"X-Api-Key": "jsonl-header-2", "Cookie": "theme=dark; sid_token=c3"},
            }
        )
        + "\n"
    )
    har = {"log": {"entries": [{"request": {
        "method": "GET", "url": "http://x/b?access_token=har-query-4%2B&sort=asc",
        "headers": [{"name": "Authorization", "value": "Bearer har-header-5"}],
    }}]}}  # fmt: skip
    (tmp_path / "c.har").write_text(json.dumps(har))
    (tmp_path / "c.log").write_text(
        '10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /c?token=log-query-6 HTTP/1.1" 200 1\n'
    )
    found = set()
    for name in ("c.jsonl", "c.har", "c.log"):
        found |= corpus_secrets(load_corpus(tmp_path / name).requests)
    assert found == {
        "jsonl-query-1", "jsonl-header-2", "theme=dark; sid_token=c3", "c3",
        "har-query-4%2B", "har-query-4+", "Bearer har-header-5", "log-query-6",
    }  # fmt: skip


def test_the_config_redactor_knows_the_corpus_before_any_gate_runs(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"path": "/a", "headers": {"Authorization": "Bearer corpus-t0ken-77"}}) + "\n"
    )
    (tmp_path / "cutover.toml").write_text(MINIMAL_CONFIG + '\n[ab]\ncorpus = "c.jsonl"\n')
    config = load_config(tmp_path / "cutover.toml", {})
    assert config.output.text("echoed corpus-t0ken-77") == "echoed ***"
