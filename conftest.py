"""Repo-root glue: a bare `pytest` or `pytest -m canary_gate` here collects the gate suites in
suites/ (the plugin's shipped suites, under the editable install the README makes); the
project's own tests need .[test] and run when named: `pytest tests`."""

collect_ignore = ["fixtures", "bench", "reports", "docs", "tests"]
