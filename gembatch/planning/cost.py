"""Cost estimates: tokens and USD per article, batch against real time, with p50/p90 figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gembatch.errors import CatalogError, InputError, RetiredModel
from gembatch.inputs.request_lines import DYNAMIC_THINKING_TOKENS, RequestSpec
from gembatch.inputs.tokens import TokenEstimator, request_chars
from gembatch.planning.catalog import Catalog, ModelInfo, _check_tier, default_catalog
from gembatch.planning.price_schedule import DateLike, as_date
from gembatch.presentation import formatters as fmt

__all__ = ["OUTPUT_P90_FACTOR", "Estimate", "estimate", "make_spec", "resolve_model"]

# Output length is an expectation, not max_output_tokens (a worst case nobody pays). The high
# (p90) figure assumes outputs run to 1.5× the expectation, capped by max_output_tokens.
OUTPUT_P90_FACTOR = 1.5


@dataclass(frozen=True, eq=False)
class Estimate:
    """Estimated tokens and cost of running ``spec`` over some articles.

    ``per_article`` (index ``article_id``) has ``input_tokens`` (the planning estimate, also the
    enqueued tokens), ``output_tokens``, ``thinking_tokens``, ``batch_cost_usd`` and
    ``realtime_cost_usd``. The summary attributes add p50/p90 figures from the estimator's
    measured (or stated) error.
    """

    per_article: pd.DataFrame
    spec: RequestSpec
    model_info: ModelInfo
    tier: str
    estimator: TokenEstimator
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.model_info.id

    def __getattr__(self, name: str) -> Any:  # summary figures as attributes: est.batch_cost_usd
        summary = self.__dict__.get("summary", {})
        if name in summary:
            return summary[name]
        raise AttributeError(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON summary."""
        return dict(self.summary)

    def _rows(self) -> list[list[str]]:
        s = self.summary
        return [
            [
                "input tokens",
                fmt.num(s["input_tokens"]),
                fmt.num(s["input_tokens_p50"]),
                fmt.num(s["input_tokens_p90"]),
            ],
            [
                "output tokens",
                fmt.num(s["output_tokens"]),
                fmt.num(s["output_tokens"]),
                fmt.num(s["output_tokens_p90"]),
            ],
            [
                "thinking tokens",
                fmt.num(s["thinking_tokens"]),
                fmt.num(s["thinking_tokens"]),
                fmt.num(s["thinking_tokens"]),
            ],
            [
                "batch cost",
                fmt.usd(s["batch_cost_usd"]),
                fmt.usd(s["batch_cost_usd_p50"]),
                fmt.usd(s["batch_cost_usd_p90"]),
            ],
            [
                "real-time cost",
                fmt.usd(s["realtime_cost_usd"]),
                fmt.usd(s["realtime_cost_usd_p50"]),
                fmt.usd(s["realtime_cost_usd_p90"]),
            ],
        ]

    def _title(self) -> str:
        s = self.summary
        return f"Estimate: {fmt.num(s['articles'])} articles · {self.model} · {self.tier}"

    def _notes(self) -> list[str]:
        s = self.summary
        cached = [
            f"cache: {fmt.num(s['cache_hits'])} articles already answered (saves "
            f"{fmt.usd(s['cache_saved_usd'])}); the figures are for the other {fmt.num(s['articles'])}"
        ] if s.get("cache_hits") else []  # fmt: skip
        return [
            *cached,
            f"batch saves {fmt.usd(s['savings_usd'])} ({s['savings_pct']:.0f}%) against real time",
            *_duration_note(s),
            f"tokens: {self.estimator.source}",
            f"output: {fmt.num(self.spec.expected_output_tokens)} tokens expected per article "
            f"(p90 ×{OUTPUT_P90_FACTOR}); thinking {fmt.num(s['expected_thinking_tokens'])}"
            + (
                f" ({self.model} thinks by default and bills it as output: estimated at "
                f"{fmt.num(DYNAMIC_THINKING_TOKENS)} per request; set thinking_budget "
                "(0 turns it off where the model allows) or expected_thinking_tokens)"
                if _thinks_unasked(self.spec, self.model_info)
                else ""
            ),
            *_price_notes(self.model_info, s),
            *(f"limits: {note}" for note in s.get("limit_notes", [])),
        ]

    def __repr__(self) -> str:
        table = fmt.text_table(self._rows(), ["", "estimate", "p50", "p90"])
        return "\n".join([self._title(), table, *self._notes()])

    def _repr_html_(self) -> str:
        from gembatch.presentation import html_repr as _html
        rows = self._rows()
        table = pd.DataFrame(
            [r[1:] for r in rows],
            index=pd.Index([r[0] for r in rows], name=""),
            columns=["estimate", "p50", "p90"],
        )
        head, _, sub = self._title().partition(" · ")
        return _html.render(head, subtitle=sub, tables={"estimate": table}, footer=" · ".join(self._notes()))


