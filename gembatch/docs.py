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
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

    from gembatch.planning.catalog import Catalog
    from gembatch.planning.cost import Estimate
    from gembatch.planning.plan import Plan

__all__ = ["DEFAULT_PAGE", "TABLES", "begin_marker", "end_marker", "main", "render"]

DEFAULT_PAGE = Path("docs") / "tier1-12k.md"
ARTICLES = 12_000
MEAN_CHARS = 9_000
SEED = 0
TIER = "tier1"
MAIN_MODEL = "gemini-2.5-flash-lite"
POLICIES: tuple[Literal["rolling", "waves"], ...] = ("rolling", "waves")


def begin_marker(name: str) -> str:
    """The comment line that opens table ``name`` in a Markdown page."""
    return f"<!-- gembatch.docs:begin {name} -->"


def end_marker(name: str) -> str:
    """The comment line that closes table ``name``."""
    return f"<!-- gembatch.docs:end {name} -->"


@dataclass
class Inputs:
    """The 12,000 synthetic articles and, per model, the estimate and both plans (computed once)."""

    articles: pd.DataFrame
    catalog: Catalog
    estimates: dict[str, Estimate]
    plans: dict[tuple[str, str], Plan]


@functools.cache
def _inputs() -> Inputs:
    from gembatch.inputs.articles import read_articles
    from gembatch.inputs.datasets import synthetic_articles
    from gembatch.planning.catalog import _builtin
    from gembatch.planning.cost import estimate
    from gembatch.planning.plan import plan

    # the shipped catalogue, never a user's GEMBATCH_CATALOG: the page documents what gembatch ships
    catalog = _builtin()
    articles = read_articles(synthetic_articles(ARTICLES, MEAN_CHARS, SEED), catalog=catalog)
    estimates = {m: estimate(articles, m, tier=TIER, catalog=catalog) for m in catalog.ids()}
    plans: dict[tuple[str, str], Plan] = {
        (m, p): plan(articles, m, tier=TIER, policy=p, catalog=catalog)
        for m in catalog.ids()
        for p in POLICIES
    }
    return Inputs(articles, catalog, estimates, plans)


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
def dataset_table(inp: Inputs) -> str:
    """The input set: sizes of the articles and of their JSONL request lines."""
    chars = inp.articles["chars"]
    main = inp.plans[(MAIN_MODEL, "rolling")]
    info = inp.catalog.get(MAIN_MODEL)
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
    s = inp.estimates[MAIN_MODEL].summary
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


def limits_table(inp: Inputs) -> str:
    """Tier-1 limits per model and how many times the 12k input fills the usable quota."""
    rows = []
    for m in inp.catalog.ids():
        info, p = inp.catalog.get(m), inp.plans[(m, "rolling")]
        rpm, tpm = info.rate_limits(TIER)
        rows.append(
            [
                f"`{m}`",
                _n(p.quota_tokens),
                _n(p.cap_tokens),
                f"{p.chunks['est_tokens'].sum() / p.cap_tokens:.1f}",
                _n(info.concurrent_batch_jobs),
                _n(rpm),
                _n(tpm),
                info.as_of,
            ]
        )
    header = ["model", "enqueued-token quota", "usable (× 0.9)", "12k input ÷ usable",
              "concurrent jobs", "RPM", "TPM", "as of"]  # fmt: skip
    return _table(header, rows, [False, *[True] * 6, False])


def cost_table(inp: Inputs) -> str:
    """Cost of the 12k set per model: batch against real time, estimate and p90."""
    rows = []
    for m in inp.catalog.ids():
        s = inp.estimates[m].summary
        info = inp.catalog.get(m)
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
    header = [
        "model",
        "batch $/1M in / out",
        "batch",
        "batch p90",
        "real time",
        "real time p90",
        "batch saves",
    ]
    return _table(header, rows, [False, *[True] * 6])


def timeline_table(inp: Inputs) -> str:
    """Jobs, waves and forecast wall time per model: rolling, waves, and real time."""
    from gembatch.planning.forecast import forecast

    rows = []
    for m in inp.catalog.ids():
        rolling, waves = inp.plans[(m, "rolling")], inp.plans[(m, "waves")]
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
    header = ["model", "rolling: jobs, largest", "rolling p50 / p90", "waves", "waves p50 / p90", "real time"]
    note = forecast(inp.plans[(MAIN_MODEL, "rolling")], "batch").assumption
    return f"{_table(header, rows, [False, True, True, True, True, True])}\n\nBatch figures assume {note}."


def waves_table(inp: Inputs) -> str:
    """The waves plan of the main model, wave by wave."""
    p = inp.plans[(MAIN_MODEL, "waves")]
    rows = [
        [
            str(wave),
            _n(r["articles"]),
            _n(r["est_input_tokens"]),
            _usd(r["est_cost_usd"]),
            f"{r['bytes'] / 1e6:,.1f} MB",
        ]
        for wave, r in p.waves.iterrows()
    ]
    return _table(["wave", "articles", "input tokens", "batch cost", "JSONL"], rows, [True] * 5)


TABLES: dict[str, Callable[[Inputs], str]] = {
    "dataset": dataset_table,
    "tokens": tokens_table,
    "limits": limits_table,
    "cost": cost_table,
    "timeline": timeline_table,
    "waves": waves_table,
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
