"""Deterministic, readable-looking synthetic articles for demos, tests and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from gembatch.errors import InputError

__all__ = ["synthetic_articles", "write_articles"]

_SUBJECTS = (
    "The city council",
    "A regional water board",
    "The research team",
    "Local farmers",
    "The transport authority",
    "A group of teachers",
    "The hospital trust",
    "Engineers at the plant",
    "The chamber of commerce",
    "Residents of the old quarter",
    "The university library",
    "A small software company",
    "The port authority",
    "Volunteers from the museum",
    "The fisheries agency",
    "Officials at the ministry",
    "The harbour pilots",
    "A coalition of growers",
)
_VERBS = (
    "announced",
    "questioned",
    "approved",
    "postponed",
    "reviewed",
    "published",
    "defended",
    "expanded",
    "criticised",
    "welcomed",
    "measured",
    "proposed",
    "tested",
    "rejected",
    "funded",
)
_OBJECTS = (
    "a plan to rebuild the northern bridge",
    "new rules for night-time deliveries",
    "the budget for coastal defences",
    "a pilot scheme for electric buses",
    "the results of a five-year soil study",
    "a proposal to merge two primary schools",
    "changes to the flood warning system",
    "the cost of repairing the old tram line",
    "a survey of household energy use",
    "plans for a community solar farm",
    "the findings of an independent audit",
    "a new timetable for regional trains",
    "a programme to train apprentice welders",
    "the restoration of the river meadows",
    "limits on groundwater extraction",
    "a study of air quality near schools",
)
_TAILS = (
    "after months of public consultation",
    "despite objections from several councillors",
    "following a sharp rise in costs",
    "ahead of the winter season",
    "at a meeting on Tuesday",
    "in a report released this week",
    "with support from national funds",
    "according to figures seen by this paper",
    "while critics called for more detail",
    "as part of a ten-year strategy",
    "after a series of delays",
    "in response to local demand",
)
_FOLLOWUPS = (
    "Supporters say the change is overdue.",
    "Opponents argue the figures do not add up.",
    "A final decision is expected next spring.",
    "The details will be published online.",
    "Several questions remain unanswered.",
    "Officials declined to give a timetable.",
    "The first phase could begin within a year.",
    "Residents have been invited to comment.",
    "Similar schemes have had mixed results elsewhere.",
    "The cost has risen by a fifth since 2024.",
)
_TOPICS = (
    "Bridge",
    "Budget",
    "Buses",
    "Schools",
    "Flood Defences",
    "Energy",
    "Water",
    "Rail",
    "Harbour",
    "Housing",
    "Farming",
    "Air Quality",
    "Libraries",
    "Apprenticeships",
    "Meadows",
    "Trams",
)
_PLACES = (
    "Northbrook",
    "Eastfield",
    "Havenport",
    "Millbridge",
    "Ashford Vale",
    "Kingsmere",
    "Redcliffe",
    "Westmoor",
    "Oldcastle",
    "Brightwater",
    "Stonehaven",
    "Fairhill",
)
_POOL_PARAGRAPHS = 800


def _sentence_pool(rng: np.random.Generator, n: int) -> np.ndarray:
    s = rng.integers(0, len(_SUBJECTS), n)
    v = rng.integers(0, len(_VERBS), n)
    o = rng.integers(0, len(_OBJECTS), n)
    t = rng.integers(0, len(_TAILS), n)
    f = rng.integers(0, len(_FOLLOWUPS), n)
    return np.array(
        [
            f"{_SUBJECTS[a]} {_VERBS[b]} {_OBJECTS[c]} {_TAILS[d]}. {_FOLLOWUPS[e]}"
            for a, b, c, d, e in zip(s, v, o, t, f, strict=True)
        ],
        dtype=object,
    )


def _paragraph_pool(rng: np.random.Generator) -> list[str]:
    sentences = _sentence_pool(rng, 4 * _POOL_PARAGRAPHS)
    counts = rng.integers(2, 5, _POOL_PARAGRAPHS)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) % (len(sentences) - 5)
    return [" ".join(sentences[a : a + k]) for a, k in zip(starts.tolist(), counts.tolist(), strict=True)]


def synthetic_articles(n: int, mean_chars: int = 9000, seed: int = 0) -> pd.DataFrame:
    """``n`` deterministic articles with ``id``, ``title`` and ``text`` columns.

    Lengths spread uniformly over ±11% of ``mean_chars`` (8–10k characters by default). 12,000
    articles take a fraction of a second: paragraphs come from a pool built once.

    >>> synthetic_articles(3).shape
    (3, 3)
    """
    if n < 0 or mean_chars < 200:
        raise InputError("synthetic_articles needs n >= 0 and mean_chars >= 200")
    rng = np.random.default_rng(seed)
    pool = _paragraph_pool(rng)
    plen = np.array([len(p) for p in pool], dtype=np.int64) + 2  # "\n\n" between paragraphs
    spread = mean_chars / 9
    # Texts run past their target, then are cut at the last full stop before it: a cut loses
    # at most one sentence (~`margin` characters), so targets start `margin` above the minimum.
    margin = min(180.0, spread)
    target = rng.uniform(mean_chars - spread + margin, mean_chars + spread, n).astype(np.int64)
    k = int(np.ceil((mean_chars + spread) / plen.min())) + 2
    picks = rng.integers(0, len(pool), size=(n, k))
    cum = np.cumsum(plen[picks], axis=1)
    counts = np.minimum(k, (cum <= target[:, None]).sum(axis=1) + 1)
    topics = rng.integers(0, len(_TOPICS), n).tolist()
    places = rng.integers(0, len(_PLACES), n).tolist()
    titles = [
        f"{_TOPICS[a]}: what {_PLACES[b]} decided, and why" for a, b in zip(topics, places, strict=True)
    ]
    texts = []
    for title, row, c, t in zip(titles, picks.tolist(), counts.tolist(), target.tolist(), strict=True):
        body = title + "\n\n" + "\n\n".join([pool[j] for j in row[:c]])
        texts.append(body[: body.rfind(".", 0, t) + 1])
    width = max(5, len(str(max(n - 1, 0))))
    ids = [f"a{i:0{width}d}" for i in range(n)]
    return pd.DataFrame({"id": ids, "title": titles, "text": texts})


def write_articles(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write articles to .jsonl, .json, .csv or .parquet (by suffix); return the path."""
    out = Path(path)
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".jsonl", ".ndjson"):
        from gembatch.inputs.request_lines import write_jsonl

        flat = frame.reset_index() if frame.index.name else frame
        write_jsonl(({str(k): v for k, v in r.items()} for r in flat.to_dict("records")), out)
    elif suffix == ".json":
        frame.to_json(out, orient="records", force_ascii=False, indent=0)
    elif suffix == ".csv":
        frame.to_csv(out, index=frame.index.name is not None)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(out)
    else:
        raise InputError(
            f"{out.name}: unsupported file type {suffix or '(none)'}; use .jsonl, .json, .csv, .parquet"
        )
    return out
