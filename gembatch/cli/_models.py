"""CLI: ``gembatch models`` (what gembatch knows, ``--check`` against the service) and ``gembatch limits``."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["register"]

MARKS = {"assumed": "*", "learned": "+", "set": "!"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    md = sub.add_parser("models", help="the models gembatch knows: prices now and next, limits, sources")
    md.add_argument("model", nargs="?", help="show everything about one model")
    md.add_argument("--tier", default="tier1", help="tier for the limits (default tier1)")
    md.add_argument("--billing-date", default=None, metavar="YYYY-MM-DD", help="price date (default today)")
    md.add_argument("--all", action="store_true", help="include retired models")
    md.add_argument("--check", action="store_true", help="compare with the service's models.list")
    md.add_argument("--catalog", default=None, help="TOML/JSON file adding or overriding models")
    md.add_argument("--json", action="store_true", help="print JSON instead of tables")
    md.set_defaults(func=_models)

    lim = sub.add_parser("limits", help="limits learned from the service or set by you, per project")
    lim_sub = lim.add_subparsers(dest="limits_command", metavar="SUBCOMMAND")
    lim_sub.required = True
    show = lim_sub.add_parser("show", help="list learned and set limits for this project")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_limits_show)
    set_ = lim_sub.add_parser("set", help="set a limit yourself (wins over learned ones)")
    set_.add_argument("model", help="model id, or '*' for project-wide limits (spend cap)")
    set_.add_argument("--tier", default=None, help="the tier a per-tier limit is for")
    for name in ("enqueued-tokens", "rpm", "tpm", "context-window", "max-output-tokens"):
        set_.add_argument(f"--{name}", type=int, default=None)
    set_.add_argument("--spend-cap", type=float, default=None, metavar="USD", help="monthly spend cap")
    set_.set_defaults(func=_limits_set)
    forget = lim_sub.add_parser("forget", help="forget one limit, learned and set")
    forget.add_argument("model")
    forget.add_argument("limit", help="e.g. enqueued_tokens, rpm, spend_cap_usd_month")
    forget.set_defaults(func=_limits_forget)


def _given(value: Any) -> bool:
    """False for None, NaN and pandas' NA (what a missing value becomes in a frame)."""
    import pandas as pd

    return not (value is None or (not isinstance(value, str) and bool(pd.isna(value))))


def _short(value: Any) -> str:
    """2 significant digits with k/M/B: 1,048,576 → 1M; "-" for unknown."""
    if not _given(value):
        return "-"
    n = float(value)
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{float(f'{n / size:.2g}'):g}{unit}"
    return f"{n:g}"


def _pair(a: float, b: float) -> str:
    return f"{a:g} / {b:g}"


def _mark(row: Any, field: str) -> str:
    for origin in ("set", "learned", "assumed"):
        if field in str(row[origin]).split(", "):
            return MARKS[origin]
    return ""


def _sublines(row: Any) -> list[str]:
    """Indented lines under a model: next prices, long-context prices, status, successor."""
    out = []
    if _given(row["next_prices_from"]):
        nxt = _pair(row["next_batch_input_price"], row["next_batch_output_price"])
        out.append(f"{'  from ' + row['next_prices_from']:<22}  {nxt:>15}")
    if _given(row["long_context_threshold"]):
        long = _pair(row["batch_input_price_long"], row["batch_output_price_long"])
        out.append(f"{'  prompts > ' + _short(row['long_context_threshold']):<22}  {long:>15}")
    notes = [] if row["status"] == "stable" else [str(row["status"])]
    if row["kind"] != "text":
        notes.append(f"{row['kind']} model: not for generateContent batches")
    if _given(row["successor"]):
        notes.append(f"successor {row['successor']}")
    if notes:
        out.append("  (" + "; ".join(notes) + ")")
    return out


def render_models(frame: Any) -> str:
    """The 80-column table of ``gb.models()``."""
    tier, day = frame.attrs.get("tier", "tier1"), frame.attrs.get("billing_date", "")
    lines = [f"Gemini models on {day}: batch USD per 1M tokens, {tier} limits"]
    head = f"{'model':<22}  {'batch in / out':>15}  {'quota':>6}  {'context':>7}  {'thinks':<7}  as of"
    lines += [head, "-" * len(head)]
    for mid, row in frame.iterrows():
        if str(row["status"]).startswith("retired"):
            succ = row["successor"] if _given(row["successor"]) else "a current model"
            lines.append(f"{mid:<22}  {row['status']}; use {succ}")
            continue
        think = "default" if row["thinking_by_default"] else ("yes" if row["thinking"] else "no")
        quota = _short(row["enqueued_tokens"]) + _mark(row, "enqueued_tokens")
        ctx = _short(row["context_window"]) + _mark(row, "context_window")
        prices = _pair(row["batch_input_price"], row["batch_output_price"])
        lines.append(f"{mid:<22}  {prices:>15}  {quota:>6}  {ctx:>7}  {think:<7}  {row['as_of']}")
        lines += _sublines(row)
    lines += [
        "",
        "* assumed (not published)  + learned from the service  ! set by you",
        "Real time costs twice the batch price. Sources: `gembatch models MODEL`.",
    ]
    if frame.attrs.get("retired_hidden"):
        lines.append(f"{frame.attrs['retired_hidden']} retired model(s) hidden: --all shows them.")
    return "\n".join(lines)


