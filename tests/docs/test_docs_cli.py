"""Every ``gembatch`` command and ``make`` target the documentation shows exists with those flags."""

from __future__ import annotations

import re

import pytest
from docsupport import ROOT, documented_commands, make_targets_shown

from gembatch.cli import build_parser

COMMANDS = documented_commands()
TARGETS = make_targets_shown()


def test_docs_show_commands() -> None:
    names = {argv[0] for _, argv in COMMANDS if argv}
    assert {"run", "status", "results", "serve"} <= names, names


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[" ".join(a)[:60] for _, a in COMMANDS])
def test_command_parses(where: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code == 0:  # --help
            return
        err = capsys.readouterr().err.strip().splitlines()
        if where.endswith("(inline)") and err and "arguments are required" in err[-1]:
            return  # prose may name a command without its arguments: `gembatch run`
        pytest.fail(f"{where}: `gembatch {' '.join(argv)}` does not parse: {err[-1] if err else ''}")


@pytest.mark.parametrize(("where", "target"), TARGETS, ids=[t for _, t in TARGETS])
def test_make_target_exists(where: str, target: str) -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"{where}: no `make {target}` target"
