"""The guide's reference tables match the code: CLI flags per command, notebook parameters."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from docsupport import ROOT

from gembatch.cli import build_parser

GUIDE = (ROOT / "docs" / "guide.md").read_text("utf-8")


def _rows(first_cell: str) -> list[list[str]]:
    """Cells of the Markdown table rows whose first cell matches ``first_cell`` (a regex)."""
    rows = []
    for line in GUIDE.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if re.match(first_cell, cells[0]):
                rows.append(cells)
    return rows


def _subparser(path: list[str]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


CLI_ROWS = _rows(r"`gembatch ")


@pytest.mark.parametrize("row", CLI_ROWS, ids=[r[0][:40] for r in CLI_ROWS])
def test_cli_table_flags_exist(row: list[str]) -> None:
    words = re.findall(r"`gembatch ([^`]+)`", row[0])[0].split()
    path = [w for w in words[:2] if re.fullmatch(r"[a-z][a-z-]*", w)]
    try:
        parser = _subparser(path)
    except StopIteration:  # a leaf command: the second word was an argument
        parser = _subparser(path[:1])
    known = {opt for action in parser._actions for opt in action.option_strings}
    for flag in re.findall(r"`(-{1,2}[a-z][\w-]*)", row[2]):
        assert flag in known, f"guide CLI table: `gembatch {' '.join(path)}` has no {flag}"


def _parameters(notebook: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text("utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    return re.findall(r"^(\w+)\s*(?::[^=]+)?=", "".join(cell["source"]), re.M)


NB_ROWS = _rows(r"`\d\d_\w+`$")


def test_every_notebook_is_in_the_table() -> None:
    listed = {r[0].strip("`") for r in NB_ROWS}
    assert listed == {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}


@pytest.mark.parametrize("row", NB_ROWS, ids=[r[0].strip("`") for r in NB_ROWS])
def test_notebook_parameters_match(row: list[str]) -> None:
    shown = re.findall(r"`(\w+)`", row[1])
    assert shown == _parameters(row[0].strip("`")), f"guide runbook table, {row[0]}: parameters differ"


def test_rest_table_lists_every_endpoint(tmp_path: Path) -> None:
    from fastapi.routing import APIRoute

    from gembatch.server import create_app

    app = create_app(tmp_path, token="t", resume=False)
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    rows = re.findall(r"^\| `((?:GET|POST|PUT|DELETE|PATCH) /[^`]*)`", GUIDE, re.M)
    # the guide abbreviates {run_id} as {id}
    shown = {(m, p.replace("{id}", "{run_id}")) for m, p in (row.split() for row in rows)}
    assert shown == served, f"missing {sorted(served - shown)}, extra {sorted(shown - served)}"


def _listed_after(marker: str) -> list[str]:
    """The backquoted names in the sentence of the guide that follows ``marker``."""
    start = GUIDE.index(marker) + len(marker)
    return re.findall(r"`(\w+)`", GUIDE[start : GUIDE.index("):", start)])


def test_realtime_options_listed() -> None:
    import dataclasses

    from gembatch.runs.realtime_send import RealtimeOptions

    fields = {f.name for f in dataclasses.fields(RealtimeOptions)}
    listed = _listed_after("`gembatch.runs.realtime_send.RealtimeOptions`:")
    assert len(listed) >= 5
    assert set(listed) <= fields, f"guide lists options that do not exist: {sorted(set(listed) - fields)}"


def test_run_knobs_listed() -> None:
    from gembatch.runs.context import RunConfig

    text = GUIDE[GUIDE.index("and operational knobs that may") :]
    text = text[: text.index("\n\n")]
    shown = set(re.findall(r"`(\w+)`", text))
    knobs = set(RunConfig.OPERATIONAL) - {"mode", "realtime"}  # both documented in their own sections
    assert len(shown) >= 5
    assert shown <= knobs, f"guide lists options Run.create does not take: {sorted(shown - knobs)}"
