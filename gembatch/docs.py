"""Generate the tables of docs/tier1-12k.md from the catalogue and the planner (``python -m gembatch.docs``).

Each table sits between ``<!-- gembatch.docs:begin NAME -->`` and ``<!-- gembatch.docs:end NAME -->``
in the Markdown file; :func:`render` rewrites only what is between the markers, so the prose around
the tables is edited by hand and the figures never are. ``--check`` exits 1 when a table is stale
(the test suite does the same comparison in memory).
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

    from gembatch.planning.catalog import Catalog, ModelInfo
    from gembatch.planning.cost import Estimate
    from gembatch.planning.plan import Plan

__all__ = ["DEFAULT_PAGE", "TABLES", "begin_marker", "end_marker", "main", "render"]

DEFAULT_PAGE = Path("docs") / "tier1-12k.md"
ARTICLES = 12_000
MEAN_CHARS = 9_000
SEED = 0
TIER = "tier1"
# The page's prices are those of this date (bump it, and regenerate, when the catalogue changes).
PRICE_DATE = "2026-12-01"
MAIN_MODEL = "gemini-3.5-flash-lite"
# The classic comparison: the models and prices of the catalogue's first edition, reproduced as billed then.
CLASSIC_DATE = "2025-10-15"
CLASSIC_MODELS = (
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-2.5-pro",
)
CLASSIC_MAIN = "gemini-2.5-flash-lite"
POLICIES: tuple[Literal["rolling", "waves"], ...] = ("rolling", "waves")
Era = Literal["now", "classic"]
_DATES: dict[str, str] = {"now": PRICE_DATE, "classic": CLASSIC_DATE}


def begin_marker(name: str) -> str:
    """The comment line that opens table ``name`` in a Markdown page."""
    return f"<!-- gembatch.docs:begin {name} -->"


def end_marker(name: str) -> str:
    """The comment line that closes table ``name``."""
    return f"<!-- gembatch.docs:end {name} -->"


@dataclass
class Inputs:
    """The 12,000 synthetic articles and, per model and era, the estimate and both plans (made once)."""

    articles: pd.DataFrame
    catalog: Catalog
    current: list[str]
    estimates: dict[tuple[str, Era], Estimate]
    plans: dict[tuple[str, str, Era], Plan]

    def models(self, era: Era) -> Sequence[str]:
        return self.current if era == "now" else CLASSIC_MODELS


@functools.cache
def _inputs() -> Inputs:
    import warnings

    from gembatch.inputs.articles import read_articles
    from gembatch.inputs.datasets import synthetic_articles
    from gembatch.planning.catalog import _builtin
    from gembatch.planning.cost import estimate
    from gembatch.planning.plan import plan

    # the shipped catalogue, never a user's GEMBATCH_CATALOG or learned limits (project=None): the
    # page documents what gembatch ships
    catalog = _builtin()
    articles = read_articles(synthetic_articles(ARTICLES, MEAN_CHARS, SEED), catalog=catalog)
    current = [
        m
        for m in catalog.ids()
        if (info := catalog.get(m, PRICE_DATE)).kind == "text"
        and not info.is_retired()
        and info.status != "unlisted"
    ]
    eras: list[tuple[Era, Sequence[str]]] = [("now", current), ("classic", CLASSIC_MODELS)]
    opts: dict[str, Any] = {"tier": TIER, "catalog": catalog, "project": None}
    with warnings.catch_warnings():  # plan warnings (spend caps, price changes) are tables here
        warnings.simplefilter("ignore")
        estimates = {
            (m, era): estimate(articles, m, billing_date=_DATES[era], **opts) for era, ms in eras for m in ms
        }
        plans: dict[tuple[str, str, Era], Plan] = {
            (m, p, era): plan(articles, m, policy=p, billing_date=_DATES[era], **opts)
            for era, ms in eras
            for m in ms
            for p in POLICIES
        }
    return Inputs(articles, catalog, current, estimates, plans)


# -- formatting ---------------------------------------------------------------------------------
def _n(value: float) -> str:
    return f"{round(value):,}"


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _millions(value: float) -> str:
    return f"{value / 1e6:,.1f}M"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    align = ["---:" if r else "---" for r in right]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# -- the tables ---------------------------------------------------------------------------------
def _assumed(info: ModelInfo, name: str) -> str:
    return "\\*" if name in info.assumed else ""  # escaped: two marks in a row must not make italics


def dataset_table(inp: Inputs) -> str:
    """The input set: sizes of the articles and of their JSONL request lines."""
    chars = inp.articles["chars"]
    main = inp.plans[(MAIN_MODEL, "rolling", "now")]
    info = main.model_info
    rows = [
        ["articles", _n(len(chars))],
        [
            "characters per article (min / mean / max)",
            f"{_n(chars.min())} / {_n(chars.mean())} / {_n(chars.max())}",
        ],
        ["characters in total", _n(chars.sum())],
        ["JSONL request bytes in total (prompt `{text}`)", f"{main.chunks['bytes'].sum() / 1e6:,.1f} MB"],
        ["inline limit per batch request", f"{info.inline_limit_bytes / 1e6:,.0f} MB"],
        ["input file limit per batch job", f"{info.file_limit_bytes / 1e9:,.0f} GB"],
    ]
    return _table(["", "value"], rows, [False, True])


def tokens_table(inp: Inputs) -> str:
    """Token estimates for the whole set (estimator prior, 300 output tokens per article)."""
    s = inp.estimates[(MAIN_MODEL, "now")].summary
    n = s["articles"]
    rows = [
        [
            "input (prompt) tokens",
            _n(s["input_tokens"] / n),
            _n(s["input_tokens_p50"]),
            _n(s["input_tokens"]),
        ],
        ["output tokens", _n(s["output_tokens"] / n), _n(s["output_tokens"]), _n(s["output_tokens_p90"])],
        ["thinking tokens (billed as output)", _n(s["thinking_tokens"] / n), _n(s["thinking_tokens"]), "–"],
    ]
    table = _table(
        ["tokens", "per article", "total, p50", "total, estimate (p90)"], rows, [False, True, True, True]
    )
    return f"{table}\n\nEstimator: {s['estimator']}."


def lineup_table(inp: Inputs) -> str:
    """The current models: batch prices on the page's date and at the next known change."""
    rows = []
    for m in inp.current:
        info = inp.plans[(m, "rolling", "now")].model_info
        nxt = info.next_prices()
        later = (
            f"{nxt.batch_input_price:g} / {nxt.batch_output_price:g} from {nxt.prices_from}" if nxt else "–"
        )
        long = "–"
        if info.long_context_threshold is not None and info.batch_input_price_long is not None:
            long = f"{info.batch_input_price_long:g} / {info.batch_output_price_long:g}"
            long += f" above {_n(info.long_context_threshold)}"
        think = ("yes" if info.thinking_by_default else "no") + _assumed(info, "thinking_by_default")
        rows.append(
            [
                f"`{m}`",
                info.status,
                f"{info.batch_input_price:g} / {info.batch_output_price:g}",
                later,
                long,
                think,
                info.as_of,
            ]
        )
    header = ["model", "status", f"batch $/1M in / out on {PRICE_DATE}", "next change", "long prompts",
              "thinks by default", "as of"]  # fmt: skip
    return _table(header, rows, [False, False, True, True, True, False, False])


