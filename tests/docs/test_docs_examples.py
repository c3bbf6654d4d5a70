"""Every python/bash example in README.md and docs/*.md runs as written, against the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from docsupport import ROOT, RUN_LANGS, Block, blocks, doc_files, reader_env

RUNNER = Path(__file__).with_name("run_blocks.py")
OTHER_LANGS = frozenset({"text", "console", "mermaid", "toml", "json"})  # shown, not run
DOCS = [p for p in doc_files() if any(b.lang in RUN_LANGS and not b.skip for b in blocks(p))]


def _runnable(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang in RUN_LANGS and not b.skip]


def test_docs_have_examples() -> None:
    assert (ROOT / "README.md") in DOCS
    assert len(DOCS) >= 3, [str(p) for p in DOCS]


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_every_block_is_tagged(path: Path) -> None:
    """An untagged or oddly tagged block would silently escape the example runner."""
    for block in blocks(path):
        assert block.lang in RUN_LANGS | OTHER_LANGS, (
            f"{block.where}: tag the block (```python, ```bash, ```text…)"
        )
        if block.lang == "python":
            compile(block.code, block.where, "exec")  # skipped blocks must at least be valid Python


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_examples_run(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    todo = _runnable(path)
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps([{"where": b.where, "lang": b.lang, "code": b.code} for b in todo]))
    work = tmp_path / "work"
    work.mkdir()
    env = reader_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    if "GEMBATCH_URL" in path.read_text("utf-8"):
        env.update(request.getfixturevalue("rest_server"))
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), str(spec)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so a hung example's shell and gembatch children can be ended too
    )
    try:
        out, err = proc.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{path.name}: examples still running after 540 s\n{out[-6000:]}\n{err[-6000:]}")
    finally:  # an example may have started the out-of-process emulator in this HOME
        subprocess.run(
            [sys.executable, "-m", "gembatch", "emulator", "stop"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    print(out[-8000:])
    assert proc.returncode == 0, f"{path.name}:\n{out[-6000:]}\n{err[-6000:]}"


def test_readme_starts_with_the_two_commands() -> None:
    first = blocks(ROOT / "README.md")[0]
    assert "make demo" in first.code
    assert "make test" in first.code