def make_spec(
    spec: RequestSpec | None,
    model: str | None,
    prompt: str,
    system_instruction: str | None,
    schema: Any,
    **kwargs: Any,
) -> RequestSpec:
    """The spec passed in, or one built from the keyword arguments (``None`` ones left default)."""
    if spec is not None:
        if model is not None and spec.model != model.removeprefix("models/"):
            raise InputError(f"model={model!r} disagrees with spec.model={spec.model!r}; pass one")
        return spec
    if model is None:
        raise InputError("model is required, e.g. model='gemini-3.5-flash-lite'")
    extra = {k: v for k, v in kwargs.items() if v is not None}
    return RequestSpec.create(model, prompt, system_instruction=system_instruction, schema=schema, **extra)


def _thinks_unasked(spec: RequestSpec, info: ModelInfo) -> bool:
    return (
        info.thinking_by_default and spec.thinking_budget is None and spec.expected_thinking_tokens is None
    )


def expected_thinking(spec: RequestSpec, info: ModelInfo) -> int:
    """Thinking tokens expected per request (billed as output): the spec's own figure, else, for a
    model that thinks unasked, the expectation for a dynamic budget (never 0: that hid real cost)."""
    return DYNAMIC_THINKING_TOKENS if _thinks_unasked(spec, info) else spec.thinking_tokens


