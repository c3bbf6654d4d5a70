"""CLI: ``gembatch datasets synth``, ``gembatch estimate`` and ``gembatch plan``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gembatch.errors import InputError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ds = sub.add_parser("datasets", help="demo data sets")
    ds_sub = ds.add_subparsers(dest="datasets_command", metavar="SUBCOMMAND")
    ds_sub.required = True
    synth = ds_sub.add_parser("synth", help="write N deterministic synthetic articles")
    synth.add_argument("n", type=int, help="number of articles")
    synth.add_argument("-o", "--output", required=True, help="output file (.jsonl, .json, .csv, .parquet)")
    synth.add_argument("--mean-chars", type=int, default=9000, help="mean article length (default 9000)")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(func=_synth)

    est = sub.add_parser("estimate", help="estimate tokens and cost, batch against real time")
    _common(est)
    est.set_defaults(func=_estimate)

    pl = sub.add_parser("plan", help="split articles into batch jobs and waves under the limits")
    _common(pl)
    pl.add_argument("--policy", choices=("rolling", "waves"), default="rolling")
    pl.add_argument("--headroom", type=float, default=0.9, help="fraction of the quota to use (default 0.9)")
    pl.add_argument("--budget", type=float, default=None, metavar="USD", help="refuse plans costing more")
    pl.add_argument("--chunk-tokens", type=int, default=None, help="max input tokens per batch job")
    pl.add_argument("--chunks", action="store_true", help="also print every batch job")
    pl.set_defaults(func=_plan)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="articles: .jsonl, .json, .csv or .parquet")
    p.add_argument("--model", required=True, help="model id, e.g. gemini-3.5-flash-lite")
    p.add_argument("--tier", default="tier1", help="tier1 (default), tier2, tier3")
    prompt = p.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", default=None, help="prompt template; {text}, {title} or any column")
    prompt.add_argument("--prompt-file", default=None, help="read the prompt template from a file")
    p.add_argument("--system-file", default=None, help="read a system instruction from a file")
    p.add_argument("--expected-output-tokens", type=int, default=None, help="mean output tokens per article")
    p.add_argument("--thinking-budget", type=int, default=None)
    p.add_argument("--id-col", default=None)
    p.add_argument("--text-col", default=None)
    p.add_argument("--catalog", default=None, help="TOML/JSON file adding or overriding models")
    p.add_argument("--billing-date", default=None, metavar="YYYY-MM-DD", help="price date (default today)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _inputs(args: argparse.Namespace) -> dict[str, Any]:
    from gembatch.inputs.articles import read_articles
    from gembatch.planning.catalog import load_catalog

    catalog = load_catalog(args.catalog) if args.catalog else None
    prompt = _read_text(args.prompt_file, "prompt file") if args.prompt_file else (args.prompt or "{text}")
    system = _read_text(args.system_file, "system file") if args.system_file else None
    articles = read_articles(args.file, args.id_col, args.text_col, model=args.model, catalog=catalog)
    return {
        "articles": articles,
        "model": args.model,
        "prompt": prompt,
        "system_instruction": system,
        "tier": args.tier,
        "expected_output_tokens": args.expected_output_tokens,
        "thinking_budget": args.thinking_budget,
        "catalog": catalog,
        "billing_date": args.billing_date,
    }


def _synth(args: argparse.Namespace) -> int:
    from gembatch.inputs.datasets import synthetic_articles, write_articles

    if args.n <= 0:
        raise InputError(f"N must be a positive number of articles, not {args.n}")
    out = write_articles(synthetic_articles(args.n, args.mean_chars, args.seed), args.output)
    print(f"wrote {args.n:,} synthetic articles to {out}")
    return 0


def _estimate(args: argparse.Namespace) -> int:
    from gembatch.planning.cost import estimate

    est = estimate(**_inputs(args))
    print(json.dumps(est.to_dict(), indent=2) if args.json else repr(est))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from gembatch.planning.plan import plan
    from gembatch.presentation import formatters as fmt

    p = plan(
        **_inputs(args),
        policy=args.policy,
        headroom=args.headroom,
        budget_usd=args.budget,
        chunk_tokens=args.chunk_tokens,
    )
    if args.json:
        json.dump(p.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    print(repr(p))
    if args.chunks:
        header, rows, _ = fmt.frame_rows(p.chunks, max_rows=len(p.chunks) + 1)
        print(fmt.text_table(rows, header))
    return 0
