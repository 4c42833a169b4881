"""The load suite through pytest, next to locust's own pytest plugin (installed with locust:
fixtures `session` and `fastsession`, option `--host`), which must not clash with ours; and
the pytest process never imports locust or gevent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .test_ab_suite import CountingServer


@pytest.fixture
def server() -> Iterator[CountingServer]:
    found = CountingServer()
    yield found
    found.close()


def test_load_suite_runs_locust_outside_the_pytest_process(
    pytester: pytest.Pytester, server: CountingServer
) -> None:
    pytester.makefile(
        ".toml",
        cutover=f"""
[systems.legacy]
base_url = "{server.url}"
[systems.new]
base_url = "{server.url}"
[[smoke.endpoints]]
path = "/ping"
[load]
users = 2
rate = 20
duration = "2s"
thresholds = ["error_rate < 1%", "p95 < 1s"]
""",
    )
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish():
            print("imported:", sorted({"gevent", "locust"} & set(sys.modules)))
        """
    )
    serial = pytester.runpytest_subprocess("-m", "load", "-s", "--host", "http://x:9")
    serial.assert_outcomes(passed=1)
    serial.stdout.fnmatch_lines(["CUTOVER DECISION: GO*"])
    assert "imported: []" in serial.stdout.str()  # printed by the process that ran the gate
    server.counts["requests"] = 0
    spread = pytester.runpytest_subprocess("-m", "load", "-p", "xdist", "-n", "2")
    spread.assert_outcomes(passed=1)
    # Once, not once per worker: ~2 s at 20/s is 40 (fewer on a loaded machine), twice 80.
    assert 1 <= server.counts["requests"] <= 60


def test_our_fixtures_and_locusts_are_both_there(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures", "--host", "http://127.0.0.1:9")
    assert result.ret == 0
    result.stdout.fnmatch_lines_random(["session*", "fastsession*", "legacy*", "new_http*"])
