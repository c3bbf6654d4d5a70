"""``gb.pilot``: send a small real-time sample, measure it, and project the whole workload with bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from gembatch.errors import InputError
from gembatch.inputs.request_lines import RequestSpec
from gembatch.inputs.tokens import TokenEstimator, request_chars
from gembatch.planning.catalog import Catalog, ModelInfo, default_catalog
from gembatch.planning.ratelimit import realtime_duration
from gembatch.presentation import html_repr as _html
from gembatch.runs.realtime_send import Answer, Job, RealtimeOptions, SendReport, send

__all__ = ["Pilot", "pilot"]

_Z = {0.90: 1.2816, 0.975: 1.9600}
#: A small sample understates its own spread: bounds are at least this / sqrt(n) of the figure.
MIN_REL_HALF_WIDTH = 0.25


def _t(q: float, dof: int) -> float:
    """Student-t quantile (Cornish-Fisher expansion; within 1% of exact for dof >= 3)."""
    z = _Z[q]
    v = max(dof, 1)
    return z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)


@dataclass(eq=False)
class Pilot:
    """What a real-time sample measured, and the projection for the whole workload.

    ``measurements`` has one row per sampled article. ``summary`` holds the projection: for
    ``input_tokens``, ``output_tokens``, ``thinking_tokens``, ``realtime_cost_usd`` and
    ``batch_cost_usd`` a central figure (``_p50``), a high one (``_p90``) and stated bounds
    (``_low`` / ``_high``: a 95% interval for the total from the sample's spread, Student t with a
    finite-population correction, and never narrower than ±25%/√n of the figure, because a small
    sample understates its own spread). Feed ``expected_output_tokens``,
    ``expected_thinking_tokens`` and ``estimator`` back into :func:`gembatch.planning.plan`.
    """

    measurements: pd.DataFrame
    summary: dict[str, Any]
    model_info: ModelInfo
    spec: RequestSpec
    report: SendReport | None = field(default=None, repr=False)

    def __getattr__(self, name: str) -> Any:
        summary = self.__dict__.get("summary", {})
        if name in summary:
            return summary[name]
        raise AttributeError(name)

    @property
    def expected_output_tokens(self) -> int:
        return round(self.summary["output_tokens_per_article_p50"])

    @property
    def expected_thinking_tokens(self) -> int:
        return round(self.summary["thinking_tokens_per_article_p50"])

    @property
    def estimator(self) -> TokenEstimator:
        """A token estimator calibrated on the sample (use with ``gb.plan(..., estimator=...)``)."""
        s = self.summary
        ratio = max(s["token_ratio"], 1e-6)
        return TokenEstimator(
            chars_per_token=s["chars_per_token"] / ratio,
            p50_ratio=1.0,
            p90_ratio=max(1.0, s["token_ratio_p90"] / ratio),
            source=f"pilot of {s['sampled']} articles ({s['model']})",
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.summary)

    def _fields(self) -> dict[str, object]:
        s = self.summary

        def span(name: str, fmt: Any) -> str:
            mid, p90, lo, hi = (fmt(s[f"{name}_{k}"]) for k in ("p50", "p90", "low", "high"))
            return f"{mid} (p90 {p90}; bounds {lo}–{hi})"

        def per(name: str) -> str:
            return f"p50 {s[name + '_per_article_p50']:.0f}, p90 {s[name + '_per_article_p90']:.0f}"

        rate = "—" if s["parse_rate"] is None else _html.pct(s["parse_rate"], 1.0)
        duration = s["realtime_duration_s"] / 60
        return {
            "sample": f"{s['succeeded']}/{s['sampled']} succeeded of {s['articles']:,} articles",
            "output tokens/article": per("output_tokens"),
            "thinking tokens/article": per("thinking_tokens"),
            "JSON-schema parse rate": rate,
            "actual/estimated input tokens": f"{s['token_ratio']:.3f}",
            "input tokens": span("input_tokens", _html.tokens),
            "output tokens": span("output_tokens", _html.tokens),
            "thinking tokens": span("thinking_tokens", _html.tokens),
            "real-time cost": span("realtime_cost_usd", _html.usd),
            "batch cost": span("batch_cost_usd", _html.usd),
            "real-time duration": f"~{duration:.1f} min at {s['rpm']:,} RPM / {s['tpm']:,} TPM "
            f"({s['realtime_bound'].upper()}-bound)",
        }

    def _subtitle(self) -> str:
        s = self.summary
        return f"{s['model']} · {s['tier']} · pilot cost {_html.usd(s['pilot_cost_usd'])}"

    def __repr__(self) -> str:
        return _html.render_text("Pilot", subtitle=self._subtitle(), fields=self._fields())

    def _repr_html_(self) -> str:
        cols = ["status", "est_input_tokens", "prompt_tokens", "output_tokens", "thoughts_tokens", "cost_usd"]
        return _html.render(
            "Pilot",
            subtitle=self._subtitle(),
            fields=self._fields(),
            tables={"sample": self.measurements[cols]},
            footer="bounds: 95% interval for the whole workload (at least ±25%/√n)",
        )


def _mean_bounds(values: np.ndarray, population: int) -> tuple[float, float, float]:
    """(mean, standard error with finite-population correction, dof) of a sample."""
    n = len(values)
    mean = float(values.mean()) if n else 0.0
    if n < 2:
        return mean, mean, 1
    fpc = math.sqrt(max(0.0, 1 - n / max(population, n)))
    return mean, float(values.std(ddof=1)) / math.sqrt(n) * fpc, n - 1


def _project(
    sample: pd.DataFrame, est_all: np.ndarray, info: ModelInfo, rpm: int, tpm: int
) -> dict[str, Any]:
    ok = sample[sample["status"] != "error"]
    n, big_n = len(ok), len(est_all)
    if n == 0:
        raise InputError("no pilot request got an answer; check the model, the key and the service")
    e = ok["est_input_tokens"].to_numpy(dtype=float)
    p = ok["prompt_tokens"].to_numpy(dtype=float)
    o = ok["output_tokens"].to_numpy(dtype=float)
    th = ok["thoughts_tokens"].to_numpy(dtype=float)
    ratio = float(p.sum() / max(e.sum(), 1.0))
    fpc = math.sqrt(max(0.0, 1 - n / max(big_n, n)))
    resid = p - ratio * e
    se_ratio = float(math.sqrt((resid**2).sum() / (n - 1) / n) / max(e.mean(), 1e-9)) * fpc if n > 1 else 0.0
    dof = max(n - 1, 1)
    t90, t975 = _t(0.90, dof), _t(0.975, dof)
    floor = MIN_REL_HALF_WIDTH / math.sqrt(n) * fpc

    def half(mid: float, se: float) -> float:
        return max(t975 * se, floor * mid)

    est_total = float(est_all.sum())
    per = p / np.maximum(e, 1.0)
    out: dict[str, Any] = {"token_ratio": ratio, "token_ratio_p90": float(np.quantile(per, 0.9))}
    totals: dict[str, tuple[float, float]] = {"input_tokens": (ratio * est_total, se_ratio * est_total)}
    for name, values in (("output_tokens", o), ("thinking_tokens", th)):
        mean, se, _ = _mean_bounds(values, big_n)
        totals[name] = (mean * big_n, se * big_n)
        out[f"{name}_per_article_p50"] = float(np.median(values))
        out[f"{name}_per_article_p90"] = float(np.quantile(values, 0.9))
    for name, (mid, se) in totals.items():
        out[f"{name}_p50"] = round(mid)
        out[f"{name}_p90"] = round(mid + t90 * se)
        out[f"{name}_low"] = int(max(0, math.floor(mid - half(mid, se))))
        out[f"{name}_high"] = math.ceil(mid + half(mid, se))
    modes: tuple[Literal["realtime"], Literal["batch"]] = ("realtime", "batch")
    for mode in modes:
        pin, pout = info.prices(mode)
        mid = (
            totals["input_tokens"][0] * pin
            + (totals["output_tokens"][0] + totals["thinking_tokens"][0]) * pout
        )
        se_out = math.hypot(totals["output_tokens"][1], totals["thinking_tokens"][1])
        se = math.hypot(totals["input_tokens"][1] * pin, se_out * pout)
        out[f"{mode}_cost_usd_p50"] = mid / 1e6
        out[f"{mode}_cost_usd_p90"] = (mid + t90 * se) / 1e6
        out[f"{mode}_cost_usd_low"] = max(0.0, mid - half(mid, se)) / 1e6
        out[f"{mode}_cost_usd_high"] = (mid + half(mid, se)) / 1e6
    dur = realtime_duration(big_n, out["input_tokens_p50"], rpm, tpm)
    out.update(realtime_duration_s=dur.seconds, realtime_bound=dur.bound, rpm=rpm, tpm=tpm)
    return out


def pilot(
    articles: Any,
    model: str | None = None,
    prompt: str = "{text}",
    system_instruction: str | None = None,
    schema: Any = None,
    *,
    n: int = 20,
    tier: str = "tier1",
    client: Any = None,
    catalog: Catalog | None = None,
    spec: RequestSpec | None = None,
    estimator: TokenEstimator | None = None,
    seed: int = 0,
    expected_output_tokens: int | None = None,
    temperature: float | None = None,
    max_output_tokens: int | None = None,
    thinking_budget: int | None = None,
    **options: Any,
) -> Pilot:
    """Send ``n`` randomly chosen articles in real time and project the whole workload from them.

    Measures output and thinking tokens per article, the JSON-schema parse rate and the ratio of
    actual to estimated input tokens, and returns totals with p50/p90 and stated 95% bounds.
    Costs ``n`` real-time requests (standard prices). Works in Jupyter (its own loop in a thread).
    ``options`` are :class:`~gembatch.runs.realtime_send.RealtimeOptions` fields (``rpm``, ``tpm``...).

    Examples
    --------
    >>> p = gb.pilot(articles, n=20, model="gemini-2.5-flash-lite", prompt=PROMPT)  # doctest: +SKIP
    >>> plan = gb.plan(articles, ..., expected_output_tokens=p.expected_output_tokens)  # doctest: +SKIP
    """
    from gembatch.inputs.articles import is_articles_frame, read_articles
    from gembatch.planning.cost import make_spec

    spec = make_spec(
        spec, model, prompt, system_instruction, schema, expected_output_tokens=expected_output_tokens,
        temperature=temperature, max_output_tokens=max_output_tokens, thinking_budget=thinking_budget,
    )  # fmt: skip
    catalog = catalog or default_catalog()
    info = catalog.get(spec.model)
    estimator = estimator or TokenEstimator()
    if not is_articles_frame(articles):
        articles = read_articles(articles, catalog=catalog, estimator=estimator)
    if n < 1:
        raise InputError(f"n must be >= 1, not {n}")
    est_all = estimator.tokens(request_chars(articles, spec))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(articles), size=min(n, len(articles)), replace=False))
    sample = articles.iloc[pick]
    opts = RealtimeOptions.from_dict(options)
    limits = opts.limits(info, tier)
    from gembatch.transport.connect import as_transport

    transport = as_transport(client)  # a google-genai client, a transport, or gb.connect()'s choice
    from gembatch.inputs.request_lines import iter_request_lines

    jobs = [
        Job(line["key"], line["request"], int(t))
        for line, t in zip(iter_request_lines(sample, spec), est_all[pick], strict=True)
    ]
    outcomes: list[Answer] = []
    report = send(transport, spec, jobs, limits, outcomes.append, options=opts)
    frame = _measurements(outcomes, jobs, info)
    summary = _project(frame, est_all, info, limits.rpm, limits.tpm)
    ok = frame["status"] != "error"
    parsed = frame.loc[ok, "parsed"]
    summary.update(
        model=info.id,
        tier=tier,
        articles=len(articles),
        sampled=len(jobs),
        succeeded=int((frame["status"] == "succeeded").sum()),
        parse_rate=None if spec.response_schema is None else float(parsed.mean()) if len(parsed) else 0.0,
        chars_per_token=estimator.chars_per_token,
        pilot_cost_usd=float(frame["cost_usd"].sum()),
        responses_429=report.responses_429,
    )
    return Pilot(frame, summary, info, spec, report)


def _measurements(outcomes: list[Answer], jobs: list[Job], info: ModelInfo) -> pd.DataFrame:
    by_key = {o.job.key: o for o in outcomes}
    rows = []
    for job in jobs:
        o = by_key.get(job.key)
        res = o.result if o is not None else None
        answered = res is not None and (res.prompt_tokens > 0 or res.status == "succeeded")
        rows.append(
            {
                "article_id": job.key,
                "status": (res.status if answered else "error") if res is not None else "error",
                "est_input_tokens": job.est_tokens,
                "prompt_tokens": res.prompt_tokens if res else 0,
                "output_tokens": res.output_tokens if res else 0,
                "thoughts_tokens": res.thoughts_tokens if res else 0,
                "parsed": bool(res is not None and res.status == "succeeded"),
                "cost_usd": info.cost(res.prompt_tokens, res.output_tokens, "realtime", res.thoughts_tokens)
                if res
                else 0.0,
                "latency_s": o.latency_s if o is not None else float("nan"),
                "error": res.error if res else "no answer",
            }
        )
    return pd.DataFrame(rows).set_index("article_id")
