"""``import gembatch`` and ``gembatch --help`` load no heavy dependency; the CLI's command table is right."""

from __future__ import annotations

import json
import subprocess
import sys

from gembatch.cli import COMMANDS, build_parser

HEAVY = ("google.genai", "matplotlib", "ipywidgets", "IPython", "pandas", "pyarrow")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    return [m for m in HEAVY if m in modules]


def test_import_gembatch_loads_no_heavy_dependency():
    assert _loaded_after("import gembatch") == []


def test_a_public_name_loads_what_it_needs_on_first_use():
    assert "pandas" in _loaded_after("import gembatch as gb\ngb.read_articles")


def test_cli_help_loads_no_heavy_dependency():
    code = (
        "import contextlib, io\nfrom gembatch.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass"
    )
    assert _loaded_after(code) == []


def test_command_table_matches_the_parser_the_modules_build():
    sub = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    built = {a.dest: a.help for a in sub._choices_actions}
    assert built == {name: help_text for name, (_, help_text) in COMMANDS.items()}