def estimate(
    articles: Any,
    model: str | None = None,
    prompt: str = "{text}",
    system_instruction: str | None = None,
    schema: Any = None,
    *,
    tier: str = "tier1",
    expected_output_tokens: int | None = None,
    expected_thinking_tokens: int | None = None,
    temperature: float | None = None,
    max_output_tokens: int | None = None,
    thinking_budget: int | None = None,
    spec: RequestSpec | None = None,
    catalog: Catalog | None = None,
    estimator: TokenEstimator | None = None,
    billing_date: DateLike = None,
    project: Any = "auto",
    model_info: ModelInfo | None = None,
) -> Estimate:
    """Estimate tokens and cost, per article and in total, for batch and real time.

    Prices are those in force on ``billing_date`` (default today: the work is billed when it runs);
    the estimate also gives the cost at the model's next known prices. Limits come from the
    catalogue, overridden by what ``project`` learned or set (see :mod:`gembatch.planning.learned_limits`);
    ``model_info`` skips that lookup with an entry already resolved.

    Examples
    --------
    >>> from gembatch.inputs.datasets import synthetic_articles
    >>> est = estimate(synthetic_articles(10), model="gemini-3.5-flash-lite")
    >>> est.batch_cost_usd < est.realtime_cost_usd
    True
    """
    from gembatch.inputs.articles import is_articles_frame, read_articles

    spec = make_spec(
        spec, model, prompt, system_instruction, schema,
        expected_output_tokens=expected_output_tokens, expected_thinking_tokens=expected_thinking_tokens,
        temperature=temperature, max_output_tokens=max_output_tokens, thinking_budget=thinking_budget,
    )  # fmt: skip
    _check_tier(tier)
    limit_notes: list[str] = []
    if model_info is None:
        model_info, limit_notes = resolve_model(
            catalog or default_catalog(), spec.model, tier, billing_date, project
        )
    info = model_info
    estimator = estimator or TokenEstimator()
    if not is_articles_frame(articles):
        articles = read_articles(articles, catalog=catalog, estimator=estimator)
    tokens_in = estimator.tokens(request_chars(articles, spec))
    over = np.flatnonzero(tokens_in + spec.expected_output_tokens > info.context_window)
    if len(over):
        aid = articles.index[int(over[0])]
        raise InputError(
            f"article {aid!r}: ~{tokens_in[over[0]]:,} input tokens plus the expected output exceed "
            f"{info.id}'s context window of {info.context_window:,}; shorten it",
            row=str(aid),
            field="text",
        )
    n = len(articles)
    out = np.full(n, spec.expected_output_tokens, dtype=np.int64)
    per_request_thinking = expected_thinking(spec, info)
    think = np.full(n, per_request_thinking, dtype=np.int64)
    out_p90 = np.full(n, int(np.ceil(spec.expected_output_tokens * OUTPUT_P90_FACTOR)), dtype=np.int64)
    if spec.max_output_tokens is not None:
        out = np.minimum(out, spec.max_output_tokens)
        out_p90 = np.minimum(out_p90, spec.max_output_tokens)

    def cost(tin: np.ndarray, tout: np.ndarray, mode: str) -> np.ndarray:
        pin, pout = _prices(info, tin, mode)
        return (tin * pin + (tout + think) * pout) / 1e6

    batch = cost(tokens_in, out, "batch")
    realtime = cost(tokens_in, out, "realtime")
    in50 = np.ceil(tokens_in * estimator.p50_ratio).astype(np.int64)
    in90 = np.ceil(tokens_in * estimator.p90_ratio).astype(np.int64)
    frame = pd.DataFrame(
        {
            "input_tokens": tokens_in,
            "output_tokens": out,
            "thinking_tokens": think,
            "batch_cost_usd": batch,
            "realtime_cost_usd": realtime,
        },
        index=articles.index,
    )
    nxt = info.next_prices()
    next_b = float(cost_at(nxt, frame, "batch").sum()) if nxt else None
    next_r = float(cost_at(nxt, frame, "realtime").sum()) if nxt else None
    b50, b90 = float(cost(in50, out, "batch").sum()), float(cost(in90, out_p90, "batch").sum())
    r50, r90 = float(cost(in50, out, "realtime").sum()), float(cost(in90, out_p90, "realtime").sum())
    total_b, total_r = float(batch.sum()), float(realtime.sum())
    summary: dict[str, Any] = {
        "model": info.id,
        "tier": tier,
        "articles": n,
        "input_tokens": int(tokens_in.sum()),
        "input_tokens_p50": int(in50.sum()),
        "input_tokens_p90": int(in90.sum()),
        "output_tokens": int(out.sum()),
        "output_tokens_p90": int(out_p90.sum()),
        "thinking_tokens": int(think.sum()),
        "batch_cost_usd": total_b,
        "batch_cost_usd_p50": b50,
        "batch_cost_usd_p90": b90,
        "realtime_cost_usd": total_r,
        "realtime_cost_usd_p50": r50,
        "realtime_cost_usd_p90": r90,
        "savings_usd": total_r - total_b,
        "savings_pct": 100.0 * (total_r - total_b) / total_r if total_r else 0.0,
        "chars_per_token": estimator.chars_per_token,
        "estimator": estimator.source,
        "expected_output_tokens": spec.expected_output_tokens,
        "expected_thinking_tokens": per_request_thinking,
        "prices_as_of": info.as_of,
        "billing_date": info.billing_date,
        "prices_from": info.prices_from,
        "prices_until": info.prices_until,
        "next_prices_from": nxt.prices_from if nxt else None,
        "batch_cost_usd_next": next_b,
        "realtime_cost_usd_next": next_r,
        "limit_notes": limit_notes,
        **_realtime_duration(info, tier, n, int(in50.sum())),
    }
    return Estimate(per_article=frame, spec=spec, model_info=info, tier=tier, estimator=estimator,
                    summary=summary)  # fmt: skip


