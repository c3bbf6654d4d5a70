"""Real-time sending inside a real Jupyter kernel (whose thread already runs an event loop)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

pytestmark = pytest.mark.slow

CELLS = [
    "import asyncio\nimport gembatch as gb\n"
    "asyncio.get_running_loop()  # the kernel's loop is running: asyncio.run() here would raise",
    "emu = gb.emulator.running(speed=600)\nemulator = emu.__enter__()\n"
    "articles = gb.read_articles(gb.synthetic_articles(30, mean_chars=300), id_col='id')",
    "p = gb.pilot(articles, 'gemini-2.5-flash-lite', n=5, client=emulator.client())\n"
    "assert p.succeeded == 5, p\np",
    "plan = gb.plan(articles, 'gemini-2.5-flash-lite')\n"
    "run = gb.Run.create(RUN_DIR, articles, plan, client=emulator.client(), mode='realtime')\n"
    "assert run.wait(progress=False)\n"
    "assert (run.results()['status'] == 'succeeded').all()",
    "run2 = gb.Run.create(RUN_DIR + '-bg', articles, plan, client=emulator.client(), mode='realtime')\n"
    "run2.start()  # background driver thread, the cell returns at once\n"
    "import time\nfor _ in range(600):\n    if run2.summary()['done']:\n        break\n    time.sleep(0.1)\n"
    "assert run2.summary()['state'] == 'done', run2.summary()",
    "emu.__exit__(None, None, None)",
]


def test_pilot_and_realtime_run_in_a_kernel(tmp_path: Path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("RUN_DIR = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(src) for src in CELLS)]
    src, out = tmp_path / "rt.ipynb", tmp_path / "rt-out.ipynb"
    nbformat.write(nb, src)
    papermill.execute_notebook(
        str(src), str(out), parameters={"RUN_DIR": str(tmp_path / "run")}, kernel_name="python3",
        progress_bar=False, cwd=str(tmp_path),
    )  # fmt: skip
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
