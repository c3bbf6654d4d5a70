"""The generated tables in docs/tier1-12k.md match what the catalogue and the planner give today."""

from __future__ import annotations

import difflib
import doctest
from pathlib import Path

import pytest
from docsupport import ROOT

from gembatch import docs

PAGE = ROOT / "docs" / "tier1-12k.md"


def test_every_table_has_markers() -> None:
    text = PAGE.read_text("utf-8")
    for name in docs.TABLES:
        assert docs.begin_marker(name) in text, f"docs/tier1-12k.md lacks the {name!r} table markers"
        assert docs.end_marker(name) in text


def test_generated_tables_are_current() -> None:
    text = PAGE.read_text("utf-8")
    fresh = docs.render(text)
    diff = "\n".join(
        difflib.unified_diff(text.splitlines(), fresh.splitlines(), "committed", "generated", lineterm="")
    )
    assert fresh == text, f"docs/tier1-12k.md is stale: run `make docs`\n{diff[:4000]}"


def test_render_is_idempotent() -> None:
    once = docs.render(PAGE.read_text("utf-8"))
    assert docs.render(once) == once


def test_check_mode_reports_a_stale_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# t\n\n{docs.begin_marker('limits')}\nold figures\n{docs.end_marker('limits')}\n")
    assert docs.main(["--check", str(page)]) == 1
    assert "stale" in capsys.readouterr().err
    assert docs.main([str(page)]) == 0  # regenerates in place
    assert "old figures" not in page.read_text()
    assert docs.main(["--check", str(page)]) == 0


def test_docstring_examples_run() -> None:
    result = doctest.testmod(docs)
    assert result.failed == 0
    assert result.attempted > 0
