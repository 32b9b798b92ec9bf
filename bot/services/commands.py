"""`helpline services …`: tools for the people who maintain the service directory."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bot.config import Settings
from bot.services.check import MAX_AGE_DAYS, coverage_markdown, problems
from bot.services.directory import load_services
from bot.yamlfile import ContentError


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
    if not args.coverage_only:
        found = problems(services, date.today(), args.max_age_days)
        print(f"{path}: {len(services)} services, {len(found)} things to check")
        for line in found:
            print(f"- {line}")
        print()
    print(coverage_markdown(services))
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
