"""The ``gembatch`` command line: a thin layer over the library, one module per command group."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from gembatch._version import __version__
from gembatch.errors import GembatchError

__all__ = ["COMMANDS", "build_parser", "main"]

# Each module defines ``register(subparsers)`` adding its commands; every command sets
# ``func(args) -> int``. A registry, not an if-chain: a new command group is one line here.
COMMAND_MODULES = (
    "gembatch.cli._prepare",  # datasets, estimate, plan, prepare
    "gembatch.cli._emulator",  # emulator start|stop|status
    "gembatch.cli._runs",  # run, status, results, cancel, submit
    "gembatch.cli._operate",  # resume, wait, pause, retry, set-budget, set-deadline, events, finish-realtime
    "gembatch.cli._jobs",  # jobs
    "gembatch.cli._serve",  # serve
    "gembatch.cli._models",  # models, limits
    "gembatch.cli._cache",  # cache info|export|prune
    "gembatch.cli._cleanup",  # cleanup
)


#: Command → (module, one-line help): ``gembatch --help`` lists the commands and ``gembatch CMD``
#: imports only CMD's module, so neither pays for pandas or google-genai before it needs them.
#: A test checks this table against the parser the modules build.
COMMANDS: dict[str, tuple[str, str]] = {
    "datasets": ("gembatch.cli._prepare", "demo data sets"),
    "estimate": ("gembatch.cli._prepare", "estimate tokens and cost, batch against real time"),
    "plan": ("gembatch.cli._prepare", "split articles into batch jobs and waves under the limits"),
    "prepare": (
        "gembatch.cli._prepare",
        "write each batch job's request JSONL and the plan, without submitting anything",
    ),
    "emulator": ("gembatch.cli._emulator", "run the local Gemini API emulator"),
    "run": ("gembatch.cli._runs", "plan, submit, watch and collect a durable run (re-run to resume)"),
    "status": ("gembatch.cli._runs", "status of a run directory, or of one job (batches/ID or ID)"),
    "results": ("gembatch.cli._runs", "results of a run directory, or of one job (batches/ID or ID)"),
    "cancel": ("gembatch.cli._runs", "cancel a run: submit nothing more, cancel jobs in flight"),
    "submit": ("gembatch.cli._runs", "submit ONE batch job without a run directory"),
    "jobs": ("gembatch.cli._jobs", "list the project's batch jobs: name, state, age, display name"),
    "resume": ("gembatch.cli._operate", "go on with a run from its directory alone (undoes pause)"),
    "wait": ("gembatch.cli._operate", "drive a run until it finishes; the exit code is its outcome"),
    "pause": ("gembatch.cli._operate", "submit nothing new (jobs in flight are still collected)"),
    "retry": ("gembatch.cli._operate", "give every failed article one more attempt"),
    "set-budget": ("gembatch.cli._operate", "raise, lower or remove (none) a run's budget"),
    "set-deadline": ("gembatch.cli._operate", "finish by a time or in a duration (none: remove)"),
    "events": ("gembatch.cli._operate", "the run's history, newest last"),
    "finish-realtime": ("gembatch.cli._operate", "send what is still pending through real time"),
    "cleanup": (
        "gembatch.cli._cleanup",
        "delete the files and jobs the service still holds for a run (--dry-run: list them)",
    ),
    "serve": ("gembatch.cli._serve", "serve the REST API (bearer token from GEMBATCH_SERVER_TOKEN)"),
    "models": ("gembatch.cli._models", "the models gembatch knows: prices now and next, limits, sources"),
    "limits": ("gembatch.cli._models", "limits learned from the service or set by you, per project"),
    "cache": ("gembatch.cli._cache", "the response cache runs share: info, export, prune"),
}


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(
        prog="gembatch",
        description="Plan, submit, monitor and collect Gemini Batch API workloads.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="count", default=0,
                      help="log submissions and collections too (-vv: everything)")  # fmt: skip
    loud.add_argument("-q", "--quiet", action="store_true", help="log errors only (no warnings, back-offs)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    return parser, sub


def _light_parser() -> argparse.ArgumentParser:
    """Only the command names and their help: what ``gembatch --help`` shows, no module imported."""
    parser, sub = _top_parser()
    for command, (_, help_text) in COMMANDS.items():
        sub.add_parser(command, help=help_text, add_help=False)
    return parser


def _parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The full parser of the command ``argv`` names (its module alone), else the light or full one."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in COMMANDS:
        parser, sub = _top_parser()
        importlib.import_module(COMMANDS[command][0]).register(sub)
        return parser
    if command is None and any(a in ("-h", "--help", "--version") for a in argv):
        return _light_parser()
    return build_parser()  # no command, or one not in the table: argparse says what is wrong


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every command group's module imported."""
    parser, sub = _top_parser()
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that command group is not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; expected mistakes print one line to stderr and exit 2, never a traceback."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser_for(argv)
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below, not at exit
        return code
    except GembatchError as exc:
        print(f"gembatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gembatch: interrupted; the run directory keeps all progress", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gembatch status RUN | head -3`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:  # the file system said no (a file where a directory goes, permissions...)
        where = f": {exc.filename}" if exc.filename else ""
        print(f"gembatch: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


def _configure_logging(verbose: int, quiet: bool) -> None:
    """The ``gembatch`` logger to stderr: warnings (errors, back-offs) by default; -v info, -q errors."""
    import logging

    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    log = logging.getLogger("gembatch")
    for handler in list(log.handlers):
        if getattr(handler, "_gembatch_cli", False):
            log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("gembatch: %(message)s"))
    handler._gembatch_cli = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