def resolve_model(
    catalog: Catalog, model: str, tier: str, billing_date: DateLike = None, project: Any = "auto"
) -> tuple[ModelInfo, list[str]]:
    """The catalogue entry priced on ``billing_date``, with ``project``'s learned or set limits.

    Raises
    ------
    RetiredModel
        The service shut the model down before ``billing_date``; the message names its successor.
    """
    from gembatch.planning.learned_limits import apply_learned

    info = catalog.get(model, billing_date)
    if info.kind != "text":
        raise CatalogError(
            f"{info.id} is an {info.kind} model: gembatch plans generateContent batches; pick a text model"
        )
    if info.is_retired():
        successor = f"use {info.successor} instead" if info.successor else "pick a current model"
        raise RetiredModel(
            f"{info.id} was retired on {info.retired}: {successor} (`gembatch models` lists them), "
            f"or price past work with billing_date before {info.retired}"
        )
    if catalog.service == "vertex" and isinstance(project, str) and project == "auto":
        return info, []  # "auto" is the Developer API's project: its learned limits are not Vertex's
    return apply_learned(info, tier, project)


def cost_at(info: ModelInfo, per_article: pd.DataFrame, mode: str) -> np.ndarray:
    """Per-article USD of an estimate's tokens at ``info``'s prices (e.g. the next prices)."""
    tin = per_article["input_tokens"].to_numpy(np.int64)
    tout = per_article["output_tokens"].to_numpy(np.int64) + per_article["thinking_tokens"].to_numpy(np.int64)
    pin, pout = _prices(info, tin, mode)
    return (tin * pin + tout * pout) / 1e6


def _price_notes(info: ModelInfo, s: dict[str, Any]) -> list[str]:
    """Which prices apply, and the next change if the catalogue knows one."""
    span = f"from {info.prices_from} " if info.prices_from else ""
    span += f"through {info.prices_until}" if info.prices_until else "(no change known)"
    notes = [f"prices on {info.billing_date}: {span}; as of {info.as_of} ({info.source})"]
    if s.get("next_prices_from"):
        days = (as_date(s["next_prices_from"]) - as_date(info.billing_date)).days
        notes.append(
            f"{info.id} prices change on {s['next_prices_from']} (in {days} day{'s' * (days != 1)}): "
            "batch cost then "
            f"{fmt.usd(s['batch_cost_usd_next'])} instead of {fmt.usd(s['batch_cost_usd'])}"
        )
    return notes


def _realtime_duration(info: ModelInfo, tier: str, requests: int, input_tokens: int) -> dict[str, Any]:
    """Real-time wall time at the tier's RPM/TPM (``None`` when the catalogue has no figures)."""
    from gembatch.planning.ratelimit import realtime_duration

    try:
        rpm, tpm = info.rate_limits(tier)
    except CatalogError:
        return {"realtime_duration_s": None, "realtime_bound": None}
    d = realtime_duration(requests, input_tokens, rpm, tpm)
    assumed = "rpm" in info.assumed or "tpm" in info.assumed
    return {"realtime_duration_s": d.seconds, "realtime_bound": d.bound, "rpm": rpm, "tpm": tpm,
            "rate_limits_assumed": assumed}  # fmt: skip


def _duration_note(s: dict[str, Any]) -> list[str]:
    if s.get("realtime_duration_s") is None:
        return []
    return [
        f"real time takes ~{s['realtime_duration_s'] / 60:,.1f} min at {s['rpm']:,} RPM / {s['tpm']:,} TPM "
        f"({s['realtime_bound'].upper()}-bound"
        + ("; RPM/TPM assumed, not published)" if s.get("rate_limits_assumed") else ")")
    ]


def _prices(info: ModelInfo, tokens_in: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-request (input, output) prices; long-context prices above the model's threshold."""
    pin, pout = info.prices(mode, 0)  # type: ignore[arg-type]
    pin_a = np.full(len(tokens_in), pin)
    pout_a = np.full(len(tokens_in), pout)
    if info.long_context_threshold is not None:
        lin, lout = info.prices(mode, info.long_context_threshold + 1)  # type: ignore[arg-type]
        long = tokens_in > info.long_context_threshold
        pin_a[long], pout_a[long] = lin, lout
    return pin_a, pout_a
