"""CLI: the response cache shared by runs: ``cache info``, ``cache export``, ``cache prune``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from gembatch.cache import CACHE_DIR_VAR, CacheEntry, ResponseCache, resolve_cache_dir
from gembatch.errors import InputError
from gembatch.presentation import formatters as fmt

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = sub.add_parser("cache", help="the response cache runs share: info, export, prune")
    what = cache.add_subparsers(dest="cache_command", metavar="ACTION")
    what.required = True

    info = what.add_parser("info", help="where the cache is, how many answers it holds, what it saved")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=_info)

    export = what.add_parser("export", help="write every cached answer to a .jsonl, .csv or .parquet file")
    export.add_argument("output", help="the file to write (.jsonl, .csv or .parquet)")
    export.set_defaults(func=_export)

    prune = what.add_parser("prune", help="delete cached answers (unused for a while, of a model, or all)")
    prune.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                       help="answers not used for DAYS days")  # fmt: skip
    prune.add_argument("--model", default=None, help="answers of this model")
    prune.add_argument("--all", action="store_true", help="every answer")
    prune.set_defaults(func=_prune)

    for p in (info, export, prune):
        p.add_argument("--cache-dir", default=None, help=f"the cache directory (default ${CACHE_DIR_VAR}, "
                       "else the user's cache directory)")  # fmt: skip


def _open(args: argparse.Namespace) -> ResponseCache:
    directory = resolve_cache_dir(args.cache_dir)
    if directory is None:
        raise InputError(f"the response cache is off (${CACHE_DIR_VAR}=off); give --cache-dir DIR")
    return ResponseCache(directory)


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def _info(args: argparse.Namespace) -> int:
    with _open(args) as cache:
        info = cache.info()
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
        return 0
    models = ", ".join(f"{m} {fmt.count(n)}" for m, n in info.by_model.items()) or "none"
    print(f"cache: {info.path}")
    print(f"  answers: {fmt.count(info.entries)} ({info.size_bytes / 1e6:.1f} MB) · by model: {models}")
    print(f"  paid for: {fmt.usd(info.cost_usd)} · served {fmt.count(info.hits)} times, saving "
          f"{fmt.usd(info.saved_usd)}")  # fmt: skip
    print(f"  oldest {_when(info.oldest)} · newest {_when(info.newest)}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import pandas as pd

    from gembatch.runs.results import export

    with _open(args) as cache:
        rows = [dataclasses.asdict(e) for e in cache.entries()]
    frame = pd.DataFrame(rows, columns=[f.name for f in dataclasses.fields(CacheEntry)])
    frame["created_at"] = pd.to_datetime(frame["created_at"], unit="s", utc=True)
    path = export(frame.set_index("key"), args.output)
    print(f"{fmt.count(len(frame))} cached answers -> {path}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    if args.older_than is None and args.model is None and not args.all:
        raise InputError("say what to prune: --older-than DAYS, --model MODEL or --all")
    if args.older_than is not None and args.older_than < 0:
        raise InputError(f"--older-than must be a number of days ≥ 0, not {args.older_than:g}")
    with _open(args) as cache:
        older = None if args.older_than is None else args.older_than * 86_400.0
        n = cache.prune(older_than_s=older, model=args.model, everything=args.all)
        left = len(cache)
    print(f"pruned {fmt.count(n)} cached answers; {fmt.count(left)} left")
    return 0
