"""CLI: ``gembatch cleanup RUN_DIR``: what the service still holds for a run, deleted unless ``--dry-run``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

import gembatch as gb

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clean = sub.add_parser(
        "cleanup", help="delete the files and jobs the service still holds for a run (--dry-run: list them)"
    )
    clean.add_argument("run_dir")
    clean.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    clean.add_argument("--json", action="store_true")
    clean.set_defaults(func=_cleanup)


def _cleanup(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(sys.stderr):  # notices while connecting stay off the listing
        report = gb.Run.open(args.run_dir).cleanup(dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 1 if report.failed else 0
    verb = "would delete" if report.dry_run else "deleted"
    for item in report.items:
        print(f"{item.action:>12}  {item.kind:<4} {item.name}  {item.display_name}  ({item.reason})".rstrip())
    again = " (tried again at the next step or cleanup)" if report.failed else ""
    print(
        f"run {report.run_id}: {verb} {len(report.deleted)}, kept {len(report.kept)} still needed, "
        f"{len(report.failed)} failed{again}"
    )
    return 1 if report.failed else 0
