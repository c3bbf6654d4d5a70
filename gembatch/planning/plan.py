"""The planner: split articles into batch jobs (chunks) and waves under quota, size and budget limits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from gembatch.errors import BudgetExceeded, InputError, QuotaExceeded
from gembatch.inputs.prompts import as_text
from gembatch.inputs.request_lines import RequestSpec, line_overhead_bytes
from gembatch.inputs.tokens import TokenEstimator
from gembatch.inputs.values import check_budget
from gembatch.planning.catalog import Catalog, ModelInfo, default_catalog
from gembatch.planning.cost import Estimate, estimate, make_spec, resolve_model
from gembatch.planning.price_schedule import DateLike
from gembatch.presentation import formatters as fmt

__all__ = ["POLICIES", "Plan", "plan", "request_bytes"]

Policy = Literal["tail", "rolling", "waves"]
POLICIES: tuple[str, ...] = ("tail", "rolling", "waves")
# The tail policy compares splits of the quota into this many jobs at once (1 = one job per wave).
TAIL_SPLITS = (1, 2, 3, 4, 5, 6, 8, 10, 12)
# Rolling chunks are small so many run at once and quota frees in small steps: at most 1M
# tokens (a few hundred 9k-character articles) and at most 1/8 of the usable quota.
ROLLING_CHUNK_TOKENS = 1_000_000
ROLLING_CHUNKS_PER_QUOTA = 8
# An inline create request wraps the lines in a little more JSON; keep this much below the limit.
INLINE_MARGIN = 0.95
_CHUNK_COLUMNS = ["wave", "articles", "est_input_tokens", "est_output_tokens", "est_tokens",
                  "est_cost_usd", "bytes", "source"]  # fmt: skip


@dataclass(frozen=True, eq=False)
class Plan:
    """Batch jobs to submit (``chunks``), grouped into ``waves``, and the estimate behind them.

    ``chunks`` (index ``chunk_id``, "c00001"…): ``wave`` (1-based), ``articles``,
    ``est_input_tokens``, ``est_output_tokens`` (thinking included: it is billed as output),
    ``est_tokens`` (= enqueued = input tokens), ``est_cost_usd`` (batch price), ``bytes`` (of the
    JSONL lines), ``source`` ("inline" | "file").
    ``assignments``: article_id → chunk_id. ``waves``: one row per wave.
    """

    chunks: pd.DataFrame
    assignments: pd.Series
    waves: pd.DataFrame
    spec: RequestSpec
    model: str
    tier: str
    policy: str
    headroom: float
    budget_usd: float | None
    quota_tokens: int
    cost: Estimate
    model_info: ModelInfo
    billing_date: str | None = None
    warnings: tuple[str, ...] = ()  # said before submitting: spend cap passed, prices changing
    notes: tuple[str, ...] = ()  # limits learned or set, share of the spend cap
    policy_reason: str = ""  # why this policy and job size, with the expected makespan

    @property
    def cap_tokens(self) -> int:
        """quota × headroom: the most tokens ever enqueued at once."""
        return int(self.quota_tokens * self.headroom)

    @property
    def est_cost_usd(self) -> float:
        return float(self.chunks["est_cost_usd"].sum())

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view (summary, waves and chunks)."""
        return {
            "model": self.model,
            "tier": self.tier,
            "policy": self.policy,
            "policy_reason": self.policy_reason,
            "headroom": self.headroom,
            "budget_usd": self.budget_usd,
            "quota_tokens": self.quota_tokens,
            "cap_tokens": self.cap_tokens,
            "spec_fingerprint": self.spec.fingerprint(),
            "billing_date": self.billing_date,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "estimate": self.cost.to_dict(),
            "waves": json.loads(self.waves.reset_index().to_json(orient="records")),
            "chunks": json.loads(self.chunks.reset_index().to_json(orient="records")),
        }

    def _title(self) -> str:
        return (
            f"Plan: {fmt.num(len(self.assignments))} articles → {len(self.chunks)} batch jobs in "
            f"{len(self.waves)} wave(s) · {self.model} · {self.tier} · {self.policy}"
        )

    def _notes(self) -> list[str]:
        budget = "no budget set" if self.budget_usd is None else f"budget {fmt.usd(self.budget_usd)}"
        assumed = "enqueued_tokens" in self.model_info.assumed
        return [
            f"enqueued-token cap {fmt.num(self.cap_tokens)} = quota {fmt.num(self.quota_tokens)} × "
            f"headroom {self.headroom:g}"
            + (" (quota assumed, not published: a 429 teaches gembatch the real one)" if assumed else ""),
            f"estimated batch cost {fmt.usd(self.est_cost_usd)} "
            f"(p90 {fmt.usd(self.cost.summary['batch_cost_usd_p90'])}); {budget}",
            f"policy {self.policy}: {self.policy_reason}",
            f"tokens: {self.cost.estimator.source}",
            f"prices on {self.billing_date} ({self.model_info.source})",
            *self.notes,
            *(f"WARNING: {w}" for w in self.warnings),
        ]

    def __repr__(self) -> str:
        header, rows, _ = fmt.frame_rows(self.waves)
        return "\n".join([self._title(), fmt.text_table(rows, header), *self._notes()])

    def _repr_html_(self) -> str:
        from gembatch.presentation import html_repr as _html
        head, _, sub = self._title().partition(" · ")
        return _html.render(
            head,
            subtitle=sub,
            tables={"waves": self.waves, "chunks": self.chunks},
            # warnings first and whole: the footer is cut to a bounded length
            sections={"read before submitting": _html.esc(" ".join(self.warnings), 2000)}
            if self.warnings
            else None,
            footer=" · ".join(self._notes()),
        )


