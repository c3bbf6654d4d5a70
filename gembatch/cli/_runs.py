"""CLI: ``gembatch run``, ``status``, ``results``, ``cancel`` (run directories) and ``submit`` (one job)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import gembatch as gb
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

    st = sub.add_parser("status", help="status of a run directory, or of one job (batches/ID)")
    st.add_argument("target", help="run directory or batches/ID")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)

    res = sub.add_parser("results", help="results of a run directory, or of one job (batches/ID)")
    res.add_argument("target", help="run directory or batches/ID")
    res.add_argument("-o", "--output", default=None, help=".parquet, .csv or .jsonl (default: print)")
    res.add_argument("--join", action="store_true", help="add the input article columns")
    res.set_defaults(func=_results)

    cancel = sub.add_parser("cancel", help="cancel a run: submit nothing more, cancel jobs in flight")
    cancel.add_argument("run_dir")
    cancel.set_defaults(func=_cancel)

    submit = sub.add_parser("submit", help="submit ONE batch job without a run directory")
    submit.add_argument("file", help="articles file")
    submit.add_argument("--name", required=True, help="display name of the job")
    submit.add_argument("--model", default="gemini-3.5-flash-lite")
    submit.add_argument("--prompt", default="{text}")
    submit.set_defaults(func=_submit)


def _is_job(target: str) -> bool:
    return target.startswith("batches/")


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
    run = request_from_args(args).plan_and_create(args.run_dir, force=args.force)
    print(gb.describe(run.client), file=sys.stderr)
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


def _status(args: argparse.Namespace) -> int:
    if _is_job(args.target):
        from gembatch.runs.jobs import job_status
        from gembatch.transport.connect import connect

        info: dict[str, Any] = job_status(connect(), args.target)
    else:
        run = gb.Run.open(args.target)
        if not args.json:
            _show(run)
            return 0
        info = run.summary().to_dict()
    print(json.dumps(info, indent=2, default=str) if args.json or _is_job(args.target) else info)
    return 0


def _results(args: argparse.Namespace) -> int:
    from gembatch.runs.results import export

    if _is_job(args.target):
        from gembatch.runs.jobs import job_results
        from gembatch.transport.connect import connect

        frame = job_results(connect(), args.target)
    else:
        frame = gb.Run.open(args.target).results(join=args.join)
    if args.output:
        print(export(frame, args.output))
    else:
        frame.reset_index().to_json(sys.stdout, orient="records", lines=True)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    run = gb.Run.open(args.run_dir)
    run.cancel()
    run.step()
    _show(run)
    return 0


def _submit(args: argparse.Namespace) -> int:
    from gembatch.runs.jobs import submit_job
    from gembatch.transport.connect import connect

    print(submit_job(connect(), args.file, model=args.model, prompt=args.prompt, display_name=args.name))
    return 0
