"""Text and HTML views of a :class:`~gembatch.runs.summary.RunSummary` (one look for every face).

>>> from gembatch.runs.log import plain_problem
from gembatch.runs.summary import RunSummary
>>> s = RunSummary(run_id="r1", model="m", tier="tier1", policy="rolling", mode="batch",
...                state="running", done=False, articles=10, succeeded=6, failed=1, pending=3)
>>> print(summary_text(s, "runs/r1").splitlines()[1])
  articles: 7 / 10 done (70%), 1 failed — 6 succeeded, 3 pending
"""

from __future__ import annotations

import time

from gembatch.presentation import formatters as fmt
from gembatch.presentation import html_blocks as html_repr
from gembatch.runs.log import plain_problem
from gembatch.runs.summary import RunSummary

__all__ = [
    "badge",
    "badge_tone",
    "eta_text",
    "headline",
    "summary_fields",
    "summary_html",
    "summary_line",
    "summary_text",
    "trouble_text",
]


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _backing_off(s: RunSummary) -> bool:
    return not s.done and s.state == "running" and bool(s.backoff_until and s.backoff_until > time.time())


def _refusal(s: RunSummary) -> str:
    """Why submission backs off, in a word: ``quota`` for a 429, else the refusal's kind."""
    text = s.last_error or ""
    if any(k in text for k in ("429", "RESOURCE_EXHAUSTED", "quota")):
        return "quota"
    kind = text.split(":", 1)[0].strip()
    return kind.replace("_", " ") if kind else "refused"


def badge(summary: RunSummary) -> str:
    """What the run is doing, in a few words: ``running``, ``done · 4 failed``, ``paused``,
    ``budget reached``, ``backing off until 13:44:55 — quota``…"""
    s = summary
    failed = f" · {fmt.count(s.failed)} failed" if s.failed else ""
    if s.state == "budget":
        return f"budget reached{failed}"
    if s.done:
        return f"{s.state}{failed}"
    if _backing_off(s):
        return f"backing off until {_clock(s.backoff_until or 0)} — {_refusal(s)}"
    if s.state == "running" and s.stragglers:
        return f"running · {fmt.count(s.stragglers)} straggling"
    return s.state


def badge_tone(summary: RunSummary) -> str:
    """The badge's colour by meaning: ``ok`` (green), ``bad`` (red), ``warn`` (orange), ``info``
    (blue) or ``muted`` (grey). Failures are never green."""
    s = summary
    if s.state == "cancelled":
        return "muted"
    if s.done:
        return "bad" if s.failed or s.state == "budget" else "ok"
    if s.state in ("paused", "budget") or _backing_off(s) or s.stragglers:
        return "warn"
    return "info"


def eta_text(summary: RunSummary) -> str | None:
    """``1.2–2.5 min`` (frozen while paused), ``after the first results``, or ``None`` when done."""
    s = summary
    if s.done or s.state == "cancelled":
        return None
    if s.eta_low_s is None or s.eta_high_s is None:
        return "after the first results" if s.started_at else None
    low, high = fmt.duration(s.eta_low_s), fmt.duration(s.eta_high_s)
    text = low if low == high else f"{low} – {high}"
    return text + (" (paused)" if s.state == "paused" else "")


def headline(summary: RunSummary) -> dict[str, str]:
    """The few numbers a user looks at first, labelled: done, failed, time, spend, tokens, jobs."""
    s = summary
    left = f"{fmt.count(s.pending)} to go" if s.pending else "none to go"
    timing = f"{fmt.duration(s.elapsed_s)} elapsed" if s.elapsed_s is not None else "not started"
    eta = eta_text(s)
    budget = "no budget" if s.budget_usd is None else f"budget {fmt.usd(s.budget_usd)}"
    return {
        "done": f"{fmt.count(s.finished)} / {fmt.count(s.articles)} ({fmt.pct(s.finished, s.articles)})",
        "failed": f"{fmt.count(s.failed)} failed" if s.failed else "0 failed",
        "left": left,
        "time": timing + (f" · ETA {eta}" if eta else ""),
        "spend": f"{fmt.usd(s.cost_actual_usd)} spent · {fmt.usd(s.cost_committed_usd)} committed · "
        f"plan {fmt.usd(s.cost_estimated_usd)} · {budget}",
        "tokens": f"{fmt.tokens(s.enqueued_tokens)} enqueued of {fmt.tokens(s.enqueued_cap)} cap"
        + (f" (quota {fmt.tokens(s.quota_tokens)})" if s.quota_tokens else ""),
        "jobs": f"{fmt.count(s.jobs_in_flight)} in flight"
        + (f" · {fmt.count(s.stragglers)} straggling" if s.stragglers else ""),
    }


def _progress(s: RunSummary) -> str:
    return (
        f"{fmt.count(s.finished)} / {fmt.count(s.articles)} done ({fmt.pct(s.finished, s.articles)}), "
        f"{fmt.count(s.failed)} failed — {fmt.count(s.succeeded)} succeeded, {fmt.count(s.pending)} pending"
    )


def _timing(s: RunSummary) -> str | None:
    parts = [] if s.elapsed_s is None else [f"elapsed {fmt.duration(s.elapsed_s)}"]
    eta = eta_text(s)
    if s.eta_s and not s.done:
        parts.append(f"ETA {fmt.duration(s.eta_s)}" + (f" (range {eta})" if s.eta_low_s is not None else ""))
    elif eta:
        parts.append(f"ETA {eta}")
    if s.throughput_per_min:
        parts.append(f"{s.throughput_per_min:,.1f} articles/min")
    return " · ".join(parts) or None


