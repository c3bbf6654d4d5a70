"""Three `gembatch run` processes on one fresh run directory: one run, no traceback, no duplicate job."""

from __future__ import annotations

import os
import subprocess
import sys

from runs_support import assert_accounted

import gembatch as gb
from gembatch.runs.lock import create_lock


def test_three_processes_make_one_run(tmp_path):
    data = tmp_path / "a.jsonl"
    gb.synthetic_articles(12, mean_chars=500, seed=8).to_json(data, orient="records", lines=True)
    run_dir = tmp_path / "run"
    with gb.emulator.running(speed=20_000) as emu:
        env = {
            "GEMBATCH_EMULATOR_URL": emu.base_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "PATH": "",
            "GEMBATCH_CACHE_DIR": os.environ["GEMBATCH_CACHE_DIR"],
        }
        args = [sys.executable, "-m", "gembatch", "run", str(data), "--run-dir", str(run_dir),
                "--model", "gemini-2.5-flash-lite", "--chunk-tokens", "1500", "--max-wait", "90"]  # fmt: skip
        procs = [
            subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(3)
        ]
        outs = [p.communicate(timeout=180) for p in procs]
        created = {k: v for k, v in emu.stats()["batches_created_by_display_name"].items() if k}
        run_id = gb.Run.open(run_dir).run_id
        sdk = emu.client()
        prefix = f"gembatch/{run_id}/"
        held = [f.name for f in sdk.files.list() if (f.display_name or "").startswith(prefix)]
        held += [j.name for j in sdk.batches.list() if (j.display_name or "").startswith(prefix)]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert "Traceback" not in err
        assert proc.returncode == 0, err
    run = gb.Run.open(run_dir)
    assert run.summary().succeeded == 12
    assert created, "jobs reached the emulator"
    assert all(n == 1 for n in created.values()), f"duplicate jobs: {created}"
    assert {name.split("/")[1] for name in created} == {run.run_id}, "one run, not three"
    assert_accounted(run, 12)
    assert (run.summary().succeeded, run.summary().pending) == (12, 0)
    assert held == [], f"the run left files or jobs at the service: {held}"
    assert run.summary().leftovers == 0
    assert not list(run_dir.glob("damaged-*")), "nothing was set aside"


def test_the_create_lock_is_taken_in_turns(tmp_path):
    import threading
    import time

    order: list[str] = []

    def hold(tag: str) -> None:
        with create_lock(tmp_path):
            order.append(f"{tag} in")
            time.sleep(0.2)
            order.append(f"{tag} out")

    threads = [threading.Thread(target=hold, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order[1].endswith("out")
    assert order[3].endswith("out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no lock file is left in the directory"
