"""CLI: operate a run by its directory alone (its stored request is the default): ``resume``,
``wait``, ``pause``, ``retry``, ``set-budget``, ``set-deadline``, ``events``, ``finish-realtime``."""

from __future__ import annotations

import argparse
import json
import sys
import time

import gembatch as gb
from gembatch.cli._connect import run_client
from gembatch.cli._runs import run_exit_code
from gembatch.errors import GembatchError
from gembatch.inputs.values import check_budget
from gembatch.presentation.summary_view import summary_text

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    res = sub.add_parser("resume", help="go on with a run from its directory alone (undoes pause)")
    res.add_argument("run_dir")
    res.add_argument("--no-wait", action="store_true", help="one step, then return")
    res.add_argument("--max-wait", type=float, default=None, metavar="S", help="return after S seconds")
    res.add_argument("--json", action="store_true", help="print the summary as JSON")
    res.set_defaults(func=_resume)

    wait = sub.add_parser("wait", help="drive a run until it finishes; the exit code is its outcome")
    wait.add_argument("run_dir")
    wait.add_argument("--max-wait", type=float, default=None, metavar="S", help="return after S seconds")
    wait.add_argument("--json", action="store_true", help="print the summary as JSON")
    wait.set_defaults(func=_wait)

    pause = sub.add_parser("pause", help="submit nothing new (jobs in flight are still collected)")
    pause.add_argument("run_dir")
    pause.add_argument("--json", action="store_true")
    pause.set_defaults(func=_pause)

    retry = sub.add_parser("retry", help="give every failed article one more attempt")
    retry.add_argument("run_dir")
    retry.add_argument("--json", action="store_true")
    retry.set_defaults(func=_retry)

    budget = sub.add_parser("set-budget", help="raise, lower or remove (none) a run's budget")
    budget.add_argument("run_dir")
    budget.add_argument("usd", help="dollars, or 'none' for no budget")
    budget.add_argument("--json", action="store_true")
    budget.set_defaults(func=_set_budget)

    deadline = sub.add_parser("set-deadline", help="finish by a time or in a duration (none: remove)")
    deadline.add_argument("run_dir")
    deadline.add_argument("when", help="a time (16:00), a duration (2h, 90m) or 'none'")
    deadline.add_argument("--usd", type=float, default=None, metavar="USD",
                          help="the most the switch to real time may cost")  # fmt: skip
    deadline.add_argument("--json", action="store_true")
    deadline.set_defaults(func=_set_deadline)

    events = sub.add_parser("events", help="the run's history, newest last")
    events.add_argument("run_dir")
    events.add_argument("--tail", type=int, default=20, metavar="N", help="last N events (0: all)")
    events.add_argument("--json", action="store_true")
    events.set_defaults(func=_events)

    rt = sub.add_parser("finish-realtime", help="send what is still pending through real time")
    rt.add_argument("run_dir")
    rt.add_argument("--max-wait", type=float, default=None, metavar="S", help="return after S seconds")
    rt.add_argument("--json", action="store_true", help="print the summary as JSON")
    rt.set_defaults(func=_finish_realtime)


def _show(run: gb.Run, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(run.summary().to_dict(), indent=2, default=str))
    else:
        print(summary_text(run.summary(), str(run.run_dir)))


def _open(run_dir: str) -> gb.Run:
    """The run, connected to the backend that holds its jobs (see :func:`run_client`)."""
    gb.Run.open(run_dir)  # "holds no gembatch run" before any emulator is started
    return gb.Run.open(run_dir, client=run_client(run_dir))


def _drive(args: argparse.Namespace, no_wait: bool = False) -> int:
    run = _open(args.run_dir)
    print(run.transport.describe(), file=sys.stderr)
    if no_wait:
        run.step()
    elif not run.wait(timeout=args.max_wait, progress=True):
        print(f"still in flight: `gembatch {args.command} {args.run_dir}` goes on", file=sys.stderr)
    _show(run, args.json)
    return run_exit_code(run.summary())


def _resume(args: argparse.Namespace) -> int:
    run = gb.Run.open(args.run_dir)
    if run.summary().state == "paused":
        run.resume()
    return _drive(args, no_wait=args.no_wait)


def _wait(args: argparse.Namespace) -> int:
    return _drive(args)


def _pause(args: argparse.Namespace) -> int:
    run = gb.Run.open(args.run_dir)
    run.pause()
    if args.json:
        print(json.dumps({"paused": True}))
    else:
        print(f"paused: nothing new is submitted until `gembatch resume {args.run_dir}`")
    return 0


def _retry(args: argparse.Namespace) -> int:
    n = gb.Run.open(args.run_dir).retry_failed()
    if args.json:
        print(json.dumps({"requeued": n}))
    else:
        print(f"{n} failed article(s) re-queued; `gembatch resume {args.run_dir}` sends them")
    return 0


def _set_budget(args: argparse.Namespace) -> int:
    raw = args.usd.strip().lower()
    try:
        value = None if raw in ("none", "off") else float(raw)
    except ValueError:
        value = args.usd  # refused below, naming the value
    budget = check_budget(value, field="budget")
    gb.Run.open(args.run_dir).set_budget(budget)
    if args.json:
        print(json.dumps({"budget_usd": budget}))
    else:
        print("budget removed" if budget is None else f"budget set to ${budget:,.2f}")
    return 0


def _set_deadline(args: argparse.Namespace) -> int:
    when = None if args.when.strip().lower() in ("none", "off") else args.when
    at = gb.Run.open(args.run_dir).set_deadline(when, args.usd)
    if args.json:
        print(json.dumps({"deadline": at, "deadline_usd": args.usd}))
    elif at is None:
        print("deadline removed")
    else:
        print(f"deadline set to {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))}")
    return 0


def _events(args: argparse.Namespace) -> int:
    frame = gb.Run.open(args.run_dir).events()
    if args.tail:
        frame = frame.tail(args.tail)
    if args.json:
        print(frame.to_json(orient="records", date_format="iso"))
        return 0
    times = frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    for when, kind, chunk, message in zip(
        times, frame["kind"].tolist(), frame["chunk_id"].tolist(), frame["message"].tolist(), strict=True
    ):
        where = f" {chunk}" if isinstance(chunk, str) and chunk else ""
        text = message if isinstance(message, str) else ""
        print(f"{when} {kind}{where}: {text}"[:200])
    return 0


def _finish_realtime(args: argparse.Namespace) -> int:
    if gb.Run.open(args.run_dir).summary().state == "paused":
        raise GembatchError(
            f"{args.run_dir} is paused, and a paused run sends nothing, in real time neither: "
            f"`gembatch resume {args.run_dir} --no-wait` first"
        )
    run = _open(args.run_dir)
    run.finish_realtime(timeout=args.max_wait, progress=True)
    _show(run, args.json)
    return run_exit_code(run.summary())
