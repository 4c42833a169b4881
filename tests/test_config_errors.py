"""Every kind of cutover.toml mistake stops the run with a usage error that names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cutover.config import ConfigError, load_config
from tests.conftest import MINIMAL_CONFIG


def run_with_config(pytester: pytest.Pytester, text: str) -> pytest.RunResult:
    pytester.makefile(".toml", cutover=text)
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("-m", "canary_gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    return result


def test_unknown_key_is_named_with_a_suggestion(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, MINIMAL_CONFIG + 'timout = "5s"\n')
    result.stderr.fnmatch_lines(
        [
            "ERROR: *cutover.toml: invalid configuration:",
            "*systems.new.timout: unknown key (expected one of: base_url, connect_timeout,*"
            "did you mean 'timeout'?",
        ]
    )


def test_wrong_type_names_key_value_and_expectation(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, MINIMAL_CONFIG + 'timeout = "fast"\n')
    result.stderr.fnmatch_lines(
        ["*systems.new.timeout = 'fast': expected a duration such as '5s' or '250ms', got 'fast'"]
    )


def test_missing_required_value(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, '[systems.legacy]\nbase_url = "http://127.0.0.1:9"\n')
    result.stderr.fnmatch_lines(["*systems.new: required key is missing"])


def test_bad_url_and_bad_smoke_endpoint(pytester: pytest.Pytester) -> None:
    result = run_with_config(
        pytester,
        MINIMAL_CONFIG.replace("http://127.0.0.1:9", "ftp://x", 1)
        + '[[smoke.endpoints]]\npath = "api/users"\nmethod = "DELETE"\n',
    )
    result.stderr.fnmatch_lines(
        [
            "*systems.legacy.base_url = 'ftp://x': expected an http:// or https:// URL*",
            "*smoke.endpoints[[]0[]].path = 'api/users': expected a path that starts with '/'*",
            "*smoke.endpoints[[]0[]].method = 'DELETE': DELETE may change data on the live system*"
            "add safe = true*",
        ]
    )


def test_invalid_toml_says_where(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, "[systems.legacy]\nbase_url = http://x\n")
    result.stderr.fnmatch_lines(
        ["*cutover.toml: not valid TOML: Invalid value (at line 2, column 12)"]
    )


def test_unset_environment_variable_is_named(pytester: pytest.Pytester) -> None:
    result = run_with_config(
        pytester, MINIMAL_CONFIG + 'database = "postgresql://app:${NO_SUCH_VAR_X}@db/x"\n'
    )
    result.stderr.fnmatch_lines(
        [
            "*systems.new.database = *: environment variable NO_SUCH_VAR_X is not set "
            "(write ${NO_SUCH_VAR_X:-default} to give a default)"
        ]
    )


def test_missing_or_unreadable_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--cutover-config", "nowhere/cutover.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nowhere/cutover.toml: no such file*"])
    result = pytester.runpytest("--cutover-config", str(pytester.path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*: cannot be read: *Is a directory*"])


def test_bad_step_on_command_line_and_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--cutover-step", "150")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--cutover-step: expected a traffic step in percent from 0 to 100, got '150'"]
    )
    monkeypatch.setenv("CUTOVER_STEP", "half")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*CUTOVER_STEP: expected a traffic step*got 'half'"])


def test_environment_fills_values_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(
        MINIMAL_CONFIG.replace("127.0.0.1:9", "${HOST:-127.0.0.1}:${PORT}")
        + 'database = "sqlite:///data/$${literal}.db"\n'
    )
    config = load_config(path, environ={"PORT": "8080"})
    assert config.systems.new.base_url == "http://127.0.0.1:8080"
    assert config.systems.new.database == "sqlite:///data/${literal}.db"
    with pytest.raises(ConfigError, match="environment variable PORT is not set"):
        load_config(path, environ={})


def test_passwords_from_the_environment_are_redacted_in_descriptions(tmp_path: Path) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(MINIMAL_CONFIG + 'database = "postgresql://app:${DB_PASSWORD}@db/x"\n')
    config = load_config(path, environ={"DB_PASSWORD": "s3cr3t-pw"})
    assert config.describe_systems()["new"]["database"] == "postgresql://app:***@db/x"
    assert config.redactor.text("auth failed with s3cr3t-pw") == "auth failed with ***"


def test_every_section_that_holds_credentials_declares_them(tmp_path: Path) -> None:
    planted = {
        "systems.new.headers": "sys-hdr-0001",
        "systems.new.start.env": "start-env-0002",
        "smoke.endpoints.path": "smoke-qs-0003",
        "smoke.endpoints.headers": "smoke-hdr-0004",
        "ab.new.headers": "ab-hdr-0005",
        "ab.noise_base_url": "noise-pw-0006",
        "metrics.scrape.urls": "scrape-qs-0007",
        "metrics.prometheus.headers": "prom-hdr-0008",
    }
    path = tmp_path / "cutover.toml"
    path.write_text(
        f"""
