"""Turn (articles, plan) into a new ledger, or prove a run directory holds the same run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gembatch.cache.lookup import CacheLookup
from gembatch.errors import InputError, QuotaExceeded, RunMismatch
from gembatch.runs.config import ARTICLES_FILE, LEDGER_FILE, RunConfig
from gembatch.runs.reuse import record_hits
from gembatch.runs.store import RunStore

__all__ = [
    "InputDigest",
    "check_same_run",
    "fingerprints",
    "make_config",
    "new_ledger",
    "plan_fingerprints",
    "request_hashes",
    "text_hashes",
]


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


_BLOCK = 1024


class InputDigest:
    """The input fingerprint fed a batch of (id, text hash) pairs at a time (same value as all at once)."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, ids: list[str], hashes: list[str]) -> None:
        for i, h in zip(ids, hashes, strict=True):
            self._h.update(f"{i}\x01{h}".encode())
            self._h.update(b"\x00")

    def hexdigest(self) -> str:
        return self._h.hexdigest()[:16]


def text_hashes(articles: pd.DataFrame) -> list[str]:
    """The short hash of every article's text, a block at a time (never every text as a Python string)."""
    column = articles["text"]
    out: list[str] = []
    for start in range(0, len(column), _BLOCK):
        out.extend(_sha(str(t)) for t in column.iloc[start : start + _BLOCK].tolist())
    return out


def request_hashes(articles: pd.DataFrame, plan: Any, content: list[str]) -> list[str]:
    """A hash of what makes each request (model, prompt settings, rendered fields) without building
    or encoding it: the text stands in by its own hash, other fields by their prompt text."""
    from gembatch.inputs.prompts import as_text

    spec = plan.spec
    names = spec.template.fields
    spec.template.check_columns(articles.columns)
    head = (str(plan.model), spec.fingerprint())
    others = [n for n in names if n != "text"]
    if not others:
        return [_sha(*head, c if "text" in names else "") for c in content]
    out: list[str] = []
    for start in range(0, len(articles), _BLOCK):
        block = articles.iloc[start : start + _BLOCK]
        columns = [block[n].tolist() for n in others]
        for i, values in enumerate(zip(*columns, strict=True)):
            text = content[start + i] if "text" in names else ""
            out.append(_sha(*head, text, *(as_text(v) for v in values)))
    return out


def _article_rows(
    articles: pd.DataFrame, plan: Any, content: list[str], cached: Collection[str] = ()
) -> pd.DataFrame:
    """Per-article hashes, the representative of each identical request, and estimates.

    Articles in ``cached`` (answered from the response cache) may be missing from the plan.
    """
    if not articles.index.is_unique:  # output is matched by key: a repeated key would mix results
        dup = articles.index[articles.index.duplicated()][0]
        raise InputError(f"article id {dup!r} appears more than once; ids must be unique", row=str(dup))
    ids = [str(i) for i in articles.index.tolist()]
    request = request_hashes(articles, plan, content)
    rows = pd.DataFrame({"article_id": ids, "content_hash": content, "request_hash": request})
    rows["seq"] = range(len(rows))
    # identical only when both the request and the article text are: a template that leaves
    # the text out must not make different articles share one answer
    first: dict[tuple[str, str], str] = {}
    keys = zip(request, content, strict=True)
    rows["rep_id"] = [first.setdefault(k, a) for k, a in zip(keys, ids, strict=True)]
    assign = plan.assignments.reindex(rows["article_id"]).to_numpy()
    unplanned = pd.isna(assign) & ~rows["article_id"].isin(cached).to_numpy()
    if unplanned.any():
        missing = rows["article_id"][unplanned].iloc[0]
        raise InputError(
            f"article {missing!r} is not in the plan; re-run gb.plan() on these articles", row=missing
        )
    rows["chunk_id"] = assign
    weight = articles["est_tokens"].reindex(rows["article_id"]).to_numpy(dtype="float64") + 1.0
    rows["w"] = weight / pd.Series(weight).groupby(rows["chunk_id"]).transform("sum").to_numpy()
    chunks = plan.chunks
    for src, dst in (
        ("est_input_tokens", "est_input_tokens"),
        ("est_output_tokens", "est_output_tokens"),
        ("est_cost_usd", "est_cost_usd"),
    ):
        per_chunk = chunks[src].reindex(rows["chunk_id"]).to_numpy(dtype="float64")
        rows[dst] = (per_chunk * rows["w"]).fillna(0.0)  # a cached article has no chunk: nothing to pay
    rows["est_input_tokens"] = rows["est_input_tokens"].round().astype("int64")
    rows["est_output_tokens"] = rows["est_output_tokens"].round().astype("int64")
    return rows


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:40] or time.strftime("%Y%m%d")