def limits_table(inp: Inputs) -> str:
    """Tier-1 limits per current model and how many times the 12k input fills the usable quota."""
    rows = []
    for m in inp.current:
        p = inp.plans[(m, "rolling", "now")]
        info = p.model_info
        rpm, tpm = info.rate_limits(TIER)
        rows.append(
            [
                f"`{m}`",
                _n(p.quota_tokens) + _assumed(info, "enqueued_tokens"),
                _n(p.cap_tokens),
                f"{p.chunks['est_tokens'].sum() / p.cap_tokens:.1f}",
                _n(info.concurrent_batch_jobs),
                _n(rpm) + _assumed(info, "rpm"),
                _n(tpm) + _assumed(info, "tpm"),
                _n(info.context_window) + _assumed(info, "context_window"),
            ]
        )
    header = ["model", "enqueued-token quota", "usable (× 0.9)", "12k input ÷ usable",
              "concurrent jobs", "RPM", "TPM", "context window"]  # fmt: skip
    note = r"\* assumed: Google no longer publishes it; gembatch learns the real figure from the service."
    return f"{_table(header, rows, [False, *[True] * 7])}\n\n{note}"


def _cost_rows(inp: Inputs, era: Era) -> list[list[str]]:
    rows = []
    for m in inp.models(era):
        s = inp.estimates[(m, era)].summary
        info = inp.estimates[(m, era)].model_info
        rows.append(
            [
                f"`{m}`",
                f"{info.batch_input_price:g} / {info.batch_output_price:g}",
                _usd(s["batch_cost_usd"]),
                _usd(s["batch_cost_usd_p90"]),
                _usd(s["realtime_cost_usd"]),
                _usd(s["realtime_cost_usd_p90"]),
                f"{_usd(s['savings_usd'])} ({s['savings_pct']:.0f}%)",
            ]
        )
    return rows


