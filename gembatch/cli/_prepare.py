"""CLI: ``gembatch datasets synth``, ``estimate``, ``plan`` and ``prepare`` (the files, nothing sent)."""

from __future__ import annotations

import argparse
import json
import sys

from gembatch.cli._request import add_request_options, request_from_args
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
    add_request_options(est)
    est.add_argument("--json", action="store_true", help="print JSON instead of tables")
    est.set_defaults(func=_estimate)

    pl = sub.add_parser("plan", help="split articles into batch jobs and waves under the limits")
    add_request_options(pl)
    pl.add_argument("--json", action="store_true", help="print JSON instead of tables")
    pl.add_argument("--chunks", action="store_true", help="also print every batch job")
    pl.set_defaults(func=_plan)

    prep = sub.add_parser(
        "prepare", help="write each batch job's request JSONL and the plan, without submitting anything"
    )
    add_request_options(prep)
    prep.add_argument(
        "-o", "--output-dir", required=True, help="directory for plan.json and the .jsonl files"
    )
    prep.add_argument("--json", action="store_true", help="print what was written as JSON")
    prep.set_defaults(func=_prepare)


def _synth(args: argparse.Namespace) -> int:
    from gembatch.inputs.datasets import synthetic_articles, write_articles

    if args.n <= 0:
        raise InputError(f"N must be a positive number of articles, not {args.n}")
    out = write_articles(synthetic_articles(args.n, args.mean_chars, args.seed), args.output)
    print(f"wrote {args.n:,} synthetic articles to {out}")
    return 0


def _estimate(args: argparse.Namespace) -> int:
    est = request_from_args(args).estimate()
    print(json.dumps(est.to_dict(), indent=2) if args.json else repr(est))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from gembatch.presentation import formatters as fmt

    p = request_from_args(args).plan()
    if args.json:
        json.dump(p.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    print(repr(p))
    if args.chunks:
        header, rows, _ = fmt.frame_rows(p.chunks, max_rows=len(p.chunks) + 1)
        print(fmt.text_table(rows, header))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gembatch.inputs.request_lines import iter_request_lines, write_jsonl

    request = request_from_args(args)
    p = request.plan()
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--output-dir {out} is a file, not a directory", field="output_dir")
    out.mkdir(parents=True, exist_ok=True)
    articles = request.articles
    files = []
    for chunk_id in p.chunks.index:
        members = p.assignments.index[p.assignments == chunk_id]
        path = out / f"{chunk_id}.jsonl"
        write_jsonl(iter_request_lines(articles.loc[members], p.spec), path)
        files.append(str(path))
    plan_file = out / "plan.json"
    plan_file.write_text(json.dumps(p.to_dict(), indent=2, default=str) + "\n", "utf-8")
    if args.json:
        print(json.dumps({"plan": str(plan_file), "files": files, "articles": len(articles)}, indent=2))
    else:
        print(repr(p))
        lines = f"{len(files)} request file(s) ({len(articles):,} lines)"
        print(f"wrote {lines} and {plan_file} to {out}; nothing submitted")
    return 0
