"""The rollback helper: the team's quick-rollback script or webhook, bounded and recorded.

The traffic driver moves traffic back to legacy; the helper does the rest of the runbook's
rollback (stop the new services, restore feature flags, page someone). Its result, whatever it
is, is returned for the audit log and the report; it never raises for a failure of the helper.
"""

from __future__ import annotations

from pathlib import Path

from pytest_cutover.actions.calls import CallResult, call_http, run_command, with_retries
from pytest_cutover.actions.config import RollbackConfig


def describe_helper(config: RollbackConfig) -> str:
    if config.command is not None:
        return "command " + " ".join(config.command)
    assert config.http is not None  # RollbackConfig holds exactly one of the two
    return f"{config.http.method} {config.http.url}"


def run_helper(config: RollbackConfig, base_dir: Path, reason: str) -> CallResult:
    """Run the helper with `CUTOVER_ROLLBACK_REASON` in its environment, retried as configured."""
    http = config.http
    if http is None:
        assert config.command is not None
        cwd = base_dir / config.cwd if config.cwd else base_dir
        env = {**config.env, "CUTOVER_ROLLBACK_REASON": reason}
        command = config.command
        return with_retries(
            lambda: run_command(command, timeout=config.timeout, cwd=cwd, env=env),
            config.retries,
        )
    return with_retries(
        lambda: call_http(
            method=http.method,
            url=http.url,
            body=None if http.body is None else http.body.replace("{reason}", reason),
            headers=http.headers,
            expected_status=http.expected_status,
            timeout=config.timeout,
            verify_tls=http.verify_tls,
        ),
        config.retries,
    )