_COST_HEADER = [
    "model",
    "batch $/1M in / out",
    "batch",
    "batch p90",
    "real time",
    "real time p90",
    "batch saves",
]


def cost_table(inp: Inputs) -> str:
    """Cost of the 12k set per current model on the page's date, and after a known price change."""
    rows = _cost_rows(inp, "now")
    for row, m in zip(rows, inp.current, strict=True):
        nxt = inp.estimates[(m, "now")].summary["batch_cost_usd_next"]
        start = inp.estimates[(m, "now")].summary["next_prices_from"]
        row.append(f"{_usd(nxt)} from {start}" if nxt is not None else "–")
    return _table([*_COST_HEADER, "batch after the next change"], rows, [False, *[True] * 7])


def tiers_table(inp: Inputs) -> str:
    """Monthly spend caps per tier, as the catalogue records them."""
    rows = []
    for name in ("tier1", "tier2", "tier3"):
        t = inp.catalog.tier(name)
        cap = "–" if t.spend_cap_usd_month is None else f"${t.spend_cap_usd_month:,.0f}"
        rows.append([name, cap, "confirmed" if t.spend_cap_confirmed else "reported, unconfirmed", t.as_of])
    return _table(["tier", "monthly spend cap", "status", "as of"], rows, [False, True, False, False])


def _timeline_rows(inp: Inputs, era: Era) -> list[list[str]]:
    from gembatch.planning.forecast import forecast

    rows = []
    for m in inp.models(era):
        rolling, waves = inp.plans[(m, "rolling", era)], inp.plans[(m, "waves", era)]
        fr, fw, rt = forecast(rolling, "batch"), forecast(waves, "batch"), forecast(rolling, "realtime")
        rows.append(
            [
                f"`{m}`",
                f"{len(rolling.chunks)} jobs, {_millions(rolling.chunks['est_tokens'].max())} max",
                f"{_duration(fr.p50_s)} / {_duration(fr.p90_s)}",
                f"{len(waves.chunks)} jobs in {len(waves.waves)} waves",
                f"{_duration(fw.p50_s)} / {_duration(fw.p90_s)}",
                f"{_duration(rt.p50_s)} ({rt.limit})",
            ]
        )
    return rows


def timeline_table(inp: Inputs) -> str:
    """Jobs, waves and forecast wall time per current model: rolling, waves, and real time."""
    from gembatch.planning.forecast import forecast

    header = ["model", "rolling: jobs, largest", "rolling p50 / p90 sum", "waves", "waves p50 / p90 sum",
              "real time"]  # fmt: skip
    note = forecast(inp.plans[(MAIN_MODEL, "rolling", "now")], "batch").assumption
    table = _table(header, _timeline_rows(inp, "now"), [False, True, True, True, True, True])
    return (
        f"{table}\n\nBatch figures assume {note}: gembatch's own assumption, not a published figure "
        "(Google states only that a batch job finishes within 24 hours; override it with "
        "`forecast(plan, turnaround_p50_s=..., turnaround_p90_s=...)`). The p90 sum adds the p90 "
        "turnaround of every round one after another, so it is closer to a worst case than to a "
        "90th percentile of the whole run."
    )