def request_bytes(articles: pd.DataFrame, spec: RequestSpec) -> np.ndarray:
    """Exact UTF-8 bytes of each article's JSONL request line (with its newline), vectorised.

    Line = the bytes of a line with an empty key and empty placeholders, plus the JSON-escaped
    key and the JSON-escaped value of every placeholder use (all inside existing quotes).
    """
    spec.template.check_columns(articles.columns)
    total = np.full(len(articles), line_overhead_bytes(spec), np.int64)
    total += _escaped_bytes(pd.Series(articles.index, dtype="str"))
    for name, times in spec.template.counts().items():
        col = articles[name]
        texts = col if col.dtype == "str" and not col.hasnans else col.map(as_text).astype("str")
        total += times * _escaped_bytes(texts)
    return total


def _escaped_bytes(texts: pd.Series) -> np.ndarray:
    """Bytes of json.dumps(text, ensure_ascii=False) without its quotes, for each text."""
    from json.encoder import encode_basestring  # C speed

    import pyarrow as pa
    import pyarrow.compute as pc

    escaped = np.empty(len(texts), np.int64)
    for start in range(0, len(texts), 1024):  # a slice at a time keeps Python copies small
        part = texts.iloc[start : start + 1024].tolist()
        escaped[start : start + len(part)] = [len(encode_basestring(t)) - 2 for t in part]
    # encode_basestring counts characters; non-ASCII characters take 2-4 bytes in UTF-8.
    arr = pa.array(texts)
    extra = pc.subtract(pc.binary_length(arr), pc.utf8_length(arr)).to_numpy(zero_copy_only=False)
    return escaped + extra.astype(np.int64)


def _segments(tokens: np.ndarray, nbytes: np.ndarray, max_tokens: int, max_bytes: int) -> np.ndarray:
    """Greedy split of a sequence into consecutive runs within both limits; returns run starts."""
    ct = np.concatenate([[0], np.cumsum(tokens)])
    cb = np.concatenate([[0], np.cumsum(nbytes)])
    starts = []
    i, n = 0, len(tokens)
    while i < n:
        j = min(
            int(np.searchsorted(ct, ct[i] + max_tokens, side="right")) - 1,
            int(np.searchsorted(cb, cb[i] + max_bytes, side="right")) - 1,
        )
        starts.append(i)
        i = max(j, i + 1)  # a single oversized item is checked by the caller
    return np.asarray(starts, dtype=np.int64)