[systems.legacy]
base_url = "http://127.0.0.1:9"
[systems.new]
base_url = "http://127.0.0.1:{{port}}"
headers = {{ Authorization = "Bearer {planted["systems.new.headers"]}" }}
[systems.new.start]
command = "serve"
env = {{ SERVICE_TOKEN = "{planted["systems.new.start.env"]}", MODE = "canary-mode" }}
[[smoke.endpoints]]
path = "/api/item/1?api_key={planted["smoke.endpoints.path"]}"
headers = {{ X-Api-Key = "{planted["smoke.endpoints.headers"]}", Accept = "text/plain" }}
[ab]
corpus = "corpus.jsonl"
noise_base_url = "http://gate:{planted["ab.noise_base_url"]}@127.0.0.1:9"
new = {{ headers = {{ Cookie = "{planted["ab.new.headers"]}" }} }}
[metrics.scrape]
urls = {{ new = "http://127.0.0.1:9/metrics?token={planted["metrics.scrape.urls"]}" }}
[metrics.prometheus]
url = "http://127.0.0.1:9"
headers = {{ Authorization = "{planted["metrics.prometheus.headers"]}" }}
"""
    )
    secrets = load_config(path).secrets()
    for where, value in planted.items():
        assert any(value in secret for secret in secrets), where
    assert "canary-mode" not in secrets  # a harmless value under a harmless name stays visible
    assert "text/plain" not in secrets


def test_a_port_placeholder_needs_a_start_command(tmp_path: Path) -> None:
    path = tmp_path / "cutover.toml"
    path.write_text(MINIMAL_CONFIG.replace("127.0.0.1:9", "127.0.0.1:{port}"))
    with pytest.raises(ConfigError, match="only filled in for a system with"):
        load_config(path)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('"schemas/missing.json"', "*json_schema = 'schemas/missing.json': no such file*"),
        ('"broken.json"', "*json_schema = 'broken.json': not a readable JSON file*"),
        ('{ type = "objekt" }', "*json_schema = {'type': 'objekt'}: not a valid JSON Schema*"),
    ],
)
def test_a_smoke_schema_that_cannot_be_used_is_a_config_error(
    pytester: pytest.Pytester, schema: str, message: str
) -> None:
    pytester.makefile(".json", broken="{not json")
    config = MINIMAL_CONFIG + f'[[smoke.endpoints]]\npath = "/x"\njson_schema = {schema}\n'
    result = run_with_config(pytester, config)
    result.stderr.fnmatch_lines([message.replace("[", "[[]")])


def test_ab_section_mistakes_name_the_key(pytester: pytest.Pytester) -> None:
    result = run_with_config(
        pytester,
        MINIMAL_CONFIG
        + '[ab]\ncorpus = "c.jsonl"\nthresholds = ["match_rate >= 99.5"]\nnormalise = ["times"]\n'
        + '[[ab.endpoints]]\npattern = "users/{id}"\n[[ab.accept]]\nfield = "email"\n'
        + 'reason = "known"\nexpires = 2026-12-31\n',
    )
    result.stderr.fnmatch_lines(
        [
            "*ab.normalise[[]0[]] = 'times': Input should be 'timestamps', *",
            "*ab.endpoints[[]0[]].pattern = 'users/{id}': expected a path pattern such as*",
            "*ab.accept[[]0[]].field = 'email': 'email': a field path starts with status, headers*",
        ]
    )
    result.stderr.fnmatch_lines(["*'match_rate >= 99.5': match_rate is a share; write 99.5%*"])
