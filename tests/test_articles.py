"""read_articles: every input format, defaults, ids, and every bad-input case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gembatch as gb
from gembatch.errors import InputError

ROWS = [
    {"id": "a1", "text": "First article text.", "source": "wire"},
    {"id": "a2", "text": "Second one, a bit longer.", "source": "blog"},
    {"id": "a3", "text": "Third.", "source": "wire"},
]


def check_frame(df: pd.DataFrame, ids: list[str], extra: tuple[str, ...] = ("source",)) -> None:
    assert df.index.name == "article_id"
    assert list(df.index) == ids
    assert df.index.is_unique
    assert list(df.columns[:3]) == ["text", "chars", "est_tokens"]
    for col in extra:
        assert col in df.columns
    assert df["chars"].dtype == np.int64
    assert df["est_tokens"].dtype == np.int64
    assert (df["chars"] == df["text"].str.len()).all()
    assert (df["est_tokens"] > 0).all()
    assert all(isinstance(i, str) for i in df.index)


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


# --- formats -----------------------------------------------------------------------------------


def test_dataframe_input():
    df = gb.read_articles(pd.DataFrame(ROWS))
    check_frame(df, ["a1", "a2", "a3"])
    assert df.loc["a2", "source"] == "blog"


def test_list_of_dicts_input():
    check_frame(gb.read_articles(ROWS), ["a1", "a2", "a3"])


def test_list_of_strings_gets_generated_ids():
    df = gb.read_articles(["one", "two", "three"])
    check_frame(df, ["00000", "00001", "00002"], extra=())
    assert df.loc["00001", "text"] == "two"


def test_jsonl_input(tmp_path):
    path = write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in ROWS) + "\n")
    check_frame(gb.read_articles(path), ["a1", "a2", "a3"])


def test_jsonl_with_blank_lines_and_bare_strings(tmp_path):
    path = write(tmp_path / "a.jsonl", '"just text"\n\n{"text": "more"}\n')
    df = gb.read_articles(str(path))
    assert list(df["text"]) == ["just text", "more"]


def test_json_list_input(tmp_path):
    check_frame(gb.read_articles(write(tmp_path / "a.json", json.dumps(ROWS))), ["a1", "a2", "a3"])


def test_json_articles_object_input(tmp_path):
    path = write(tmp_path / "data.json", json.dumps({"articles": ROWS, "meta": {"n": 3}}))
    check_frame(gb.read_articles(path), ["a1", "a2", "a3"])


def test_csv_input_keeps_ids_as_strings(tmp_path):
    path = tmp_path / "a.csv"
    pd.DataFrame([{**r, "id": f"00{i}"} for i, r in enumerate(ROWS)]).to_csv(path, index=False)
    check_frame(gb.read_articles(path), ["000", "001", "002"])


def test_parquet_input(tmp_path):
    path = tmp_path / "a.parquet"
    pd.DataFrame(ROWS).to_parquet(path)
    check_frame(gb.read_articles(path), ["a1", "a2", "a3"])


def test_content_and_article_id_defaults_and_explicit_columns():
    rows = [{"article_id": 7, "content": "hello there"}, {"article_id": 8, "content": "bye"}]
    df = gb.read_articles(rows)
    assert list(df.index) == ["7", "8"]
    assert list(df["text"]) == ["hello there", "bye"]
    custom = gb.read_articles([{"key": "k", "body": "words"}], id_col="key", text_col="body")
    assert list(custom.index) == ["k"]
    assert custom.loc["k", "text"] == "words"


def test_articles_frame_reads_back_unchanged():
    df = gb.read_articles(ROWS)
    again = gb.read_articles(df)
    pd.testing.assert_frame_equal(df, again)


def test_non_ascii_text_counts_characters():
    df = gb.read_articles(["Zürich – 東京 🙂"])
    assert df["chars"].iloc[0] == len("Zürich – 東京 🙂")


# --- bad input ---------------------------------------------------------------------------------


def raises(source, match: str, **kw) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        gb.read_articles(source, **kw)
    return info.value


def test_missing_text_column_names_the_columns():
    err = raises([{"id": 1, "body": "x"}], r"no text column.*body")
    assert err.field == "text"


def test_explicit_missing_column():
    raises(ROWS, r"text column 'nope' not found", text_col="nope")
    raises(ROWS, r"id column 'nope' not found", id_col="nope")


@pytest.mark.parametrize("bad", ["", "   ", "\n\t "])
def test_empty_or_whitespace_text_names_the_row(bad):
    rows = [*ROWS[:2], {"id": "x", "text": bad}]
    err = raises(rows, r"item 2: field 'text' is empty or only whitespace")
    assert err.row == 2
    assert err.field == "text"


def test_empty_text_in_jsonl_names_the_line(tmp_path):
    lines = [json.dumps(ROWS[0]), "", json.dumps({"id": "b", "text": " "})]
    path = write(tmp_path / "a.jsonl", "\n".join(lines) + "\n")
    err = raises(path, r"a\.jsonl line 3: field 'text' is empty")
    assert err.row == 3


def test_duplicate_ids_name_both_rows():
    rows = [*ROWS, {"id": "a2", "text": "again"}]
    err = raises(rows, r"duplicate article id 'a2' at item 1 and item 3")
    assert err.row == 3


def test_duplicate_ids_in_csv(tmp_path):
    path = write(tmp_path / "a.csv", "id,text\n1,one\n2,two\n1,three\n")
    raises(path, r"duplicate article id '1' at a\.csv row 1 and a\.csv row 3")


@pytest.mark.parametrize("value", [42, ["a"], {"x": 1}, True])
def test_non_string_text(value):
    raises([{"id": "a", "text": "ok"}, {"id": "b", "text": value}], r"item 1: field 'text' is not a string")


def test_null_text_in_jsonl_names_the_line(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"id": 1, "text": "fine"}\n{"id": 2, "text": null}\n')
    raises(path, r"line 2: field 'text' is missing \(null\)")


def test_non_string_text_in_jsonl_names_the_line(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"id": 1, "text": "fine"}\n{"id": 2, "text": 12}\n')
    raises(path, r"a\.jsonl line 2: field 'text' is not a string \(int\)")


def test_invalid_json_line_gives_its_number(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": "c"\n')
    err = raises(path, r"a\.jsonl line 3: invalid JSON")
    assert err.row == 3


def test_invalid_json_file(tmp_path):
    raises(write(tmp_path / "a.json", '[{"text": "a"},\n {"text": }]'), r"a\.json line 2: invalid JSON")


def test_undecodable_bytes_give_the_line(tmp_path):
    path = write(tmp_path / "a.jsonl", b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    raises(path, r"a\.jsonl line 2: undecodable bytes")
    csv = write(tmp_path / "a.csv", b"id,text\n1,ok\n2,caf\xe9\n")
    raises(csv, r"a\.csv line 3: undecodable bytes")


def test_article_longer_than_the_context_window():
    tiny = {"as_of": "2026-01-01", "source": "test", "context_window": 100}
    cat = gb.load_catalog(
        {"tiny": {**tiny, "max_output_tokens": 10, "input_price": 1.0, "output_price": 1.0}}
    )
    rows = [{"id": "short", "text": "x" * 50}, {"id": "long", "text": "x" * 5000}]
    err = raises(
        rows, r"item 1: article of 5,000 characters .* context window of 100", model="tiny", catalog=cat
    )
    assert err.field == "text"
    assert len(gb.read_articles(rows[:1], model="tiny", catalog=cat)) == 1


def test_missing_and_empty_ids():
    raises([{"id": "a", "text": "x"}, {"id": None, "text": "y"}], r"item 1: id field 'id' is missing")
    raises([{"id": "a", "text": "x"}, {"id": " ", "text": "y"}], r"item 1: id field 'id' is empty")


def test_other_bad_sources(tmp_path):
    raises(tmp_path / "missing.jsonl", r"no such file")
    raises(write(tmp_path / "a.txt", "hello"), r"unsupported file type \.txt")
    raises([], r"empty")
    raises(["text", 3], r"item 1: expected a string like the items before it, got int")
    raises([{"text": "a"}, "b"], r"item 1: expected an object with a text field")
    raises(write(tmp_path / "a.json", '{"rows": []}'), r'"articles"')
    raises(write(tmp_path / "e.jsonl", "\n\n"), r"no articles")
    raises(42, r"cannot read articles from int")
    raises(write(tmp_path / "a.jsonl", "[1, 2]\n"), r"line 1: expected a JSON object")


def test_a_text_column_clash_is_refused():
    raises([{"body": "a", "text": "b"}], r"text_col='body' but a column 'text'", text_col="body")


def test_nothing_partial_is_returned_on_error(tmp_path):
    # The 1,000th line is bad: the call raises, it does not return the 999 good ones.
    lines = [json.dumps({"id": i, "text": f"article {i}"}) for i in range(999)] + ['{"id": 999, "text": ""}']
    path = write(tmp_path / "big.jsonl", "\n".join(lines))
    result = None
    with pytest.raises(InputError, match="line 1000"):
        result = gb.read_articles(path)
    assert result is None


def test_fast_jsonl_reader_matches_the_exact_one(tmp_path):
    from gembatch.inputs.articles import _read_jsonl_fast

    rows = [
        {
            "id": i,
            "text": f'Zürich {i} – "quoted"\n second line',
            "score": i / 2,
            "tag": None if i % 3 else "x",
        }
        for i in range(50)
    ]
    path = write(tmp_path / "a.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    assert _read_jsonl_fast(path) is not None  # the Arrow path is taken for a clean file
    fast = gb.read_articles(path)
    exact = gb.read_articles(rows)
    assert list(fast.index) == list(exact.index) == [str(i) for i in range(50)]
    assert list(fast["text"]) == list(exact["text"])
    assert list(fast["chars"]) == list(exact["chars"])
    assert list(fast["score"]) == list(exact["score"])


def test_date_strings_stay_text_in_jsonl(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"id": 1, "text": "a", "date": "2026-01-02"}\n')
    df = gb.read_articles(path)
    assert df.loc["1", "date"] == "2026-01-02"
