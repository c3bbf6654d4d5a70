"""The SubmitPanel's live estimate: the figures of ``RunRequest.plan().cost``, never recomputed here."""

from __future__ import annotations

import dataclasses
from typing import Any

from gembatch import Estimate, Plan, RunRequest
from gembatch.presentation import formatters as fmt
from gembatch.presentation import html_repr

__all__ = ["PlanSummary", "summarize"]


@dataclasses.dataclass(frozen=True)
class PlanSummary:
    """What the SubmitPanel shows for one request: its plan's figures, or why there is none.

    Every figure is read from the plan's :class:`~gembatch.Estimate` (``print(plan.cost)`` shows
    the same numbers); ``budget_problem`` is :meth:`RunRequest.budget_problem`'s verdict.
    """

    plan: Plan | None = None
    mode: str = "batch"
    budget_usd: float | None = None
    budget_problem: str | None = None
    error: str | None = None
    field: str | None = None  # the form field the error belongs to, when known
    duration_p50_s: float | None = None  # the forecast of the chosen mode (planning.forecast)
    duration_p90_s: float | None = None
    duration_limit: str | None = None

    @property
    def estimate(self) -> Estimate | None:
        return None if self.plan is None else self.plan.cost

    def _figure(self, name: str) -> Any:
        return None if self.plan is None else self.plan.cost.summary[name]

    articles = property(lambda self: self._figure("articles"))
    input_tokens = property(lambda self: self._figure("input_tokens"))
    input_tokens_p50 = property(lambda self: self._figure("input_tokens_p50"))
    input_tokens_p90 = property(lambda self: self._figure("input_tokens_p90"))
    output_tokens = property(lambda self: self._figure("output_tokens"))
    output_tokens_p90 = property(lambda self: self._figure("output_tokens_p90"))
    thinking_tokens = property(lambda self: self._figure("thinking_tokens"))
    batch_usd = property(lambda self: self._figure("batch_cost_usd"))
    batch_usd_p50 = property(lambda self: self._figure("batch_cost_usd_p50"))
    batch_usd_p90 = property(lambda self: self._figure("batch_cost_usd_p90"))
    realtime_usd = property(lambda self: self._figure("realtime_cost_usd"))
    realtime_usd_p50 = property(lambda self: self._figure("realtime_cost_usd_p50"))
    realtime_usd_p90 = property(lambda self: self._figure("realtime_cost_usd_p90"))
    realtime_duration_s = property(lambda self: self._figure("realtime_duration_s"))

    @property
    def chunks(self) -> int | None:
        return None if self.plan is None else len(self.plan.chunks)

    @property
    def waves(self) -> int | None:
        return None if self.plan is None else len(self.plan.waves)

    @property
    def over_budget(self) -> bool:
        """Whether the estimate for the chosen mode exceeds the budget."""
        return self.budget_problem is not None

    def blocker(self) -> str | None:
        """Why Submit is disabled, or ``None``."""
        return self.error or self.budget_problem

    def fields(self) -> dict[str, object]:
        """Labelled figures (plain strings)."""
        if self.plan is None:
            return {"estimate": "— (fix the highlighted field)" if self.field else (self.error or "—")}
        out: dict[str, object] = {
            "articles": fmt.count(self.articles),
            **_cache_field(self.plan.cost.summary),
            "input tokens": f"{fmt.tokens(self.input_tokens)} (p50 {fmt.tokens(self.input_tokens_p50)}, "
            f"p90 {fmt.tokens(self.input_tokens_p90)})",
            "output tokens": f"{fmt.tokens(self.output_tokens)} (p90 {fmt.tokens(self.output_tokens_p90)}), "
            f"thinking {fmt.tokens(self.thinking_tokens)}",
            "jobs": f"{_plural(self.chunks, 'chunk')} in {_plural(self.waves, 'wave')}",
            "batch cost": f"{fmt.usd(self.batch_usd)} (p50 {fmt.usd(self.batch_usd_p50)}, "
            f"p90 {fmt.usd(self.batch_usd_p90)})",
            "real-time cost": f"{fmt.usd(self.realtime_usd)} (p50 {fmt.usd(self.realtime_usd_p50)}, "
            f"p90 {fmt.usd(self.realtime_usd_p90)})",
        }
        if self.realtime_duration_s is not None:
            bound = str(self._figure("realtime_bound")).upper()
            out["real-time duration"] = f"{fmt.duration(self.realtime_duration_s)} ({bound}-bound)"
        if self.mode == "batch" and self.duration_p50_s is not None:
            out["batch duration"] = (
                f"~{fmt.duration(self.duration_p50_s)} (p90 {fmt.duration(self.duration_p90_s)}), "
                f"bounded by {self.duration_limit}; the service allows up to 24 h per job"
            )
        out["budget"] = fmt.usd(self.budget_usd) if self.budget_usd else "no budget (0 in the form)"
        return out

    def tone(self) -> str:
        """The badge colour: ``ok`` (green) when Submit is possible, ``bad`` (red) otherwise."""
        return "bad" if self.blocker() else "ok"

    def html(self, *, problems: bool = True) -> str:
        """The estimate block (escaped); ``problems``: a red line says why Submit is disabled (the
        live form shows it next to its field instead)."""
        badge = "over budget" if self.over_budget else ("error" if self.error else "ok")
        return html_repr.render(
            "estimate",
            badges=[html_repr.state_badge(badge, tone=self.tone())],
            fields=self.fields(),
            footer=self.blocker() if problems else None,
        )

    def key(self) -> tuple[object, ...]:
        """Changes whenever a shown figure does."""
        return (tuple(self.fields().items()), self.mode, self.budget_problem, self.error)


def _cache_field(figures: dict[str, Any]) -> dict[str, object]:
    """The response cache's share, when it answers some articles (they are not in the figures)."""
    if not figures.get("cache_hits"):
        return {}
    hits, saved = fmt.count(figures["cache_hits"]), fmt.usd(figures["cache_saved_usd"])
    return {"cache": f"{hits} articles already answered (saves {saved}); not counted below"}


def _plural(n: int | None, word: str) -> str:
    return f"{fmt.count(n)} {word}{'' if n == 1 else 's'}"


def summarize(request: RunRequest) -> tuple[Plan | None, PlanSummary]:
    """Plan ``request`` and collect its figures; the plan is ``None`` when the budget refuses it."""
    from gembatch.planning.forecast import forecast

    plan = request.plan(check_budget=False)  # over budget: still show the figures, and why
    problem = request.budget_problem(plan.cost)
    fc = forecast(plan, "batch") if request.mode == "batch" else None
    summary = PlanSummary(
        plan=plan,
        mode=request.mode,
        budget_usd=request.budget_usd,
        budget_problem=problem,
        field="budget" if problem else None,
        duration_p50_s=None if fc is None else fc.p50_s,
        duration_p90_s=None if fc is None else fc.p90_s,
        duration_limit=None if fc is None else fc.limit,
    )
    return (None if problem else plan), summary
