"""The ``gembatch`` command line: a thin layer over the library, one module per command group."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from gembatch._version import __version__
from gembatch.errors import GembatchError

__all__ = ["build_parser", "main"]

# Each module defines ``register(subparsers)`` adding its commands; every command sets
# ``func(args) -> int``. A registry, not an if-chain: a new command group is one line here.
COMMAND_MODULES = (
    "gembatch.cli._prepare",  # datasets, estimate, plan, prepare
    "gembatch.cli._emulator",  # emulator start|stop|status
    "gembatch.cli._runs",  # run, status, results, cancel, submit
    "gembatch.cli._operate",  # resume, wait, pause, retry, set-budget, events, finish-realtime
    "gembatch.cli._jobs",  # jobs
    "gembatch.cli._serve",  # serve
    "gembatch.cli._models",  # models, limits
    "gembatch.cli._cache",  # cache info|export|prune
    "gembatch.cli._cleanup",  # cleanup
)


def build_parser() -> argparse.ArgumentParser:
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
    parser = build_parser()
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