def summary_fields(summary: RunSummary) -> dict[str, str]:
    """Labelled figures of a run (plain strings), in the order every view shows them."""
    s = summary
    fields = {
        "articles": _progress(s),
        "in flight": f"{fmt.count(s.jobs_in_flight)} jobs · {fmt.tokens(s.enqueued_tokens)} of "
        f"{fmt.tokens(s.enqueued_cap)} enqueued tokens"
        + (
            f" (cap: {fmt.pct(s.enqueued_cap, s.quota_tokens)} of the {fmt.tokens(s.quota_tokens)} quota)"
            if s.quota_tokens
            else ""
        ),
        "chunks": ", ".join(f"{k} {v}" for k, v in sorted(s.chunks.items()) if v) or "none",
        "tokens": f"{fmt.tokens(s.input_tokens)} in, {fmt.tokens(s.output_tokens)} out, "
        f"{fmt.tokens(s.thoughts_tokens)} thinking (estimated {fmt.tokens(s.est_input_tokens)} in, "
        f"{fmt.tokens(s.est_output_tokens)} out)",
        "cost": f"{fmt.usd(s.cost_actual_usd)} actual, {fmt.usd(s.cost_committed_usd)} committed, "
        f"{fmt.usd(s.cost_estimated_usd)} estimated"
        + ("" if s.budget_usd is None else f" (budget {fmt.usd(s.budget_usd)})"),
    }
    if s.cache_hits:
        fields["cache"] = (
            f"{fmt.count(s.cache_hits)} articles answered from the cache, "
            f"{fmt.count(s.cache_misses)} sent · saved {fmt.usd(s.cache_saved_usd)}"
        )
    if s.deadline_at:
        left = s.deadline_at - time.time()
        when = _clock(s.deadline_at) + ("" if s.done or left <= 0 else f" (in {fmt.duration(left)})")
        fields["deadline"] = when + (f" · {s.deadline_note}" if s.deadline_note else "")
    timing = _timing(s)
    if timing:
        fields["time"] = timing
    if s.failure_reasons:
        reasons = sorted(s.failure_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        fields["failures"] = ", ".join(f"{reason} {fmt.count(n)}" for reason, n in reasons)
    if s.last_error:
        when = f" ({_clock(s.last_error_at)})" if s.last_error_at else ""
        fields["last error"] = f"{plain_problem(s.last_error)}{when}"
    if s.leftovers:
        fields["left at the service"] = (
            f"{fmt.count(s.leftovers)} files or jobs still to delete (`gembatch cleanup RUN_DIR`)"
        )
    if s.result_tables:
        fields["results kept in BigQuery"] = ", ".join(s.result_tables)
    if s.last_event:
        when = f" ({_clock(s.last_event_at)})" if s.last_event_at else ""
        fields["last event"] = f"{s.last_event}{when}"
    if _backing_off(s) and s.backoff_until:
        wait = s.backoff_until - time.time()
        fields["back-off"] = (
            f"backing off {fmt.duration(wait)}: submitting again at {_clock(s.backoff_until)}"
        )
    return fields


def trouble_text(s: RunSummary) -> str:
    """``backing off 18.9 s: 429 quota`` or ``last error: cannot reach the service…`` for a run
    still going (a back-off now, or an error of the last ten minutes); "" when there is none."""
    if s.done:
        return ""
    problem = plain_problem(s.last_error).split(" (", 1)[0] if s.last_error else ""
    if s.backoff_until and s.backoff_until > time.time():
        wait = fmt.duration(s.backoff_until - time.time())
        return f"backing off {wait}" + (f": {problem}" if problem else "")
    if problem and s.last_error_at and time.time() - s.last_error_at < 600:
        return f"last error: {problem}"[:160]
    return ""


def _trouble(s: RunSummary) -> str:
    text = trouble_text(s)
    return f" · {text}" if text else ""


def summary_line(summary: RunSummary) -> str:
    """One progress line for logs: ``10/12 articles done (1 failed), 2 jobs in flight, $0.0004 spent``."""
    s = summary
    return (
        f"{fmt.count(s.finished)}/{fmt.count(s.articles)} articles done ({fmt.count(s.failed)} failed), "
        f"{fmt.count(s.jobs_in_flight)} jobs in flight, {fmt.usd(s.cost_actual_usd)} spent"
        + (f" · {badge(s)}" if badge(s) not in ("running", "done", "backing off") else "")
        + _trouble(s)
    )


def _subtitle(s: RunSummary) -> str:
    return " · ".join(x for x in (s.run_id, s.model, s.policy, s.mode) if x)


def summary_text(summary: RunSummary, run_dir: str) -> str:
    """A few lines for a terminal or a notebook's ``text/plain``, first line ``<gembatch.Run …>``."""
    head = f"<gembatch.Run {str(run_dir)!r} {_subtitle(summary)} · {badge(summary)}>"
    return "\n".join([head, *(f"  {k}: {v}" for k, v in summary_fields(summary).items())])


def summary_html(summary: RunSummary, run_dir: str) -> str:
    """The same figures as :func:`summary_text` as an escaped HTML block with progress bars."""
    s = summary
    counts = {"succeeded": s.succeeded, "failed": s.failed, "pending": s.pending}
    sections = {"articles": html_repr.progress_bar(counts, s.articles or None)}
    if s.chunks:
        sections["chunks"] = html_repr.progress_bar(s.chunks)
    return str(
        html_repr.render(
            "gembatch run",
            subtitle=_subtitle(s),
            badges=[html_repr.state_badge(badge(s), tone=badge_tone(s))],
            fields=summary_fields(s),
            sections=sections,
            footer=str(run_dir),
        )
    )
