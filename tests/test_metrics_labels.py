"""The error_rate preset against a real exporter that labels the status `code` (as Go's
promhttp does): it finds the label among the common names and says which it used, and a rule
whose error label no series carries is INCONCLUSIVE, never an error rate of 0."""

from __future__ import annotations

from pathlib import Path

from pytest_cutover.gates.metrics.gate import run_gate
from pytest_cutover.gates.metrics.presets import Signal, narrowed
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.redact import Redactor

from .metrics_support import CodeExporter, metrics_config

SCRAPED = """
[metrics]
source = "scrape"
interval = "500ms"
rate_window = "2s"

[metrics.synthetic]
paths = ["/work"]
rate = 50

[[metrics.rules]]
name = "detected"
preset = "error_rate"
critical = "error_rate < 5%"

[[metrics.rules]]
name = "told status"
preset = "error_rate"
error_labels = { status = "re:5.." }
critical = "error_rate < 5%"

[[metrics.rules]]
name = "told status, no data passes"
preset = "error_rate"
error_labels = { status = "re:5.." }
critical = "error_rate < 5%"
no_data = "pass"
"""


def judge(tmp_path: Path) -> dict[str, GateResult]:
    with CodeExporter(tmp_path) as exporter:
        results = run_gate(metrics_config(SCRAPED), {"new": exporter.system}, Redactor())
    return {result.name: result for result in results}


def test_a_code_labelled_exporter_gives_its_real_error_rate_and_a_missing_label_no_data(
    tmp_path: Path,
) -> None:
    results = judge(tmp_path)
    detected = results["detected"]
    assert detected.outcome is Outcome.FAIL, detected.reasons
    assert 0.05 < detected.measurements["error_rate"] < 0.2  # every tenth request is a 503
    assert "http_requests_total{code='re:5..'}" in detected.evidence["signals"]["new.errors"]
    told = results["told status"]
    assert told.outcome is Outcome.INCONCLUSIVE
    assert "error_rate" not in told.measurements
    assert told.reasons[-1] == (
        "new: no series of http_requests_total{} carries the label status: "
        "cannot count 're:5..' among them (no data, not 0)"
    )
    # no_data = "pass" is for a metric not there yet, not for a rule reading a label that is not.
    assert results["told status, no data passes"].outcome is Outcome.INCONCLUSIVE


def test_a_missing_label_is_not_the_empty_value_a_regex_could_match() -> None:
    signal = Signal("rate", "m", (), (("status|code", "re:5.."),))
    assert narrowed(signal, {"code", "method"}) == Signal("rate", "m", (), (("code", "re:5.."),))
    assert narrowed(signal, {"status", "code"}) == Signal("rate", "m", (), (("status", "re:5.."),))
    assert isinstance(narrowed(signal, {"method"}), str)
