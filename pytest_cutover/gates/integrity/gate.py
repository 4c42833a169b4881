"""Integrity gate: does the new database hold exactly the legacy rows, and which rows differ?

Per table: plan (schemas, columns, types) -> key checks -> bucketed checksums on both sides at
once -> rows of the differing buckets only -> named differences. A table that cannot be read is
INCONCLUSIVE; a proven difference is FAIL.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine

from pytest_cutover.gates.base import Gate, RunContext, Setup
from pytest_cutover.gates.integrity.compare import (
    CHANGED,
    DUPLICATE,
    EXTRA,
    MISSING,
    compare_rows,
    differing_buckets,
)
from pytest_cutover.gates.integrity.config import IntegrityConfig, TableCheck
from pytest_cutover.gates.integrity.encoding import Bucket, bucket_count
from pytest_cutover.gates.integrity.evidence import (
    describe_key,
    differences_path,
    reasons_for,
    redact_differences,
    write_differences,
)
from pytest_cutover.gates.integrity.plan import SIDES, PlanError, TablePlan, build_plan
from pytest_cutover.gates.integrity.readers import ReadError, SideReader, reader_for
from pytest_cutover.gates.integrity.widespread import choose_buckets, spread
from pytest_cutover.gates.result import GateResult, Outcome
from pytest_cutover.output import Output
from pytest_cutover.progress import Progress
from pytest_cutover.redact import Redactor

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig

GATE = "integrity"
# About a thousand rows a bucket: few enough groups that the database aggregates them in memory,
# and the rows of a differing bucket are still a small fetch.
_ROWS_PER_BUCKET = 1000
_MAX_DIGITS = 5
_EXAMPLES = 3  # rows shown per differing column when the table differs too widely to list
T = TypeVar("T")


def bucket_digits(estimated_rows: int | None) -> int:
    """Hex digits of the key hash that name a bucket: 16 to 16^5 buckets of about 1000 rows."""
    if estimated_rows is None:
        return 3
    wanted = max(estimated_rows / _ROWS_PER_BUCKET, 1.0)
    return max(1, min(_MAX_DIGITS, math.ceil(math.log(wanted, 16))))


def check_table(
    table: TableCheck,
    settings: IntegrityConfig,
    engines: Mapping[str, Engine],
    redactor: Redactor,
    reports_dir: Path | None = None,
) -> GateResult:
    """Compare one table; never raises for a user or database problem (that is INCONCLUSIVE)."""
    started = time.perf_counter()
    if reports_dir is not None:  # a file from an earlier run must not pass for this run's
        differences_path(reports_dir, table.label).unlink(missing_ok=True)
    try:
        plan = build_plan(table, dict(engines))
        with ThreadPoolExecutor(2, thread_name_prefix=f"integrity-{table.label}") as pool:
            return _TableRun(plan, settings, engines, redactor, reports_dir, pool, started).run()
    except (PlanError, ReadError) as err:
        return _could_not_run(table, redactor, str(err), started)
    except Exception as err:  # fail closed with a message, never a traceback in the gate run
        return _could_not_run(table, redactor, f"unexpected {type(err).__name__}: {err}", started)


def _could_not_run(
    table: TableCheck, redactor: Redactor, message: str, started: float
) -> GateResult:
    return GateResult(
        gate=GATE,
        name=table.label,
        outcome=Outcome.INCONCLUSIVE,
        reasons=(redactor.text(message),),
        measurements={"seconds": time.perf_counter() - started},
        evidence={"error": redactor.text(message)},
    )


def start_tables(
    settings: IntegrityConfig,
    engines: Mapping[str, Engine],
    redactor: Redactor,
    reports_dir: Path | None,
    pool: ThreadPoolExecutor,
    labels: set[str] | None = None,
) -> dict[str, Future[GateResult]]:
    """Submit the tables (all, or those labelled) to a pool sized integrity.parallel."""
    return {
        table.label: pool.submit(check_table, table, settings, engines, redactor, reports_dir)
        for table in settings.tables
        if labels is None or table.label in labels
    }


class IntegrityGate(Gate[IntegrityConfig]):
    name = GATE

    def section(self, config: CutoverConfig) -> IntegrityConfig | None:
        return config.integrity if config.integrity.tables else None

    def cases(self, section: IntegrityConfig, setup: Setup) -> list[str]:
        return [table.label for table in section.tables]

    def not_configured(self) -> str:
        return "no [[integrity.tables]] declared in cutover.toml"

    def run(
        self, section: IntegrityConfig, context: RunContext, cases: Sequence[str]
    ) -> dict[str, GateResult]:
        """The selected tables side by side, integrity.parallel at a time."""
        engines = {side: context.database(side) for side in SIDES}
        with (
            _progress_from_log(context.progress),
            ThreadPoolExecutor(section.parallel, thread_name_prefix="integrity") as pool,
        ):
            futures = start_tables(
                section, engines, context.redactor, context.reports_dir, pool, set(cases)
            )
            results = {label: future.result() for label, future in futures.items()}
        context.progress.finish("integrity", f"{len(results)} tables compared")
        return results


@contextmanager
def _progress_from_log(progress: Progress) -> Iterator[None]:
    """The gate logs how far it hashed each table; while it runs, those lines are the progress
    the person waiting sees."""
    log = logging.getLogger("pytest_cutover.integrity")
    handler, level = _ProgressHandler(progress), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


class _ProgressHandler(logging.Handler):
    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.update("integrity", note=record.getMessage())


def check_tables(
    settings: IntegrityConfig,
    engines: Mapping[str, Engine],
    redactor: Redactor,
    reports_dir: Path | None = None,
) -> list[GateResult]:
    """Every configured table, at most integrity.parallel at a time (two connections each)."""
    with ThreadPoolExecutor(settings.parallel, thread_name_prefix="integrity") as pool:
        futures = start_tables(settings, engines, redactor, reports_dir, pool)
        return [future.result() for future in futures.values()]


class _TableRun:
    """One table's comparison; both sides' readers hold their snapshot for the whole run."""

    def __init__(
        self,
        plan: TablePlan,
        settings: IntegrityConfig,
        engines: Mapping[str, Engine],
        redactor: Redactor,
        reports_dir: Path | None,
        pool: ThreadPoolExecutor,
        started: float,
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.engines = engines
        self.redactor = redactor
        self.reports_dir = reports_dir
        self.pool = pool
        self.started = started
        self.evidence: dict[str, Any] = {
            "legacy_table": plan.legacy.display,
            "new_table": plan.new.display,
            "key": [p.legacy for p in plan.pairs[: plan.key_width]],
            "columns": plan.mapping(),
            "not_compared": {
                "legacy_only": list(plan.legacy_only),
                "new_only": list(plan.new_only),
                "skipped": list(plan.skipped),
            },
            "filters": {"legacy": plan.legacy.row_filter, "new": plan.new.row_filter},
        }

    def _both(
        self, readers: Mapping[str, SideReader], work: Callable[[SideReader], T]
    ) -> dict[str, T]:
        futures = {side: self.pool.submit(work, readers[side]) for side in SIDES}
        wait(futures.values())  # both finish before either error closes the connections
        return {side: future.result() for side, future in futures.items()}

    def run(self) -> GateResult:
        with ExitStack() as stack:
            readers = {
                side: stack.enter_context(
                    reader_for(
                        self.engines[side], self.plan.side(side), self.settings.statement_timeout
                    )
                )
                for side in SIDES
            }
            key_checks = self._both(readers, lambda r: r.key_problems(self.settings.max_listed))
            estimates = self._both(readers, lambda r: r.estimate_rows())
            digits = bucket_digits(
                max((e for e in estimates.values() if e is not None), default=None)
            )
            sums = self._both(readers, lambda r: r.checksums(digits))
            counts = {side: sum(slot[0] for slot in sums[side].values()) for side in SIDES}
            differing = differing_buckets(sums["legacy"], sums["new"])
            self.evidence |= {
                "rows": counts,
                "key_checks": key_checks,
                "checksum": "differ" if differing else "match",
                "buckets": {
                    "total": bucket_count(digits, self.plan.legacy.integer_key),
                    "differing": len(differing),
                },
            }
            to_fetch = sum(max(pair) for pair in differing.values())
            if to_fetch > self.settings.max_fetched_rows:
                return self._widespread(readers, digits, counts, differing, to_fetch)
            rows = self._both(readers, lambda r: r.rows_in(digits, differing)) if differing else {}
        found = compare_rows(self.plan, rows.get("legacy", []), rows.get("new", []))
        if differing and not found.items and all(p.tolerance is None for p in self.plan.pairs):
            return self._unexplained(counts, differing)
        return self._verdict(
            counts, key_checks, found.items, found.counts, dict(found.changed_columns)
        )

    def _measurements(self, counts: Mapping[str, int], **extra: float) -> dict[str, float]:
        seconds = time.perf_counter() - self.started
        return {
            "legacy_rows": counts["legacy"],
            "new_rows": counts["new"],
            "seconds": seconds,
            "rows_per_second": (counts["legacy"] + counts["new"]) / seconds if seconds else 0.0,
            **extra,
        }

    def _widespread(
        self,
        readers: Mapping[str, SideReader],
        digits: int,
        counts: Mapping[str, int],
        differing: Mapping[Bucket, tuple[int, int]],
        to_fetch: int,
    ) -> GateResult:
        """Too many rows to fetch: a second pass names the differing columns with a lower bound
        of rows each; the rows of a few buckets, within max_fetched_rows, give exact examples."""
        sums = self._both(readers, lambda r: r.column_checksums(digits))
        names = [p.legacy for p in self.plan.pairs[self.plan.key_width :]]
        found = spread(names, sums["legacy"], sums["new"])
        sizes = {bucket: max(pair) for bucket, pair in differing.items()}
        chosen = choose_buckets(found, sizes, self.settings.max_fetched_rows)
        rows = self._both(readers, lambda r: r.rows_in(digits, chosen)) if chosen else {}
        sample = compare_rows(self.plan, rows.get("legacy", []), rows.get("new", []))
        shown = redact_differences(self.plan, sample.items, self.redactor)
        path = None
        if self.reports_dir is not None:
            path = differences_path(self.reports_dir, self.plan.label)
            write_differences(Output(self.redactor), path, shown)
        fetched = set(chosen)
        fetched_rows = len(rows.get("legacy", []))
        # Within a tolerance, only rows compared one by one prove a difference: rounded sums
        # may differ for values that are within it.
        tolerant = {p.legacy for p in self.plan.pairs if p.tolerance is not None}
        bounds = {
            name: sample.changed_columns.get(name, 0)
            + (0 if name in tolerant else found.rows_at_least(name, fetched))
            for name in names
        }
        bounds = {name: n for name, n in bounds.items() if n}
        kinds = {
            kind: sample.counts.get(kind, 0) + found.kind_at_least(kind, fetched)
            for kind in (MISSING, EXTRA)
        }
        in_differing = sum(pair[0] for pair in differing.values())
        columns: dict[str, dict[str, Any]] = {
            name: {
                "rows_at_least": bound,
                "in_fetched_rows": sample.changed_columns.get(name, 0),
                "differing_buckets": len(found.columns.get(name, [])),
                "examples": _examples(shown, name),
                **(
                    {"rows_about": round(in_differing * changed / fetched_rows)}
                    if (changed := sample.changed_columns.get(name, 0)) and fetched_rows
                    else {}
                ),
            }
            for name, bound in bounds.items()
        }
        total = self.evidence["buckets"]["total"]
        scale = (
            f"checksums differ in {len(differing)} of {total} buckets (about {to_fetch} rows, "
            f"more than integrity.max_fetched_rows = {self.settings.max_fetched_rows}); rows "
            f"compared one by one in {len(chosen)} of those buckets ({fetched_rows} legacy rows)"
            f"; rows: legacy {counts['legacy']}, new {counts['new']}"
        )
        reasons = [scale]
        for name, described in columns.items():
            about = f", about {described['rows_about']}" if "rows_about" in described else ""
            examples = "; ".join(described["examples"]) or "no example within the limit"
            reasons.append(
                f"column {name} differs in at least {described['rows_at_least']} row(s)"
                f"{about}: {examples}"
            )
        unproven = {
            name: n
            for name in sorted(tolerant)
            if name not in bounds and (n := found.rows_at_least(name, fetched))
        }
        for name, n in unproven.items():
            reasons.append(
                f"column {name}: rounded checksums differ in {n} bucket(s) not compared row by "
                "row, so whether it is within its tolerance is not known"
            )
        for kind, words in ((MISSING, "missing in new"), (EXTRA, "extra in new (not in legacy)")):
            if kinds[kind]:
                keys = [describe_key(i["key"]) for i in shown if i["kind"] == kind][:_EXAMPLES]
                listed = f": {'; '.join(keys)}" if keys else ""
                reasons.append(f"at least {kinds[kind]} row(s) {words}{listed}")
        reasons.append(
            f"only the {len(shown)} difference(s) of the compared buckets are listed"
            + (f" in {path.name}" if path else "")
            + "; for the full list narrow the table with legacy_filter/new_filter or raise "
            "integrity.max_fetched_rows"
        )
        self.evidence |= {
            "narrowing": "sampled: too many differing rows to fetch them all",
            "fetched_buckets": len(chosen),
            "fetched_rows": fetched_rows,
            "missing_in_new_at_least": kinds[MISSING],
            "extra_in_new_at_least": kinds[EXTRA],
            "changed_columns": {name: c["rows_at_least"] for name, c in columns.items()},
            "column_differences": columns,
            "columns_not_proven": unproven,
            "differences": shown[: self.settings.max_listed],
            "differences_total": len(shown),
            "differences_file": str(path) if path else None,
            "differences_file_complete": False,
        }
        proven = (
            bool(sample.items)
            or any(kinds.values())
            or any(name not in tolerant for name in bounds)
            or counts["legacy"] != counts["new"]
        )
        at_least = max(bounds.values(), default=0) + kinds[MISSING] + kinds[EXTRA]
        return GateResult(
            gate=GATE,
            name=self.plan.label,
            outcome=Outcome.FAIL if proven else Outcome.INCONCLUSIVE,
            reasons=tuple(self.redactor.text(r) for r in reasons),
            measurements=self._measurements(
                counts,
                differing_buckets=len(differing),
                differing_rows_at_least=at_least,
                missing_in_new=kinds[MISSING],
                extra_in_new=kinds[EXTRA],
                changed_rows=max(bounds.values(), default=0),
            ),
            evidence=self._redacted(self.evidence),
        )

    def _unexplained(
        self, counts: Mapping[str, int], differing: Mapping[Bucket, tuple[int, int]]
    ) -> GateResult:
        """Checksums differ, yet the fetched rows are equal: never a pass. Row counts that
        differ are proof enough for FAIL; otherwise the comparison itself is in doubt."""
        self.evidence["narrowing"] = "no differing row found in the differing buckets"
        message = (
            f"checksums differ in {len(differing)} bucket(s) but the rows "
            f"fetched from them are equal (rows: legacy {counts['legacy']}, new {counts['new']}); "
            f"a value may have no exact canonical form on one side"
        )
        return GateResult(
            gate=GATE,
            name=self.plan.label,
            outcome=Outcome.FAIL if counts["legacy"] != counts["new"] else Outcome.INCONCLUSIVE,
            reasons=(self.redactor.text(message),),
            measurements=self._measurements(counts, differing_buckets=len(differing)),
            evidence=self._redacted(self.evidence),
        )

    def _redacted(self, evidence: dict[str, Any]) -> dict[str, Any]:
        return self.redactor.value(evidence)  # type: ignore[return-value]

    def _verdict(
        self,
        counts: Mapping[str, int],
        key_checks: Mapping[str, Mapping[str, Any]],
        items: list[dict[str, Any]],
        kinds: Mapping[str, int],
        changed_columns: dict[str, int],
    ) -> GateResult:
        shown = redact_differences(self.plan, items, self.redactor)
        path = None
        if self.reports_dir is not None:
            path = differences_path(self.reports_dir, self.plan.label)
            write_differences(Output(self.redactor), path, shown)
        self.evidence |= {
            "narrowing": "complete",
            "missing_in_new": kinds.get(MISSING, 0),
            "extra_in_new": kinds.get(EXTRA, 0),
            "changed": kinds.get(CHANGED, 0),
            "duplicate_key": kinds.get(DUPLICATE, 0),
            "changed_columns": changed_columns,
            "differences": shown[: self.settings.max_listed],
            "differences_total": len(shown),
            "differences_file": str(path) if path else None,
        }
        reasons = reasons_for(shown, kinds)
        key_reasons = [
            f"{side} has {problem.get('null_keys', 0)} row(s) with a NULL key "
            f"and {problem.get('duplicate_keys', 0)} duplicated key value(s) in "
            f"({', '.join(self.evidence['key'])}); rows cannot be matched one to one"
            for side, problem in key_checks.items()
            if problem.get("null_keys") or problem.get("duplicate_keys")
        ]
        if not counts["legacy"] and not counts["new"] and not self.plan.allow_empty:
            # A misspelt filter or an empty copy would otherwise prove nothing and pass.
            key_reasons.append(
                "both sides have 0 rows: nothing was compared (check the table and its "
                "filters, or set allow_empty = true)"
            )
        if reasons:
            outcome = Outcome.FAIL
        elif key_reasons:
            outcome = Outcome.INCONCLUSIVE
        else:
            outcome = Outcome.PASS
        return GateResult(
            gate=GATE,
            name=self.plan.label,
            outcome=outcome,
            reasons=tuple(self.redactor.text(r) for r in [*reasons, *key_reasons]),
            measurements=self._measurements(
                counts,
                missing_in_new=kinds.get(MISSING, 0),
                extra_in_new=kinds.get(EXTRA, 0),
                changed_rows=kinds.get(CHANGED, 0),
                differing_rows=len(items),
            ),
            evidence=self._redacted(self.evidence),
        )


def _examples(shown: list[dict[str, Any]], column: str) -> list[str]:
    """A few changed rows of one column, by key, with both values."""
    found = []
    for item in shown:
        change = item.get("columns", {}).get(column)
        if change is not None:
            found.append(f"{describe_key(item['key'])} ({change['legacy']!r} -> {change['new']!r})")
            if len(found) == _EXAMPLES:
                break
    return found
