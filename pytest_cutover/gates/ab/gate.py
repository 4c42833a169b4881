"""The A/B gate as the suites drive it: one case per endpoint group, and the whole corpus."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_cutover.gates.ab.config import AbConfig
from pytest_cutover.gates.ab.judge import GATE, OVERALL
from pytest_cutover.gates.ab.run import AbSetupError, make_plan, run_ab
from pytest_cutover.gates.base import Gate, GateSetupError, RunContext, Setup
from pytest_cutover.gates.result import GateResult
from pytest_cutover.redact import Redactor

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig

REPORT = ("ab", "report.json")


class AbGate(Gate[AbConfig]):
    name = GATE

    def section(self, config: CutoverConfig) -> AbConfig | None:
        return config.ab if config.ab.corpus is not None else None

    def cases(self, section: AbConfig, setup: Setup) -> list[str]:
        try:
            groups = make_plan(section, setup.base_dir, Redactor()).groups
        except AbSetupError:
            groups = []  # the overall case reports why, once
        return [*groups, OVERALL]

    def not_configured(self) -> str:
        return "no [ab] corpus in cutover.toml"

    def run(
        self, section: AbConfig, context: RunContext, cases: Sequence[str]
    ) -> dict[str, GateResult]:
        """The whole corpus is replayed whichever cases were selected: the overall verdict and
        the noise statistics need every request."""
        try:
            plan = make_plan(section, context.base_dir, context.redactor)
            legacy = None if section.legacy_from_baseline else context.system("legacy")
            new = context.system("new")
            results = run_ab(
                section, context.base_dir, context.redactor, legacy, new, plan,
                progress=context.progress,
            )  # fmt: skip
        except AbSetupError as err:
            raise GateSetupError(str(err)) from None
        context.output.write_json(
            context.reports_dir.joinpath(*REPORT), [result.to_dict() for result in results]
        )
        return {result.name: result for result in results}
