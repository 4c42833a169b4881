"""The `cutover` command: the same library code as the plugin, for people and scripts.

`check` validates a config the way the plugin would and shows it with secrets masked;
`ab-record` records legacy's answers to the A/B corpus, for gating when legacy cannot be asked;
`baseline` stores legacy's load figures, for the steps after legacy stops serving the whole load;
`status`, `shift`, `rollback` and `run` act on traffic (pytest_cutover.actions.commands);
`init` writes a commented cutover.toml; `schema` prints the JSON Schema of cutover.toml.

The config file and the reports folder are resolved exactly as the plugin resolves them
(option, then CUTOVER_CONFIG / CUTOVER_REPORTS, then the nearest cutover.toml upward), so
`cutover status` reads the audit log the gate run wrote. Heavy modules are imported by the
command that needs them: `cutover --version` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_cutover import __version__
from pytest_cutover.settings import CONFIG_FILENAME, add_setting_options, resolve_settings

if TYPE_CHECKING:
    from pytest_cutover.config import CutoverConfig
    from pytest_cutover.output import Output


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from pytest_cutover.output import Output

    if args.command == "init":
        return _init(args.dir, args.force, Output())
    if args.command == "schema":
        return _schema(args.out, Output())
    from pytest_cutover.config import ConfigError, load_config

    # Until the config is read only secrets shown by their names are known; from then on the
    # config's own Output prints every line, an error or a crash included.
    output = Output()
    try:
        settings = resolve_settings(
            option={"config": args.cutover_config, "reports": args.cutover_reports},
            ini={},
            environ=os.environ,
            rootdir=Path.cwd(),
            invocation_dir=Path.cwd(),
        )
        path = settings.config_path.value
        if path is None:
            raise ConfigError(
                f"no {CONFIG_FILENAME} here or in a folder above: give --config PATH or set "
                "CUTOVER_CONFIG (`cutover init` writes one)"
            )
        config = load_config(path)
        output = config.output
        return _command(args, config, settings.reports_dir.value)
    except Exception as err:
        return _failed(err, output)


def _command(args: argparse.Namespace, config: CutoverConfig, reports: Path) -> int:
    if args.command == "check":
        return _check(config, args.json, args.connect)
    if args.command == "ab-record":
        return _record(config, args.out)
    if args.command == "baseline":
        return _baseline(config, args.file, reports)
    from pytest_cutover.actions.commands import run_command

    return run_command(args, config, reports)


def _failed(err: Exception, output: Output) -> int:
    """A user's mistake is one line and exit 2; anything else is a bug, shown with its
    traceback (exit 1). Both go through `output`: a driver's error names its URL."""
    from rich.markup import escape

    from pytest_cutover.config import ConfigError
    from pytest_cutover.gates.ab.run import AbSetupError
    from pytest_cutover.gates.base import GateSetupError
    from pytest_cutover.launcher import StartError

    errors = output.console(stderr=True, highlight=False, soft_wrap=True)
    if isinstance(err, ConfigError | AbSetupError | GateSetupError | StartError | ValueError):
        errors.print(f"[red]error:[/red] {escape(str(err))}", markup=True)
        return 2
    errors.print(escape("".join(traceback.format_exception(err))), markup=False)
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cutover", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pytest-cutover {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate cutover.toml and show it, secrets masked")
    check.add_argument("--json", action="store_true", help="print the systems as JSON")
    check.add_argument(
        "--connect",
        action="store_true",
        help="connect read-only and check each integrity table, key and column on both sides",
    )
    record = commands.add_parser(
        "ab-record", help="record legacy's answers to the A/B corpus (ab.baseline)"
    )
    record.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write the recorded answers (default: ab.baseline in cutover.toml)",
    )
    baseline = commands.add_parser(
        "baseline", help="load legacy alone and store its figures for [load] baseline"
    )
    baseline.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="the baseline file to write (name it in [load] baseline, such as legacy-load.json)",
    )
    from pytest_cutover.actions.command_line import add_commands

    add_commands(commands)
    for command in commands.choices.values():
        add_setting_options(command.add_argument, "", ("config", "reports"), ini=False)
    init = commands.add_parser("init", help="write a commented cutover.toml")
    init.add_argument(
        "--dir",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the folder to write cutover.toml in (default: the current one)",
    )
    init.add_argument("--force", action="store_true", help="overwrite a cutover.toml that exists")
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of cutover.toml, for editors (Taplo, VS Code, JetBrains)",
    )
    schema.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PATH",
        help="write it to this file instead of printing it (such as .cutover.schema.json)",
    )
    return parser


