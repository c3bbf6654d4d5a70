"""Synthetic articles: deterministic, readable, the right length spread, and writable."""

from __future__ import annotations

import pytest

import gembatch as gb
from gembatch.errors import InputError
from gembatch.inputs.datasets import synthetic_articles, write_articles


def test_deterministic_for_a_seed_and_different_across_seeds():
    a, b = synthetic_articles(50, seed=3), synthetic_articles(50, seed=3)
    assert a.equals(b)
    assert not a["text"].equals(synthetic_articles(50, seed=4)["text"])


def test_12k_lengths_spread_over_8_to_10k_characters():
    df = synthetic_articles(12_000)
    lengths = df["text"].str.len()
    assert len(df) == 12_000
    assert df["id"].is_unique
    assert df["text"].is_unique
    assert lengths.min() >= 8_000
    assert lengths.max() <= 10_000
    assert 8_800 <= lengths.mean() <= 9_200
    assert lengths.std() > 300  # spread, not all the same length


def test_articles_look_like_articles():
    text = synthetic_articles(1)["text"].iloc[0]
    title, _, body = text.partition("\n\n")
    assert title == synthetic_articles(1)["title"].iloc[0]
    assert body.count("\n\n") >= 5  # paragraphs
    assert text.endswith(".")
    assert all(p[0].isupper() for p in body.split("\n\n"))


def test_mean_chars_is_respected():
    lengths = synthetic_articles(200, mean_chars=2_000)["text"].str.len()
    assert 1_800 <= lengths.mean() <= 2_200


def test_bad_arguments():
    with pytest.raises(InputError):
        synthetic_articles(-1)
    with pytest.raises(InputError):
        synthetic_articles(3, mean_chars=10)


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_written_files_read_back(tmp_path, suffix):
    src = synthetic_articles(5)
    path = write_articles(src, tmp_path / f"sub/a{suffix}")
    df = gb.read_articles(path)
    assert list(df.index) == list(src["id"])
    assert list(df["text"]) == list(src["text"])
    assert list(df["title"]) == list(src["title"])


def test_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(InputError, match="unsupported"):
        write_articles(synthetic_articles(1), tmp_path / "a.xml")
