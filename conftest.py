"""Repo-root glue: only suites/ and tests/ hold tests; the demo apps and benchmarks do not."""

collect_ignore = ["fixtures", "bench", "reports", "docs"]