def _labels(starts: np.ndarray, n: int) -> np.ndarray:
    """0-based run number of every item, from the run starts."""
    lab = np.zeros(n, dtype=np.int64)
    lab[starts[1:]] = 1
    return np.cumsum(lab)


def plan(
    articles: Any,
    model: str | None = None,
    *,
    tier: str = "tier1",
    prompt: str = "{text}",
    system_instruction: str | None = None,
    schema: Any = None,
    budget_usd: float | None = None,
    headroom: float = 0.9,
    policy: Policy = "tail",
    chunk_tokens: int | None = None,
    expected_output_tokens: int | None = None,
    expected_thinking_tokens: int | None = None,
    temperature: float | None = None,
    max_output_tokens: int | None = None,
    thinking_budget: int | None = None,
    spec: RequestSpec | None = None,
    catalog: Catalog | None = None,
    estimator: TokenEstimator | None = None,
    inline: bool | None = None,
    billing_date: DateLike = None,
    project: Any = "auto",
    latency: Any = None,
) -> Plan:
    """Split articles into batch jobs that respect the quota, size limits and budget.

    ``policy="tail"`` (the default) sizes jobs for the makespan: it compares splits of the quota
    into 1…12 concurrent jobs under the latency model (:mod:`gembatch.planning.latency`: a
    heavy-tailed queue, stragglers hedged) and keeps the one with the best mean + p90 makespan;
    ``chunk_tokens`` overrides the size. ``"waves"`` fills each wave up to quota × ``headroom``
    enqueued tokens, one job per wave unless the 2 GB file limit splits it; waves run one after
    another and never hedge (the previous behaviour). ``"rolling"`` makes small jobs
    (≤ ``chunk_tokens``, default min(1M, cap/8)) so the scheduler can keep the quota full. The
    ``wave`` column is the quota-sized group a job falls in if submitted in order;
    ``plan.policy_reason`` says why this policy and size. No wave ever holds more than
    quota × headroom tokens or more than the concurrent-job limit. Jobs under the 20 MB inline limit
    go inline unless ``inline=False``.

    Prices are those in force on ``billing_date`` (default today). Limits are the catalogue's,
    replaced by what ``project`` (default: the API key's project, see
    :mod:`gembatch.planning.learned_limits`) learned from the service or set. ``plan.warnings`` lists what
    must be read before submitting — a monthly spend cap the cost would pass, a price change while
    the work may still be billed — each also given as a :class:`~gembatch.errors.GembatchWarning`.
    ``latency`` (a :class:`~gembatch.planning.latency.LatencyModel`, default the prior) is what the
    ``tail`` policy sizes jobs for.

    Raises
    ------
    BudgetExceeded
        The estimated batch cost is above ``budget_usd``.
    QuotaExceeded
        One article alone needs more than quota × headroom tokens.
    RetiredModel
        The service shut the model down before ``billing_date``.
    """
    from gembatch.inputs.articles import is_articles_frame, read_articles

    if policy not in POLICIES:
        raise InputError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    if not 0 < headroom <= 1:
        raise InputError(f"headroom must be in (0, 1], not {headroom}")
    spec = make_spec(
        spec, model, prompt, system_instruction, schema,
        expected_output_tokens=expected_output_tokens, expected_thinking_tokens=expected_thinking_tokens,
        temperature=temperature, max_output_tokens=max_output_tokens, thinking_budget=thinking_budget,
    )  # fmt: skip
    catalog = catalog or default_catalog()
    info, limit_notes = resolve_model(catalog, spec.model, tier, billing_date, project)
    quota = info.enqueued_limit(tier)
    cap = int(quota * headroom)
    estimator = estimator or TokenEstimator()
    if not is_articles_frame(articles):
        articles = read_articles(articles, model=spec.model, catalog=catalog, estimator=estimator)
    est = estimate(articles, spec=spec, tier=tier, catalog=catalog, estimator=estimator, model_info=info)
    est.summary["limit_notes"] = limit_notes
    budget_usd = check_budget(budget_usd)
    if budget_usd is not None and est.batch_cost_usd > budget_usd:
        raise BudgetExceeded(
            f"estimated batch cost {fmt.usd(est.batch_cost_usd)} for {len(articles):,} articles is over "
            f"budget_usd={budget_usd:g} (p50 {fmt.usd(est.summary['batch_cost_usd_p50'])}); raise the "
            "budget, plan fewer articles, shorten the prompt or pick a cheaper model"
        )
    tokens = est.per_article["input_tokens"].to_numpy(np.int64)
    worst = int(np.argmax(tokens)) if len(tokens) else 0  # no articles (all cached): no jobs
    if len(tokens) and tokens[worst] > cap:
        raise QuotaExceeded(
            f"article {articles.index[worst]!r} needs ~{tokens[worst]:,} tokens, more than the enqueued "
            f"cap {cap:,} (quota {quota:,} × headroom {headroom:g}) of {info.id} on {tier}; "
            "use a higher tier, more headroom or a shorter article"
        )
    nbytes = request_bytes(articles, spec)
    file_limit = info.file_limit_bytes
    if int(nbytes.max(initial=0)) > file_limit:
        raise QuotaExceeded(f"one request line is larger than the {file_limit:,}-byte file limit")

    if chunk_tokens is not None and not 0 < chunk_tokens <= cap:
        raise InputError(f"chunk_tokens must be between 1 and the cap quota × headroom = {cap:,}")
    size, reason = _job_size(
        policy, chunk_tokens, int(tokens.sum()), cap, max_jobs=info.concurrent_batch_jobs, latency=latency
    )
    chunk_of = _labels(_segments(tokens, nbytes, size, file_limit), len(tokens))

    per = est.per_article
    grouped = pd.DataFrame(
        {
            "chunk": chunk_of,
            "articles": 1,
            "est_input_tokens": tokens,
            "est_output_tokens": per["output_tokens"].to_numpy() + per["thinking_tokens"].to_numpy(),
            "est_cost_usd": per["batch_cost_usd"].to_numpy(),
            "bytes": nbytes,
        }
    ).groupby("chunk", sort=True)
    chunks = grouped.sum()
    chunks["est_tokens"] = chunks["est_input_tokens"]
    # Consecutive jobs form waves of at most quota × headroom tokens and the concurrent-job limit.
    ctok = chunks["est_tokens"].to_numpy(np.int64)
    starts = _segments(ctok, np.ones_like(ctok), cap, info.concurrent_batch_jobs)
    chunks["wave"] = _labels(starts, len(ctok)) + 1
    inline_max = int(info.inline_limit_bytes * INLINE_MARGIN)
    use_inline = chunks["bytes"] <= inline_max if inline is not False else np.zeros(len(chunks), bool)
    if inline is True and not bool(np.all(use_inline)):
        raise QuotaExceeded(
            f"inline=True but some jobs exceed the {info.inline_limit_bytes:,}-byte inline limit; "
            "use chunk_tokens= to make them smaller or let them go as files"
        )
    chunks["source"] = np.where(use_inline, "inline", "file")
    chunks["source"] = chunks["source"].astype("str")
    chunks.index = pd.Index([f"c{i + 1:05d}" for i in range(len(chunks))], dtype="str", name="chunk_id")
    chunks = chunks[_CHUNK_COLUMNS].astype({"wave": np.int64, "articles": np.int64, "bytes": np.int64})
    assignments = pd.Series(
        chunks.index.to_numpy()[chunk_of], index=articles.index, name="chunk_id", dtype="str"
    )
    waves = chunks.groupby("wave").agg(
        chunks=("articles", "size"),
        articles=("articles", "sum"),
        est_input_tokens=("est_input_tokens", "sum"),
        est_output_tokens=("est_output_tokens", "sum"),
        est_tokens=("est_tokens", "sum"),
        est_cost_usd=("est_cost_usd", "sum"),
        bytes=("bytes", "sum"),
    )
    _check_limits(chunks, waves, cap, info)
    from gembatch.planning.plan_warnings import check_plan

    result = Plan(
        chunks=chunks, assignments=assignments, waves=waves, spec=spec, model=info.id, tier=tier,
        policy=policy, headroom=headroom, budget_usd=budget_usd, quota_tokens=quota, cost=est,
        model_info=info, billing_date=info.billing_date, policy_reason=reason,
    )  # fmt: skip
    return check_plan(result, catalog, project)