def _waves_rows(p: Plan) -> list[list[str]]:
    return [
        [
            str(wave),
            _n(r["articles"]),
            _n(r["est_input_tokens"]),
            _usd(r["est_cost_usd"]),
            f"{r['bytes'] / 1e6:,.1f} MB",
        ]
        for wave, r in p.waves.iterrows()
    ]


_WAVES_HEADER = ["wave", "articles", "input tokens", "batch cost", "JSONL"]


def waves_table(inp: Inputs) -> str:
    """The waves plan of the main model, wave by wave."""
    return _table(_WAVES_HEADER, _waves_rows(inp.plans[(MAIN_MODEL, "waves", "now")]), [True] * 5)


def classic_table(inp: Inputs) -> str:
    """The classic comparison: the first catalogue's models, priced as on its date, with today's status."""
    rows = _cost_rows(inp, "classic")
    for row, m in zip(rows, CLASSIC_MODELS, strict=True):
        waves = inp.plans[(m, "waves", "classic")]
        today = inp.catalog.get(m, PRICE_DATE)
        per_wave = float(waves.waves["articles"].max())  # full waves; the last one takes the rest
        row[2:4] = [row[2]]  # batch, real time and savings: the classic table's columns
        del row[4]
        row += [
            _n(waves.quota_tokens),
            f"{len(waves.waves)} of ~{_n(round(per_wave, -2))} articles",
            f"retired {today.retired} → `{today.successor}`" if today.is_retired() else "still listed",
        ]
    header = ["model", "batch $/1M in / out", "batch", "real time", "batch saves", "tier-1 quota (then)",
              "waves", f"on {PRICE_DATE}"]  # fmt: skip
    return _table(header, rows, [False, True, True, True, True, True, True, False])


def classic_waves_table(inp: Inputs) -> str:
    """The classic waves plan of 2.5 Flash-Lite under its 10M-token quota."""
    return _table(_WAVES_HEADER, _waves_rows(inp.plans[(CLASSIC_MAIN, "waves", "classic")]), [True] * 5)


TABLES: dict[str, Callable[[Inputs], str]] = {
    "dataset": dataset_table,
    "tokens": tokens_table,
    "lineup": lineup_table,
    "limits": limits_table,
    "cost": cost_table,
    "tiers": tiers_table,
    "timeline": timeline_table,
    "waves": waves_table,
    "classic": classic_table,
    "classic-waves": classic_waves_table,
}


def render(text: str, tables: dict[str, Callable[[Inputs], str]] | None = None) -> str:
    """``text`` with every marked table regenerated; everything outside the markers is kept.

    Parameters
    ----------
    text
        A Markdown page holding ``begin_marker(name)`` / ``end_marker(name)`` pairs.
    tables
        Table makers by name (default :data:`TABLES`); markers of other names are left alone.

    Examples
    --------
    >>> render("no markers here")
    'no markers here'
    """
    out = text
    for name, make in (tables or TABLES).items():
        pattern = re.compile(
            rf"({re.escape(begin_marker(name))}\n)(.*?)(^{re.escape(end_marker(name))})", re.S | re.M
        )
        if pattern.search(out):
            body = make(_inputs()).rstrip("\n") + "\n"
            out = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), out)  # type: ignore[misc]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the tables in place (default ``docs/tier1-12k.md``), or ``--check`` them."""
    parser = argparse.ArgumentParser(prog="python -m gembatch.docs", description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, default=[DEFAULT_PAGE], help="Markdown files")
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is stale; write nothing")
    args = parser.parse_args(argv)
    stale = 0
    for page in args.pages:
        text = page.read_text("utf-8")
        fresh = render(text)
        if fresh == text:
            print(f"{page}: tables up to date")
        elif args.check:
            print(f"{page}: tables are stale; run `python -m gembatch.docs`", file=sys.stderr)
            stale += 1
        else:
            page.write_text(fresh, "utf-8")
            print(f"{page}: tables regenerated")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
