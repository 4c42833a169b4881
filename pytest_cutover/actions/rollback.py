"""The rollback helpers: the team's quick and full rollback scripts or webhooks, bounded and
recorded.

The traffic driver moves traffic back; the helpers do the rest of the runbook's rollback (stop
the new services, restore feature flags, page someone). Which helpers serve a rollback is
`helpers_for`'s rule: those whose `on` names the trigger and whose `gates` (if any) include a
gate that failed, in the order written. A helper's result, whatever it is, is returned for the
audit log and the report; it never raises for a failure of the helper.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pytest_cutover.actions.calls import CallResult, call_http, run_command, with_retries
from pytest_cutover.actions.config import RollbackConfig, Trigger
from pytest_cutover.actions.template import body_quoting, fill, fill_command


def describe_helper(config: RollbackConfig) -> str:
    if config.command is not None:
        return "command " + " ".join(config.command)
    assert config.http is not None  # RollbackConfig holds exactly one of the two
    return f"{config.http.method} {config.http.url}"


def helpers_for(
    helpers: list[RollbackConfig], trigger: Trigger, gates: frozenset[str]
) -> list[tuple[str, RollbackConfig]]:
    """The helpers that serve this rollback, by name (or what they run), in the order
    cutover.toml lists them."""
    return [
        (helper.name or describe_helper(helper), helper)
        for helper in helpers
        if helper.serves(trigger, gates)
    ]


def run_helper(config: RollbackConfig, base_dir: Path, values: Mapping[str, str]) -> CallResult:
    """Run the helper once (with its own retries), `{step}`, `{reason}`, `{percent}` and
    `{decision}` filled in from `values` and also in its environment as CUTOVER_ROLLBACK_*."""
    http = config.http
    if http is None:
        assert config.command is not None
        cwd = base_dir / config.cwd if config.cwd else base_dir
        env = {
            **config.env,
            **{f"CUTOVER_ROLLBACK_{name.upper()}": value for name, value in values.items()},
        }
        command = fill_command(config.command, values)
        return with_retries(
            lambda: run_command(command, timeout=config.timeout, cwd=cwd, env=env),
            config.retries,
        )
    body = http.body
    return with_retries(
        lambda: call_http(
            method=http.method,
            url=fill(http.url, values, "url"),
            body=None if body is None else fill(body, values, body_quoting(body, http.headers)),
            headers=http.headers,
            expected_status=http.expected_status,
            timeout=config.timeout,
            verify_tls=http.verify_tls,
        ),
        config.retries,
    )
