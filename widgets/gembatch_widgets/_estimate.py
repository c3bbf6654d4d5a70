"""The SubmitPanel's live estimate: plan the inputs, and say whether the budget allows submitting."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

import gembatch
from gembatch.presentation import html_repr as _html

__all__ = ["PlanSummary", "summarize"]


@dataclasses.dataclass
class PlanSummary:
    """The figures the SubmitPanel shows for one set of inputs (all optional)."""

    articles: int | None = None
    input_tokens: int | None = None
    input_tokens_p90: int | None = None
    output_tokens: int | None = None
    chunks: int | None = None
    waves: int | None = None
    batch_usd: float | None = None
    batch_usd_p90: float | None = None
    realtime_usd: float | None = None
    realtime_usd_p90: float | None = None
    duration: str | None = None
    mode: str = "batch"
    budget_usd: float | None = None
    error: str | None = None

    @property
    def cost_usd(self) -> float | None:
        """The estimate for the chosen mode (what the budget is checked against)."""
        return self.realtime_usd if self.mode == "realtime" else self.batch_usd

    @property
    def over_budget(self) -> bool:
        """Whether the estimate for the chosen mode exceeds the budget."""
        cost = self.cost_usd
        return bool(self.budget_usd) and cost is not None and cost > (self.budget_usd or 0.0)

    def blocker(self) -> str | None:
        """Why Submit is disabled, or ``None``."""
        if self.error:
            return self.error
        if self.over_budget:
            return (
                f"estimated {self.mode} cost {_html.usd(self.cost_usd)} exceeds the budget "
                f"{_html.usd(self.budget_usd)}: raise the budget or trim the input"
            )
        return None

    def fields(self) -> dict[str, object]:
        """Labelled figures (plain strings)."""
        if self.error and self.articles is None:
            return {"estimate": self.error}
        out: dict[str, object] = {
            "articles": _html.count(self.articles),
            "input tokens": f"{_html.tokens(self.input_tokens)} (p90 {_html.tokens(self.input_tokens_p90)})",
            "output tokens": _html.tokens(self.output_tokens),
            "jobs": f"{_plural(self.chunks, 'chunk')} in {_plural(self.waves, 'wave')}",
            "batch cost": f"{_html.usd(self.batch_usd)} (p90 {_html.usd(self.batch_usd_p90)})",
            "real-time cost": f"{_html.usd(self.realtime_usd)} (p90 {_html.usd(self.realtime_usd_p90)})",
        }
        if self.duration:
            out["expected duration"] = self.duration
        out["budget"] = _html.usd(self.budget_usd) if self.budget_usd else "none"
        return out

    def html(self) -> str:
        """The estimate block (escaped); a red line says why Submit is disabled."""
        blocker = self.blocker()
        badge = "over budget" if self.over_budget else ("error" if self.error else "ok")
        return _html.render("estimate", badges=[badge], fields=self.fields(), footer=blocker)

    def key(self) -> tuple[object, ...]:
        """Changes whenever a shown figure does."""
        return dataclasses.astuple(self)


def _plural(n: int | None, word: str) -> str:
    return f"{_html.count(n)} {word}{'' if n == 1 else 's'}"


def _get(obj: Any, *names: str) -> Any:
    summary = getattr(obj, "summary", None)
    for name in names:
        if isinstance(summary, Mapping) and summary.get(name) is not None:
            return summary[name]
        value = getattr(obj, name, None)
        if value is not None and not callable(value):
            return value
    return None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _duration(seconds: float | None) -> str | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def _realtime_seconds(articles: pd.DataFrame, est: Any, tier: str) -> float | None:
    info = getattr(est, "model_info", None)
    if info is None:
        return None
    try:
        rpm, tpm = info.rate_limits(tier)
    except gembatch.GembatchError:
        return None
    tokens = float(_get(est, "input_tokens") or 0) + float(_get(est, "output_tokens") or 0)
    minutes = max(len(articles) / rpm if rpm else 0.0, tokens / tpm if tpm else 0.0)
    return 60.0 * minutes


def _plan(articles: pd.DataFrame, kwargs: Mapping[str, Any]) -> tuple[Any, bool]:
    """``gb.plan(...)`` (or ``gb.estimate`` before plans exist); (plan, refused_by_budget)."""
    plan_fn = getattr(gembatch, "plan", None)
    if plan_fn is None:
        from gembatch.planning.cost import estimate

        est_kwargs = {k: v for k, v in kwargs.items() if k not in ("budget_usd", "policy")}
        return estimate(articles, **est_kwargs), False
    try:
        return plan_fn(articles, **kwargs), False
    except gembatch.BudgetExceeded:
        return plan_fn(articles, **{**kwargs, "budget_usd": None}), True


def summarize(articles: pd.DataFrame, kwargs: Mapping[str, Any], mode: str) -> tuple[Any, PlanSummary]:
    """Plan ``articles`` with ``kwargs`` and collect the figures; the plan is ``None`` if refused."""
    plan, refused = _plan(articles, kwargs)
    est = getattr(plan, "cost", None) or plan  # a Plan carries its Estimate in .cost
    chunks = getattr(plan, "chunks", None)
    waves = getattr(plan, "waves", None)
    s = PlanSummary(mode=mode, budget_usd=kwargs.get("budget_usd"))
    s.articles = len(articles)
    s.input_tokens = _int(_get(est, "input_tokens", "est_input_tokens"))
    s.input_tokens_p90 = _int(_get(est, "input_tokens_p90"))
    s.output_tokens = _int(_get(est, "output_tokens", "est_output_tokens"))
    s.chunks = len(chunks) if isinstance(chunks, pd.DataFrame) else None
    s.waves = len(waves) if isinstance(waves, pd.DataFrame) else None
    s.batch_usd = _float(_get(est, "batch_cost_usd"))
    s.batch_usd_p90 = _float(_get(est, "batch_cost_usd_p90"))
    s.realtime_usd = _float(_get(est, "realtime_cost_usd"))
    s.realtime_usd_p90 = _float(_get(est, "realtime_cost_usd_p90"))
    if mode == "realtime":
        s.duration = _duration(_realtime_seconds(articles, est, str(kwargs.get("tier", "tier1"))))
    else:
        seconds = _float(_get(plan, "expected_duration_s", "est_duration_s", "duration_s"))
        s.duration = _duration(seconds) if seconds is not None else "batch jobs: minutes to 24 h each"
    if refused and not s.over_budget:
        s.error = "the plan was refused by the budget"
    return (None if refused or getattr(gembatch, "plan", None) is None else plan), s