def _job_size(
    policy: str, chunk_tokens: int | None, total: int, cap: int, *, max_jobs: int, latency: Any
) -> tuple[int, str]:
    """The job size for ``policy`` and why (with the expected makespan for ``tail``)."""
    from gembatch.planning.latency import HEDGE_QUANTILE, PRIOR, forecast_makespan

    model = latency or PRIOR

    hedge = f"stragglers pending past the p{HEDGE_QUANTILE * 100:.0f} turnaround are hedged"
    if policy == "waves":
        return chunk_tokens or cap, "one job per quota-sized wave, waves one after another, no hedging"
    if policy == "rolling":
        size = chunk_tokens or max(1, min(ROLLING_CHUNK_TOKENS, cap // ROLLING_CHUNKS_PER_QUOTA))
        return size, f"small jobs (≤ {fmt.num(size)} tokens) refill the quota as it frees; {hedge}"
    if chunk_tokens:
        return chunk_tokens, f"jobs of ≤ {fmt.num(chunk_tokens)} tokens (chunk_tokens); {hedge}"
    sizes = sorted({max(1, cap // k) for k in TAIL_SPLITS}, reverse=True)
    runs = [forecast_makespan(total, s, cap, max_jobs, model, draws=32) for s in sizes]
    best = min(runs, key=lambda f: f.mean_s + f.p90_s)
    waves = forecast_makespan(total, cap, cap, max_jobs, model, waves=True, hedge_quantile=None, draws=32)
    return best.job_tokens, (
        f"{best.jobs} job(s) of ≤ {fmt.num(best.job_tokens)} tokens, "
        f"up to {max(1, min(max_jobs, cap // best.job_tokens))} "
        f"at once; {hedge}; expected makespan {best.mean_s / 3600:.1f} h (p90 {best.p90_s / 3600:.1f} h) vs "
        f"{waves.mean_s / 3600:.1f} h (p90 {waves.p90_s / 3600:.1f} h) with waves, for a latency prior "
        f"of {model.describe()}"
    )


def _check_limits(chunks: pd.DataFrame, waves: pd.DataFrame, cap: int, info: ModelInfo) -> None:
    """Belt and braces: a plan that breaks a limit is a bug here, never something to submit."""
    problems = []
    if (waves["est_tokens"] > cap).any():
        problems.append("a wave exceeds quota × headroom")
    if (waves["chunks"] > info.concurrent_batch_jobs).any():
        problems.append("a wave has more jobs than the concurrent limit")
    inline = chunks["source"] == "inline"
    if (chunks.loc[inline, "bytes"] > info.inline_limit_bytes).any():
        problems.append("an inline job exceeds the inline limit")
    if (chunks["bytes"] > info.file_limit_bytes).any():
        problems.append("a job exceeds the file limit")
    if problems:  # pragma: no cover - guarded by the splitting above
        raise QuotaExceeded("internal planning error: " + "; ".join(problems))
