"""The `cutover` command: the same library code as the plugin, for people and scripts.

`check` validates a config the way the plugin would and shows it with secrets masked;
`ab-record` records legacy's answers to the A/B corpus, for gating when legacy cannot be asked;
`status`, `shift`, `rollback` and `run` act on traffic (pytest_cutover.actions.commands);
`init` writes a commented cutover.toml and the gate suites into a team's repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from pytest_cutover import __version__
from pytest_cutover.actions.commands import ACTION_COMMANDS, add_commands, run_command
from pytest_cutover.config import CONFIG_FILENAME, ConfigError, CutoverConfig, load_config
from pytest_cutover.gates.ab.run import AbSetupError, make_plan, record_baseline
from pytest_cutover.launcher import StartError, SystemPool
from pytest_cutover.scaffold import ScaffoldError, scaffold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cutover", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pytest-cutover {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate cutover.toml and show it, secrets masked")
    check.add_argument("--config", type=Path, default=Path(CONFIG_FILENAME), metavar="PATH")
    check.add_argument("--json", action="store_true", help="print the systems as JSON")
    record = commands.add_parser(
        "ab-record", help="record legacy's answers to the A/B corpus (ab.baseline)"
    )
    record.add_argument("--config", type=Path, default=Path(CONFIG_FILENAME), metavar="PATH")
    record.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="default: ab.baseline"
    )
    add_commands(commands)
    init = commands.add_parser("init", help="write a commented cutover.toml and the gate suites")
    init.add_argument("--dir", type=Path, default=Path("."), metavar="DIR")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    args = parser.parse_args(argv)
    errors = Console(stderr=True, highlight=False)
    if args.command == "init":
        return _init(args.dir, args.force, errors)
    try:
        config = load_config(args.config)
        if args.command == "ab-record":
            return _record(config, args.out, errors)
        if args.command in ACTION_COMMANDS:
            return run_command(args, config)
    except (ConfigError, AbSetupError, StartError) as err:
        errors.print(f"[red]error:[/red] {escape(str(err))}", markup=True)
        return 2
    return _check(config, args.json)


def _record(config: CutoverConfig, out: Path | None, errors: Console) -> int:
    target = out or (config.base_dir / config.ab.baseline if config.ab.baseline else None)
    if target is None:
        errors.print("[red]error:[/red] give --out DIR or set ab.baseline in cutover.toml")
        return 2
    plan = make_plan(config)
    pool = SystemPool(config, target / "systems")
    try:
        count = record_baseline(config, pool.get("legacy"), plan, target)
    finally:
        pool.stop_all()
    Console(highlight=False).print(
        f"recorded legacy's answers to {count} requests in {target} "
        f"({len(plan.not_replayed)} not replayed: unsafe methods)"
    )
    return 0


def _init(target: Path, force: bool, errors: Console) -> int:
    try:
        done = scaffold(target, force=force)
    except ScaffoldError as err:
        errors.print(f"[red]error:[/red] {escape(str(err))}")
        return 2
    console = Console(highlight=False, soft_wrap=True)
    for path in done.written:
        console.print(f"wrote {path}")
    for path in done.kept:
        console.print(f"kept {path} (exists; --force overwrites it)")
    console.print("next: edit cutover.toml, then `cutover check` and `pytest -m canary_gate`")
    return 0


def _check(config: CutoverConfig, as_json: bool) -> int:
    console = Console(stderr=False, highlight=False)
    systems = config.describe_systems()
    if as_json:
        print(json.dumps({"config": str(config.path), "systems": systems}, indent=2))
        return 0
    console.print(f"{config.path}: valid")
    for name, described in systems.items():
        started = " (started by the plugin)" if described["started_by_plugin"] else ""
        console.print(f"  {name}: {described['base_url']}{started}")
        if described["database"]:
            console.print(f"    database: {described['database']}")
    console.print(f"  smoke: {len(config.smoke.endpoints)} declared endpoint checks")
    console.print(f"  ab: corpus {config.ab.corpus or 'not set'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
