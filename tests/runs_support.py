"""Helpers shared by the run tests: small-quota catalogue, articles, plans, emulator stats checks."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import gembatch as gb

MODEL = "gemini-2.5-flash-lite"
QUOTA = 200_000  # tiny Tier-1 enqueued-token quota, so scheduling matters
FAST = {
    "poll_min_s": 0.02,
    "poll_max_s": 0.2,
    "backoff_base_s": 0.02,
    "backoff_max_s": 0.3,
    "reconcile_grace_s": 0.0,
}


def small_catalog(quota: int = QUOTA) -> gb.Catalog:
    return gb.load_catalog({MODEL: {"enqueued_tokens": {"tier1": quota}}})


def articles(n: int, mean_chars: int = 1000, seed: int = 0) -> Any:
    return gb.read_articles(gb.synthetic_articles(n, mean_chars=mean_chars, seed=seed), id_col="id")


def make_plan(arts: Any, catalog: gb.Catalog, **kw: Any) -> gb.Plan:
    kw.setdefault("prompt", "Summarise in one sentence:\n{text}")
    kw.setdefault("chunk_tokens", 15_000)
    return gb.plan(arts, MODEL, catalog=catalog, **kw)


def assert_no_duplicate_jobs(stats: dict[str, Any], run_id: str) -> None:
    created = {k: v for k, v in stats["batches_created_by_display_name"].items() if run_id in k}
    assert created, "no job of this run reached the emulator"
    dups = {k: v for k, v in created.items() if v != 1}
    assert not dups, f"duplicate remote jobs: {dups}"


def assert_accounted(run: gb.Run, n: int) -> None:
    res = run.results()
    assert len(res) == n
    assert res.index.is_unique
    assert set(res["status"].astype(str)) <= {"succeeded", "failed", "pending"}
    failed = res[res["status"] == "failed"]
    assert failed["error"].notna().all(), "every failed article carries its reason"


def peak(stats: dict[str, Any]) -> int:
    """The emulator's peak enqueued tokens for MODEL (keys may carry the models/ prefix)."""
    return max(v for k, v in stats["peak_enqueued_tokens"].items() if k.removeprefix("models/") == MODEL)


def read_ledger(where: gb.Run | Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Rows of ``sql`` read straight from a run's ``ledger.sqlite`` (read-only, its own connection).

    Tests check what the store wrote independently of the store's own queries.
    """
    path = (where.run_dir if isinstance(where, gb.Run) else Path(where)) / "ledger.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, params).fetchall()