def _record(config: CutoverConfig, out: Path | None) -> int:
    from pytest_cutover.gates.ab.run import make_plan, record_baseline
    from pytest_cutover.launcher import SystemPool

    ab = config.ab
    target = out or (config.base_dir / ab.baseline if ab.baseline else None)
    if target is None:
        raise ValueError("give --out DIR or set ab.baseline in cutover.toml")
    plan = make_plan(ab, config.base_dir, config.redactor)
    pool = SystemPool(config, target / "systems")
    try:
        count = record_baseline(ab, pool.get("legacy"), plan, target, config.output)
    finally:
        pool.stop_all()
    config.output.console(highlight=False).print(
        f"recorded legacy's answers to {count} requests in {target} "
        f"({len(plan.not_replayed)} not replayed: unsafe methods)"
    )
    return 0


def _baseline(config: CutoverConfig, file: Path, reports: Path) -> int:
    from pytest_cutover.gates.load.baseline import store, stored_line

    stored = store(config, file, reports)
    config.output.console(highlight=False, soft_wrap=True).print(stored_line(stored))
    return 0


def _schema(out: Path | None, output: Output) -> int:
    from pytest_cutover.schema import schema_text

    text = schema_text()
    if out is None:
        output.print(text.rstrip("\n"))
        return 0
    output.write_text(out, text)
    output.console(stderr=True, highlight=False, soft_wrap=True).print(f"wrote {out}")
    return 0


def _init(target: Path, force: bool, output: Output) -> int:
    from pytest_cutover.scaffold import write_config

    console = output.console(highlight=False, soft_wrap=True)
    path = target / CONFIG_FILENAME
    if write_config(path, force=force):
        console.print(f"wrote {path}")
    else:
        console.print(f"kept {path} (exists; --force overwrites it)")
    console.print("next: edit cutover.toml, then `cutover check` and `pytest -m canary_gate`")
    return 0


def _check(config: CutoverConfig, as_json: bool, connect: bool = False) -> int:
    from pytest_cutover.integrity_check import check_connections, describe

    console = config.output.console(highlight=False, soft_wrap=True)
    systems = config.describe_systems()
    tables = config.integrity.tables
    statuses = check_connections(config) if connect and tables else []
    failed = 1 if any(not s.ok for s in statuses) else 0
    if as_json:
        described: dict[str, object] = {"config": str(config.path), "systems": systems}
        described["integrity_tables"] = [describe(t) for t in tables]
        if connect:
            described["integrity_check"] = [s.as_dict() for s in statuses]
        config.output.print(config.output.json(described))
        return failed
    console.print(f"{config.path}: valid")
    for name, system in systems.items():
        started = " (started by the plugin)" if system["started_by_plugin"] else ""
        console.print(f"  {name}: {system['base_url'] or 'no base_url'}{started}")
        for service, shown in system.get("services", {}).items():
            console.print(f"    {service} service, {shown['base_url']}")
        if system["database"]:
            console.print(f"    database: {system['database']}")
    console.print(f"  smoke: {len(config.smoke.endpoints)} declared endpoint checks")
    console.print(f"  ab: corpus {config.ab.corpus or 'not set'}")
    console.print(f"  integrity: {len(tables)} table(s)")
    for table in tables:
        console.print(f"    {describe(table)}")
    for status in statuses:
        for line in status.checked:
            console.print(f"    ok   {status.label}: {line}")
        for line in status.problems:
            console.print(f"    FAIL {status.label}: {line}")
    if connect and not tables:
        console.print("    nothing to connect to: no [[integrity.tables]] declared")
    return failed


if __name__ == "__main__":
    sys.exit(main())