def render_model(mid: str, row: Any) -> str:
    """Every known field of one model, one per line."""
    import numbers

    width = max(len(k) for k in row.index)
    out = [mid]
    for key, value in row.items():
        if not _given(value) or value == "":
            continue
        shown = f"{value:,}" if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
        out.append(f"  {key:<{width}}  {shown}")
    return "\n".join(out)


def _models(args: argparse.Namespace) -> int:
    from gembatch.planning.catalog import load_catalog
    from gembatch.planning.lineup import check_models, models

    catalog = load_catalog(args.catalog) if args.catalog else None
    if args.check:
        return _check(check_models(catalog=catalog), args.json)
    frame = models(args.tier, billing_date=args.billing_date, catalog=catalog)
    if args.model:
        mid = args.model.removeprefix("models/")
        if mid not in frame.index:
            from gembatch.errors import UnknownModel

            raise UnknownModel(f"unknown model {args.model!r}; `gembatch models --all` lists them")
        frame = frame.loc[[mid]]
        if not args.json:
            print(render_model(mid, frame.loc[mid]))
            return 0
    elif not args.all:
        keep = ~frame["status"].str.startswith("retired")
        hidden = int((~keep).sum())
        frame = frame[keep]
        frame.attrs["retired_hidden"] = hidden
    if args.json:
        print(frame.reset_index().to_json(orient="records", indent=2))
    else:
        print(render_models(frame))
    return 0


def _check(frame: Any, as_json: bool) -> int:
    bad = frame[frame["verdict"].isin(["differs", "not served", "not in catalogue"])]
    if as_json:
        print(json.dumps({"against": frame.attrs["against"], "models": frame.to_dict("records")}, indent=2))
        return 1 if len(bad) else 0
    print(f"Checked against {frame.attrs['against']}")
    if frame.attrs.get("emulator"):
        print(
            "No API key is set: the emulator serves gembatch's own catalogue, so this checks the "
            "plumbing, not the data. Set GEMINI_API_KEY to check against the real service."
        )
    for row in frame.itertuples(index=False):
        print(f"{row.model:<26} {row.verdict:<16} {row.detail}")
    print(f"{len(bad)} model(s) to look at" if len(bad) else "the catalogue matches the service")
    return 1 if len(bad) else 0


def _limits_show(args: argparse.Namespace) -> int:
    from gembatch.planning.learned_limits import known_limits, limits_path, project_of

    project = project_of("auto")
    frame = known_limits()
    if args.json:
        print(frame.to_json(orient="records", indent=2))
        return 0
    print(f"Limits for {project.label if project else 'no project'} in {limits_path() or '(disabled)'}")
    if frame.empty:
        print("nothing learned or set yet: a 429 or `gembatch models --check` teaches gembatch")
        return 0
    for row in frame.itertuples(index=False):
        tier = f" ({row.tier})" if isinstance(row.tier, str) else ""
        print(
            f"{row.model:<24} {row.limit}{tier} = {_value(row.value)} [{row.set_by}: {row.source}, {row.at}]"
        )
    return 0


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}"


def _limits_set(args: argparse.Namespace) -> int:
    from gembatch.errors import InputError
    from gembatch.planning.learned_limits import set_limits

    values = {
        "enqueued_tokens": args.enqueued_tokens,
        "rpm": args.rpm,
        "tpm": args.tpm,
        "context_window": args.context_window,
        "max_output_tokens": args.max_output_tokens,
        "spend_cap_usd_month": args.spend_cap,
    }
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        raise InputError("give at least one limit, e.g. --enqueued-tokens 2000000 --tier tier1")
    set_limits(args.model, tier=args.tier, **given)
    print(", ".join(f"{k} = {v:,}" for k, v in given.items()) + f" set for {args.model}")
    return 0


def _limits_forget(args: argparse.Namespace) -> int:
    from gembatch.planning.learned_limits import project_of, record

    project = project_of("auto")
    if project is not None:
        for by in ("user", "service"):
            record(project, args.model, args.limit, None, tier=None, source="", by=by)
    print(f"forgot {args.limit} for {args.model}")
    return 0