def _info_dict(info: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(info) and not isinstance(info, type):
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in dataclasses.asdict(info).items()}
    return dict(info)


def fingerprints(
    articles: pd.DataFrame, plan: Any, config: dict[str, Any], hashes: list[str] | None = None
) -> dict[str, str]:
    """Short hashes of what defines a run: input, prompt, model, config (re-create must match).

    How the plan splits the articles into jobs is not part of it: the split follows the quota
    (which gembatch may learn between two sessions), and a reopened run keeps the chunks it has.
    """
    hashes = text_hashes(articles) if hashes is None else hashes
    digest = InputDigest()
    digest.update([str(i) for i in articles.index.tolist()], hashes)
    return plan_fingerprints(digest.hexdigest(), plan, config)


def plan_fingerprints(data: str, plan: Any, config: dict[str, Any]) -> dict[str, str]:
    """The fingerprints of a run from its input's digest (see :func:`fingerprints`)."""
    cfg = _sha(json.dumps(config, sort_keys=True, default=str))
    return {"input": data, "prompt": plan.spec.fingerprint(), "model": str(plan.model), "config": cfg}


def _legacy_config_fingerprint(plan: Any, config: dict[str, Any]) -> str:
    """The config hash of runs created before the split left it (they still reopen)."""
    layout = _sha(*(f"{a}\x01{c}" for a, c in plan.assignments.sort_index().items()))
    return _sha(json.dumps(config, sort_keys=True, default=str), layout)


def defining_config(plan: Any, max_attempts: int, budget_usd: float | None = None) -> dict[str, Any]:
    """The settings that define a run besides its inputs; ``budget_usd`` overrides the plan's."""
    budget = plan.budget_usd if budget_usd is None else budget_usd
    return {
        "tier": plan.tier,
        "policy": plan.policy,
        "headroom": float(plan.headroom),
        "budget_usd": None if budget is None else float(budget),
        "max_attempts": int(max_attempts),
    }


_WHAT = {
    "input": "the articles (their ids or texts)",
    "prompt": "the prompt, system instruction, schema or generation settings",
    "model": "the model",
    "config": "the tier, policy, headroom, budget or max_attempts",
}


def check_same_run(
    stored: RunConfig, wanted: dict[str, str], run_dir: Path, plan: Any = None, config: Any = None
) -> None:
    """Raise :class:`RunMismatch` saying in words what differs from the run already in ``run_dir``."""
    have = stored.fingerprints
    diffs = [k for k, v in wanted.items() if have.get(k) != v]
    legacy = plan is not None and config is not None
    if "config" in diffs and legacy and have.get("config") == _legacy_config_fingerprint(plan, config):
        diffs.remove("config")
    if diffs:
        said = [_WHAT.get(k, k) for k in diffs]
        if "model" in diffs:
            said[diffs.index("model")] = f"the model (the run uses {stored.model}, now {wanted['model']})"
        raise RunMismatch(
            f"{run_dir} already holds run {stored.run_id}, and these differ from it: {'; '.join(said)}. "
            "Use a new run directory for a new run, or continue this one as it was created: "
            f"`gembatch resume {run_dir}` (Python: gb.Run.open(run_dir))"
        )


