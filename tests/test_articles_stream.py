"""The streaming JSONL reader: what a later block holds that the first did not still arrives intact."""

from __future__ import annotations

import json

import pytest

import gembatch as gb
from gembatch.errors import InputError
from gembatch.inputs import articles as articles_mod


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(articles_mod, "_JSON_BLOCK", 4096)  # many blocks from a small file


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_field_first_seen_in_a_later_block_is_kept(tmp_path, small_blocks):
    records = [{"id": f"a{i}", "text": f"article number {i} " * 5} for i in range(400)]
    records[350]["note"] = "late"
    frame = gb.read_articles(_write(tmp_path / "a.jsonl", records))
    assert len(frame) == 400
    assert frame.loc["a350", "note"] == "late"
    assert frame.loc["a399", "text"] == records[399]["text"]


def test_a_type_change_in_a_later_block_keeps_every_id(tmp_path, small_blocks):
    records = [{"id": f"x{i}", "text": f"text {i} " * 8} for i in range(400)]
    records[390]["id"] = 390  # a number where the first block had strings
    frame = gb.read_articles(_write(tmp_path / "b.jsonl", records))
    assert "390" in frame.index
    assert frame.index[0] == "x0"


def test_a_bad_line_in_a_later_block_is_named(tmp_path, small_blocks):
    path = _write(tmp_path / "c.jsonl", [{"text": f"body {i} " * 8} for i in range(300)])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[280] = '{"text": "unterminated'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 281"):
        gb.read_articles(path)
