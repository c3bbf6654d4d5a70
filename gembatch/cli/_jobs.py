"""CLI: ``gembatch jobs``, the project's batch jobs (newest first) with state, age and display name."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = sub.add_parser("jobs", help="list the project's batch jobs: name, state, age, display name")
    jobs.add_argument("--limit", type=int, default=50, metavar="N", help="newest N jobs (0: all; default 50)")
    jobs.add_argument("--state", default=None, help="only jobs in this state (e.g. running, succeeded)")
    jobs.add_argument(
        "--run-dir", default=None, help="without a key: the jobs of the emulator kept in this run directory"
    )
    jobs.add_argument("--json", action="store_true")
    from gembatch.cli._request import add_backend_options

    add_backend_options(jobs)
    jobs.set_defaults(func=_jobs)


def _age_s(created: str | None, now: float) -> float | None:
    if not created:
        return None
    try:
        return max(0.0, now - datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def job_rows(transport: Any, state: str | None = None, limit: int = 0) -> list[dict[str, Any]]:
    """One dict per batch job of the project (newest first): name, state, age, display name..."""
    from gembatch.transport.base import JobState

    wanted = JobState.parse(state) if state else None
    if state and wanted == JobState.UNSPECIFIED:
        from gembatch.errors import InputError

        states = ", ".join(s.name.lower() for s in JobState if s != JobState.UNSPECIFIED)
        raise InputError(f"--state {state!r}: expected one of {states}", field="state")
    now = time.time()
    rows = []
    for job in transport.list_jobs():
        if wanted is not None and job.state != wanted:
            continue
        rows.append({
            "name": job.name,
            "state": job.state.name.lower(),
            "age_s": _age_s(job.create_time, now),
            "display_name": job.display_name,
            "model": job.model,
            "create_time": job.create_time,
            "requests": int(dict(job.stats).get("requestCount", 0)),
        })  # fmt: skip
    rows.sort(key=lambda r: r["create_time"] or "", reverse=True)
    return rows[:limit] if limit else rows


def _transport(args: argparse.Namespace) -> Any:
    """``--backend``'s, else the backend the run in ``--run-dir`` recorded, else ``None`` (the default)."""
    from gembatch.transport.connect import check_backend_options, connect_backend, reconnect

    facts = {"project": args.project, "location": args.location, "bucket": args.bucket,
             "dataset": args.dataset}  # fmt: skip
    check_backend_options(args.backend, **{k: v for k, v in facts.items() if k != "project"})
    if args.backend:
        return connect_backend(args.backend, facts)
    if args.run_dir:
        from gembatch.cli._connect import run_client
        from gembatch.runs.backend_record import family, recorded

        facts = recorded(args.run_dir)
        if family(facts.get("backend")) != "developer":
            return reconnect(facts)
        return run_client(args.run_dir)
    return None


def _jobs(args: argparse.Namespace) -> int:
    from gembatch.presentation import formatters as fmt
    from gembatch.transport.connect import connect_transport

    if args.limit < 0:
        from gembatch.errors import InputError

        raise InputError(f"--limit must be 0 (all) or a positive number, not {args.limit}", field="limit")
    rows = job_rows(_transport(args) or connect_transport(), args.state, args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no batch jobs in this project")
        return 0
    table = [
        [r["name"], r["state"], "-" if r["age_s"] is None else fmt.duration(r["age_s"]),
         r["display_name"] or "", str(r["requests"])]
        for r in rows
    ]  # fmt: skip
    print(fmt.text_table(table, ["name", "state", "age", "display name", "requests"]))
    return 0
