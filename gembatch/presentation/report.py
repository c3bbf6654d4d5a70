"""A finished (or paused) run in figures: the runbook's report dict, failures by reason, summary JSON."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from gembatch.runs.run import Run
    from gembatch.runs.summary import RunSummary

__all__ = ["SUMMARY_FILE", "failures_by_reason", "report", "tokens_table", "write_report"]

SUMMARY_FILE = "summary.json"
# a status first ("400 INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"), else the text up to the first ":"
_STATUS = re.compile(r"^\s*(\d{3}\s+[A-Z_]+|[A-Z][A-Z_]{3,})\b")
_REASON = re.compile(r"^\s*([^:(\[]{1,60})")


def _reason(error: Any) -> str:
    """A short label for an error message: its status code, else its text up to the first ':'."""
    if not isinstance(error, str) or not error.strip():
        return "unknown"
    match = _STATUS.match(error) or _REASON.match(error)
    return match.group(1).strip() if match else "unknown"


def failures_by_reason(results: pd.DataFrame) -> pd.DataFrame:
    """Failed articles grouped by reason: index ``reason``, columns ``articles`` and ``example``."""
    failed = results[results["status"].astype("string") == "failed"]
    if failed.empty:
        return pd.DataFrame(
            {"articles": pd.Series(dtype="int64"), "example": pd.Series(dtype="string")},
            index=pd.Index([], name="reason", dtype="string"),
        )
    reasons = failed["error"].map(_reason).astype("string").rename("reason")
    grouped = failed.assign(reason=reasons).groupby("reason", sort=False)
    frame = pd.DataFrame(
        {
            "articles": grouped.size().astype("int64"),
            "example": grouped["error"].first().astype("string").str.slice(0, 200),
        }
    )
    return frame.sort_values("articles", ascending=False)


def tokens_table(summary: RunSummary) -> pd.DataFrame:
    """Estimated vs actual tokens and cost, one row per figure (of :meth:`gembatch.Run.summary`)."""
    s = summary
    rows = {
        "input tokens": (s.est_input_tokens, s.input_tokens),
        "output tokens (incl. thinking)": (s.est_output_tokens, s.output_tokens + s.thoughts_tokens),
        "cost (USD)": (s.cost_estimated_usd, s.cost_actual_usd),
    }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["estimated", "actual"]).astype("Float64")
    frame["actual / estimated"] = (frame["actual"] / frame["estimated"]).round(3)
    frame.index.name = "figure"
    return frame.round(6)


def report(run: Run, results: pd.DataFrame | None = None) -> dict[str, Any]:
    """The run's report as a plain JSON-able dict.

    Keys: everything in :meth:`gembatch.Run.summary`, plus ``run_dir``, ``accounted`` (every input
    article has exactly one row with a known status), ``result_rows``, ``status_counts``,
    ``failures_by_reason`` {reason: articles}, ``tokens`` and ``cost`` (estimated vs actual),
    ``cost_per_article_usd`` and ``written_at`` (UTC, ISO 8601).
    """
    res = run.results() if results is None else results
    summary = run.summary()
    counts = res["status"].astype("string").value_counts().to_dict()
    total = summary.articles or len(res)
    known = sum(int(counts.get(s, 0)) for s in ("succeeded", "failed", "pending"))
    settled = int(counts.get("succeeded", 0)) + int(counts.get("failed", 0))
    actual = summary.cost_actual_usd
    table = tokens_table(summary)
    return {
        **summary.to_dict(),
        "run_dir": str(run.run_dir),
        "result_rows": len(res),
        "accounted": bool(len(res) == total and res.index.is_unique and known == total),
        "status_counts": {k: int(v) for k, v in counts.items()},
        "failures_by_reason": {
            str(k): int(v) for k, v in failures_by_reason(res)["articles"].to_dict().items()
        },
        "tokens": {
            "input": {"estimated": _int(table.iat[0, 0]), "actual": _int(table.iat[0, 1])},
            "output": {"estimated": _int(table.iat[1, 0]), "actual": _int(table.iat[1, 1])},
        },
        "cost": {
            "estimated_usd": summary.cost_estimated_usd,
            "committed_usd": summary.cost_committed_usd,
            "actual_usd": actual,
        },
        "cost_per_article_usd": actual / settled if settled else None,
        "written_at": pd.Timestamp(time.time(), unit="s", tz="UTC").isoformat(),
    }


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def write_report(run: Run, path: str | os.PathLike[str] | None = None, **extra: Any) -> Path:
    """Export ``results.parquet`` and write the report (plus ``extra`` keys) as JSON; returns its path.

    ``path`` defaults to ``<run_dir>/summary.json``; both files are written atomically.
    """
    from gembatch.runs.context import RESULTS_FILE
    from gembatch.runs.results import export

    results = run.results()
    export(results, Path(run.run_dir) / RESULTS_FILE)
    data = {**report(run, results), **extra, "results_path": str(Path(run.run_dir) / RESULTS_FILE)}
    out = Path(path) if path is not None else Path(run.run_dir) / SUMMARY_FILE
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(data, indent=2, default=str, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return out