def new_ledger(
    run_dir: Path,
    articles: pd.DataFrame,
    plan: Any,
    *,
    max_attempts: int,
    run_id: str | None,
    budget_usd: float | None = None,
    cached: CacheLookup | None = None,
    **knobs: Any,
) -> RunStore:
    """Snapshot the inputs and write the whole initial ledger in one transaction.

    ``cached``: the response cache's hits for these articles; they are recorded as answered and
    left out of every chunk (``None``: the cache is off).
    """
    defining = defining_config(plan, max_attempts, budget_usd)
    content = text_hashes(articles)  # each text hashed once: for the fingerprint and for duplicates
    fps = fingerprints(articles, plan, defining, content)
    quota = int(plan.quota_tokens)
    cap = int(quota * float(plan.headroom))
    chunks = plan.chunks
    too_big = chunks[chunks["est_input_tokens"] > cap] if cap else chunks.iloc[:0]
    if len(too_big):
        cid = too_big.index[0]
        raise QuotaExceeded(
            f"chunk {cid} needs ~{int(too_big['est_input_tokens'].iloc[0]):,} enqueued tokens but "
            f"quota × headroom is {cap:,}; re-plan with a smaller chunk_tokens"
        )
    top = int(min(cap, chunks["est_input_tokens"].max())) if len(chunks) and cap else 1
    config = make_config(run_dir, plan, defining, fps, run_id=run_id, chunk_tokens=top, **knobs)
    hits = cached.hits if cached is not None else {}
    rows = _article_rows(articles, plan, content, hits.keys())
    articles.to_parquet(run_dir / ARTICLES_FILE, row_group_size=4096)  # written a slice at a time
    led = RunStore(run_dir / LEDGER_FILE)
    all_reps = rows[rows["article_id"] == rows["rep_id"]]
    reps = all_reps[~all_reps["article_id"].isin(hits.keys())] if hits else all_reps
    with led.transaction():
        cols = [str(c) for c in rows.columns]  # one row dict at a time, never a list of them all
        led.add_articles(dict(zip(cols, t, strict=True)) for t in rows.itertuples(index=False, name=None))
        groups = dict(tuple(reps.groupby("chunk_id", sort=False)))
        for cid in chunks.index:  # plan order: the scheduler submits first-fit in this order
            if cid not in groups:
                continue  # every article of this chunk repeats a request sent by another chunk
            group, meta = groups[cid], chunks.loc[cid]
            led.add_chunk(
                str(cid),
                attempt=1,
                wave=int(meta.get("wave", 1)),
                model=config.model,
                display_name=f"gembatch/{config.run_id}/{cid}/1",
                article_ids=group["article_id"].tolist(),
                est_input_tokens=int(group["est_input_tokens"].sum()),
                est_output_tokens=int(group["est_output_tokens"].sum()),
                est_cost_usd=float(group["est_cost_usd"].sum()),
            )
        dups = len(rows) - len(all_reps)
        led.set_meta("config", config.to_dict())
        led.event(
            "created", f"{len(rows)} articles ({dups} identical requests sent once), {len(chunks)} chunks"
        )
        record_hits(led, cached, time.time(), set(all_reps["article_id"]))
    return led


def make_config(
    run_dir: Path,
    plan: Any,
    defining: dict[str, Any],
    fps: dict[str, str],
    *,
    run_id: str | None,
    chunk_tokens: int,
    **knobs: Any,
) -> RunConfig:
    """The configuration a new run starts with (``chunk_tokens``: its largest planned chunk)."""
    info = plan.model_info
    config = RunConfig(
        # unique even if the directory is deleted and made again: old remote jobs never match
        run_id=f"{run_id or _slug(run_dir.resolve().name)}-{uuid.uuid4().hex[:8]}",
        model=str(plan.model),
        tier=str(plan.tier),
        spec=plan.spec.to_dict(),
        model_info=_info_dict(info),
        policy=str(plan.policy),
        headroom=float(plan.headroom),
        budget_usd=defining["budget_usd"],
        quota_tokens=int(plan.quota_tokens),
        max_attempts=int(defining["max_attempts"]),
        chunk_tokens=int(chunk_tokens),
        max_jobs=int(getattr(info, "concurrent_batch_jobs", 100)),
        fingerprints=fps,
        **knobs,
    )
    if config.model_info.get("inline_limit_bytes"):
        config.inline_limit_bytes = min(
            config.inline_limit_bytes, int(config.model_info["inline_limit_bytes"]) - 500_000
        )
    return config
