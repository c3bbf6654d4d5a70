"""The package's curated public surface."""

from __future__ import annotations

import subprocess
import sys

import gembatch as gb


def test_all_is_sorted_and_every_name_resolves():
    assert list(gb.__all__) == sorted(gb.__all__)
    for name in gb.__all__:
        assert getattr(gb, name) is not None, name


def test_importing_gembatch_does_not_import_jupyter():
    code = (
        "import sys, gembatch\n"
        "print(any(m.startswith(('ipywidgets', 'IPython', 'ipykernel')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
