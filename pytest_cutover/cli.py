"""The `cutover` command: the same library code as the plugin, for people and scripts.

Subcommands that act on traffic (status, shift, rollback, run) come with the actions; for now it
checks a config the way the plugin would and shows it with secrets masked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from pytest_cutover import __version__
from pytest_cutover.config import CONFIG_FILENAME, ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cutover", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pytest-cutover {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate cutover.toml and show it, secrets masked")
    check.add_argument("--config", type=Path, default=Path(CONFIG_FILENAME), metavar="PATH")
    check.add_argument("--json", action="store_true", help="print the systems as JSON")
    args = parser.parse_args(argv)
    console = Console(stderr=False, highlight=False)
    try:
        config = load_config(args.config)
    except ConfigError as err:
        Console(stderr=True, highlight=False).print(f"[red]error:[/red] {err}", markup=True)
        return 2
    systems = config.describe_systems()
    if args.json:
        print(json.dumps({"config": str(config.path), "systems": systems}, indent=2))
        return 0
    console.print(f"{config.path}: valid")
    for name, described in systems.items():
        started = " (started by the plugin)" if described["started_by_plugin"] else ""
        console.print(f"  {name}: {described['base_url']}{started}")
        if described["database"]:
            console.print(f"    database: {described['database']}")
    console.print(f"  smoke: {len(config.smoke.endpoints)} declared endpoint checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
