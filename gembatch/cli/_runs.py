"""CLI: ``gembatch run``, ``status``, ``results``, ``cancel`` (run directories) and ``submit`` (one job)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import gembatch as gb
from gembatch.cli._connect import run_client
from gembatch.cli._request import add_request_options, request_from_args
from gembatch.presentation.summary_view import summary_text

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="plan, submit, watch and collect a durable run (re-run to resume)")
    add_request_options(run)
    run.add_argument("--run-dir", required=True, help="directory holding the run's ledger and results")
    run.add_argument("--no-wait", action="store_true", help="submit what fits and return")
    run.add_argument("--max-wait", type=float, default=None, metavar="S", help="return after S seconds")
    run.add_argument(
        "--force",
        action="store_true",
        help="start a new run over a run dir whose ledger is damaged (old files are set aside)",
    )
    run.set_defaults(func=_run)

    st = sub.add_parser("status", help="status of a run directory, or of one job (batches/ID or ID)")
    st.add_argument("target", help="run directory, batches/ID or a bare job ID")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)

    res = sub.add_parser("results", help="results of a run directory, or of one job (batches/ID or ID)")
    res.add_argument("target", help="run directory, batches/ID or a bare job ID")
    res.add_argument("name", nargs="?", default=None, help="output file (same as -o)")
    res.add_argument("-o", "--output", default=None, help=".parquet, .csv or .jsonl (default: print)")
    res.add_argument("--join", action="store_true", help="add the input article columns")
    res.set_defaults(func=_results)

    cancel = sub.add_parser("cancel", help="cancel a run: submit nothing more, cancel jobs in flight")
    cancel.add_argument("run_dir")
    cancel.add_argument("--json", action="store_true", help="print the summary as JSON")
    cancel.set_defaults(func=_cancel)

    submit = sub.add_parser("submit", help="submit ONE batch job without a run directory")
    submit.add_argument("file", help="articles file")
    submit.add_argument("--name", required=True, help="display name of the job")
    submit.add_argument("--model", default="gemini-3.5-flash-lite")
    submit.add_argument("--prompt", default="{text}")
    submit.add_argument("--wait", action="store_true", help="wait until the job ends; exit code = outcome")
    submit.add_argument(
        "--max-wait", type=float, default=None, metavar="S", help="with --wait: give up after S seconds"
    )
    submit.add_argument("--json", action="store_true", help="print the job's name (and status) as JSON")
    submit.set_defaults(func=_submit)


_BARE_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?")


def _is_job(target: str) -> bool:
    """``batches/ID``, or a bare job ID that is not a directory here (``status abc123``)."""
    if target.startswith("batches/"):
        return True
    return bool(_BARE_ID.fullmatch(target)) and not Path(target).exists()


def _show(run: gb.Run) -> None:
    print(summary_text(run.summary(), str(run.run_dir)))


# Exit codes of `gembatch run` (documented in the guide): a script can tell the outcomes apart.
EXIT_OK = 0  # every article succeeded
EXIT_FAILED_ARTICLES = 1  # the run finished, and some articles failed (see `gembatch results`)
EXIT_ERROR = 2  # an expected mistake or a refusal: one line on stderr, nothing submitted
EXIT_NOT_FINISHED = 3  # stopped early: still in flight (--no-wait, --max-wait) or stopped by the budget


def run_exit_code(summary: Any) -> int:
    """The exit code that says how a run stands (see the constants above)."""
    if not summary.done or summary.state == "budget" or summary.pending:
        return EXIT_NOT_FINISHED
    return EXIT_FAILED_ARTICLES if summary.failed else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    request = _recorded_backend(args)
    plan = request.plan()  # every mistake in the request surfaces before a backend is started
    if not args.force:  # a damaged ledger is refused before a backend is reached (or announced)
        _refuse_damaged(args.run_dir)
    run = request.create(args.run_dir, plan, _client(args.run_dir, request), force=args.force)
    print(run.transport.describe(), file=sys.stderr)
    if args.no_wait:
        run.step()
    else:
        done = run.wait(timeout=args.max_wait, progress=True)
        if not done:
            print(
                f"still in flight: re-run the same command, or `gembatch status {args.run_dir}`",
                file=sys.stderr,
            )
    _show(run)
    return run_exit_code(run.summary())


def _recorded_backend(args: argparse.Namespace) -> Any:
    """The request the options describe, on the Vertex backend the run in ``--run-dir`` recorded when
    no --backend is given: a re-run reads its ``bq://`` table or ``--query`` through the transport
    the run reconnects to (the record's project or stand-ins, never new ones)."""
    from gembatch.runs.backend_record import family, recorded
    from gembatch.transport.connect import reconnect

    facts = recorded(args.run_dir)
    if getattr(args, "backend", None) is not None or family(facts.get("backend")) == "developer":
        return request_from_args(args)
    for name in ("backend", "project", "location", "bucket", "dataset"):
        if facts.get(name) and getattr(args, name, None) in (None, "", "auto"):
            setattr(args, name, str(facts[name]))
    request = request_from_args(args)
    request.__dict__["_transport"] = reconnect(facts)
    return request


def _refuse_damaged(run_dir: str) -> None:
    """Raise :class:`~gembatch.LedgerDamaged` when ``run_dir`` shows earlier work beside a damaged ledger."""
    from gembatch.runs.guard import open_existing

    found = open_existing(Path(run_dir))
    if found is not None:
        found[0].close()


def _client(run_dir: str, request: Any) -> Any:
    """``--backend``'s transport (refused first if the run dir holds a run on another backend), else
    the run dir's own (see :func:`run_client`)."""
    from gembatch.runs.backend_record import check_backend_name, recorded

    if request.backend is not None:
        check_backend_name(recorded(run_dir), request.backend, run_dir)
    if request.backend in (None, "emulator"):
        return run_client(run_dir, request.backend)
    return request.connect()


def _status(args: argparse.Namespace) -> int:
    if _is_job(args.target):
        from gembatch.runs.jobs import job_status
        from gembatch.transport.connect import connect

        info: dict[str, Any] = job_status(connect(), args.target)
        print(json.dumps(info, indent=2, default=str))
        return job_exit_code(info["state"])
    run = gb.Run.open(args.target)
    if args.json:
        print(json.dumps(run.summary().to_dict(), indent=2, default=str))
    else:
        _show(run)
    return run_exit_code(run.summary())


def _results(args: argparse.Namespace) -> int:
    from gembatch.runs.results import export

    output = args.output or args.name
    if args.output and args.name and args.output != args.name:
        from gembatch.errors import InputError

        raise InputError(f"two output files given ({args.name!r} and -o {args.output!r}); give one")
    if _is_job(args.target):
        from gembatch.runs.jobs import job_results
        from gembatch.transport.connect import connect

        frame = job_results(connect(), args.target)
    else:
        run = gb.Run.open(args.target)
        if not args.join and run.config.results_in != "bigquery":  # page by page: any size of run
            if output and str(output).endswith(".parquet"):
                print(run.export_results(output))
                return 0
            if not output:
                for page in run.iter_results():
                    page.reset_index().to_json(sys.stdout, orient="records", lines=True)
                return 0
        frame = run.results(join=args.join)
    if output:
        print(export(frame, output))
    else:
        frame.reset_index().to_json(sys.stdout, orient="records", lines=True)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    run = gb.Run.open(args.run_dir, client=run_client(args.run_dir))
    run.cancel()
    run.step()
    if args.json:
        print(json.dumps(run.summary().to_dict(), indent=2, default=str))
    else:
        _show(run)
    return 0


def _submit(args: argparse.Namespace) -> int:
    from gembatch.runs.jobs import submit_job
    from gembatch.transport.connect import connect

    client = connect()
    name = submit_job(client, args.file, model=args.model, prompt=args.prompt, display_name=args.name)
    if not args.wait:
        print(json.dumps({"name": name}) if args.json else name)
        return 0
    print(name, file=sys.stderr)
    info = wait_for_job(client, name, timeout=args.max_wait)
    print(json.dumps(info, indent=2, default=str) if args.json else f"{name}: {info['state']}")
    return job_exit_code(info["state"])


# A single job's end state as an exit code, like a run's: 0 succeeded, 1 failed/cancelled/expired,
# 3 still running.
def job_exit_code(state: str) -> int:
    """0 for a succeeded job, 1 for one that ended otherwise, 3 while it is still pending or running."""
    from gembatch.transport.base import JobState

    parsed = JobState.parse(state)
    if not parsed.done:
        return EXIT_NOT_FINISHED
    return EXIT_OK if parsed == JobState.SUCCEEDED else EXIT_FAILED_ARTICLES


def wait_for_job(client: Any, name: str, timeout: float | None = None) -> dict[str, Any]:
    """Poll one job until it ends (or ``timeout`` seconds pass); its last status."""
    import time

    from gembatch.runs.jobs import job_status
    from gembatch.transport.base import JobState

    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.2
    while True:
        info = job_status(client, name)
        if JobState.parse(info["state"]).done:
            return info
        if deadline is not None and time.monotonic() + delay > deadline:
            return info
        time.sleep(delay)
        delay = min(delay * 1.5, 10.0)
