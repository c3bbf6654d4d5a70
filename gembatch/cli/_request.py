"""The options of a run request, shared by ``gembatch run``, ``plan`` and ``estimate``."""

from __future__ import annotations

import argparse
from typing import Any

from gembatch.workflow.request import DEFAULT_MODEL, MODES, RunRequest

__all__ = ["add_backend_options", "add_request_options", "request_from_args"]

# CLI flag dest → RunRequest field, where the names differ.
_RENAMED = {
    "file": "inputs",
    "budget": "budget_usd",
    "system": "system_instruction",
    "pending_limit": "pending_limit_s",
}
_REALTIME = ("rpm", "tpm")


def add_request_options(p: argparse.ArgumentParser) -> None:
    """Every :class:`~gembatch.RunRequest` option a terminal can give (the same on every command)."""
    p.add_argument("file", nargs="?", default=None,
                   help="articles: .jsonl, .json, .csv, .parquet or bq://project.dataset.table")  # fmt: skip
    p.add_argument("--query", default=None, metavar="SQL",
                   help="articles from a BigQuery query instead of FILE (needs --dataset)")  # fmt: skip
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
    p.add_argument("--tier", default="tier1", help="tier1 (default), tier2, tier3")
    prompt = p.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", default=None, help="prompt template; {text}, {title} or any column")
    prompt.add_argument("--prompt-file", default=None, help="read the prompt template from a file")
    system = p.add_mutually_exclusive_group()
    system.add_argument("--system", default=None, help="system instruction")
    system.add_argument("--system-file", default=None, help="read a system instruction from a file")
    p.add_argument("--schema", default=None, help="response schema: a .json file or package.module:Model")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--max-output-tokens", type=int, default=None)
    p.add_argument("--thinking-budget", type=int, default=None, help="0 turns thinking off (2.5 Flash)")
    p.add_argument("--expected-output-tokens", type=int, default=None, help="mean output tokens per article")
    p.add_argument("--expected-thinking-tokens", type=int, default=None, help="mean thinking tokens")
    p.add_argument("--chunk-tokens", type=int, default=None, help="max input tokens per batch job")
    p.add_argument("--inline", action=argparse.BooleanOptionalAction, default=None,
                   help="requests inline in the batch call (default: when small)")  # fmt: skip
    p.add_argument("--catalog", default=None, help="TOML/JSON file adding or overriding models")
    p.add_argument("--billing-date", default=None, metavar="YYYY-MM-DD", help="price date (default today)")
    p.add_argument("--budget", type=float, default=None, metavar="USD", help="never commit more than this")
    p.add_argument("--policy", choices=("tail", "rolling", "waves"), default="tail")
    p.add_argument("--headroom", type=float, default=0.9, help="fraction of the quota to use (default 0.9)")
    p.add_argument(
        "--mode", choices=MODES, default="batch",
        help="batch (default, half price) or realtime (generateContent under the RPM/TPM limits)",
    )  # fmt: skip
    p.add_argument("--rpm", type=int, default=None, help="real-time requests/minute (default: catalogue)")
    p.add_argument("--tpm", type=int, default=None, help="real-time input tokens/minute (catalogue)")
    p.add_argument("--max-attempts", type=int, default=3)
    p.add_argument("--run-id", default=None, help="prefix of the job display names (default: directory)")
    p.add_argument("--pending-limit", type=float, default=None, metavar="S",
                   help="cancel and re-queue a job still pending after S seconds")  # fmt: skip
    p.add_argument("--cancel-stale", action=argparse.BooleanOptionalAction, default=None,
                   help="cancel a job pending past the limit and send it again (default on)")  # fmt: skip
    p.add_argument("--no-cache", dest="cache", action="store_false", default=None,
                   help="send every article, even those the response cache already answers")  # fmt: skip
    p.add_argument("--cache-dir", default=None, help="the response cache's directory "
                   "(default $GEMBATCH_CACHE_DIR, else the user's cache directory)")  # fmt: skip
    p.add_argument("--deadline", default=None, metavar="WHEN",
                   help="finish by a time (16:00) or in a duration (2h): late jobs go real time")  # fmt: skip
    p.add_argument("--deadline-usd", type=float, default=None, metavar="USD",
                   help="the most the switch to real time for the deadline may cost")  # fmt: skip
    p.add_argument("--id-col", default=None)
    p.add_argument("--text-col", default=None)
    p.add_argument("--results-in", choices=("local", "bigquery"), default=None,
                   help="bigquery: keep the results in the dataset's tables (needs --dataset)")  # fmt: skip
    add_backend_options(p)


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """``--backend`` and the Vertex settings, as ``gb.connect(backend=..., project=..., ...)`` takes them."""
    g = p.add_argument_group("backend (default: a key's Gemini API, else the emulator)")
    g.add_argument("--backend", default=None, metavar="NAME",
                   help="gemini, emulator, vertex or vertex-emulator (a run remembers its own)")  # fmt: skip
    g.add_argument("--project", default=None, help="Vertex: Google Cloud project (default: the credentials')")
    g.add_argument("--location", default=None, help="Vertex: region, e.g. us-central1")
    g.add_argument("--bucket", default=None, help="Vertex: Cloud Storage bucket for inputs and outputs")
    g.add_argument("--dataset", default=None, help="Vertex: BigQuery dataset")


def request_from_args(args: argparse.Namespace) -> RunRequest:
    """The :class:`~gembatch.RunRequest` the parsed options describe."""
    names = set(RunRequest.field_names())
    fields: dict[str, Any] = {}
    for dest, value in vars(args).items():
        name = _RENAMED.get(dest, dest)
        if name in names and value is not None:
            fields[name] = value
    realtime = {k: getattr(args, k) for k in _REALTIME if getattr(args, k, None) is not None}
    if realtime:
        fields["realtime"] = realtime
    if "inputs" not in fields and "query" not in fields and hasattr(args, "file"):
        from gembatch.errors import InputError

        raise InputError(
            "no articles given: name a FILE (.jsonl, .csv, .parquet, or bq://project.dataset.table) "
            "or --query SQL (see --help)",
            field="inputs",
        )
    return RunRequest(**fields)
