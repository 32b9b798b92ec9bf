"""`helpline services …`: tools for the people who maintain the service directory."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

from bot.services.check import MAX_AGE_DAYS, coverage_markdown, problems
from bot.services.csvfile import read_entries, write_rows
from bot.services.directory import Service, load_services, parse_entries
from bot.services.dump import rules, services_yaml
from bot.yamlfile import ContentError
from sini.settings import Settings


def _report(
    path: Path, services: Sequence[Service], max_age_days: int, out: TextIO, coverage_only: bool
) -> None:
    """What `check` prints: the things to fix or check, then the coverage table."""
    if not coverage_only:
        found = problems(services, date.today(), max_age_days)
        print(f"{path}: {len(services)} services, {len(found)} things to check", file=out)
        for line in found:
            print(f"- {line}", file=out)
        print(file=out)
    print(coverage_markdown(services), file=out)


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    """Validate the directory (file:line errors, exit 1), then list what to fix or check
    (missing phones, stale checks, regions without a service of each kind) and the
    regional coverage table. Exit 0: gaps are information, not failures."""
    path = args.file or settings.services_file
    try:
        services = load_services(path)
    except ContentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _report(path, services, args.max_age_days, sys.stdout, args.coverage_only)
    return 0


def cmd_import(_settings: Settings, args: argparse.Namespace) -> int:
    """Validate every row of a CSV directory (all errors as file:line, exit 1, nothing
    written), else write it as a services file to `-o` or stdout, then the summary `check`
    prints (to stderr when the file goes to stdout)."""
    path: Path = args.file
    try:
        entries, errors = read_entries(path)
    except ContentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    services, invalid = parse_entries(path, entries)
    errors = sorted(errors + invalid, key=lambda problem: problem.line or 0)
    if errors:
        for problem in errors:
            print(problem, file=sys.stderr)
        print(f"error: {len(errors)} invalid rows in {path}; nothing written", file=sys.stderr)
        return 1
    text = services_yaml(services, path.name, rules())
    if args.output is None:
        sys.stdout.write(text)
        _report(path, services, MAX_AGE_DAYS, sys.stderr, coverage_only=False)
    else:
        args.output.write_text(text, encoding="utf-8")
        _report(args.output, services, MAX_AGE_DAYS, sys.stdout, coverage_only=False)
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write the directory as CSV, every column (`--excel`: `;`-separated, with a BOM)."""
    try:
        services = load_services(args.file or settings.services_file)
    except ContentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    delimiter = ";" if args.excel else ","
    if args.output is None:
        write_rows(services, sys.stdout, delimiter)
        return 0
    # utf-8-sig: the BOM that makes Excel read the file as UTF-8
    with args.output.open("w", encoding="utf-8-sig" if args.excel else "utf-8", newline="") as out:
        write_rows(services, out, delimiter)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `services` command group to the `helpline` parser."""
    services = sub.add_parser("services", help="maintain the service directory")
    actions = services.add_subparsers(dest="services_command", required=True)
    check = actions.add_parser(
        "check", help="validate the directory; list missing phones, stale checks, coverage gaps"
    )
    check.add_argument("file", nargs="?", type=Path, default=None, help="default: SERVICES_FILE")
    check.add_argument("--max-age-days", type=int, default=MAX_AGE_DAYS)
    check.add_argument(
        "--coverage-only", action="store_true", help="print only the regional coverage table"
    )
    check.set_defaults(func=cmd_check)
    imported = actions.add_parser(
        "import", help="validate a CSV directory (all errors) and write it as a services file"
    )
    imported.add_argument("file", type=Path, help="CSV, one row per service (responses/README.md)")
    imported.add_argument("-o", "--output", type=Path, help="default: stdout")
    imported.set_defaults(func=cmd_import)
    export = actions.add_parser("export", help="write the directory as CSV, to edit as a sheet")
    export.add_argument("file", nargs="?", type=Path, default=None, help="default: SERVICES_FILE")
    export.add_argument("-o", "--output", type=Path, help="default: stdout")
    export.add_argument(
        "--excel", action="store_true", help="`;`-separated, with a BOM (French Excel)"
    )
    export.set_defaults(func=cmd_export)
