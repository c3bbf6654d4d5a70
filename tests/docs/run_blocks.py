"""Run one document's code blocks in order, like a reader would: ``python run_blocks.py blocks.json``.

Python blocks share one namespace (a reader's session); bash blocks run in ``bash`` with
``set -eo pipefail``, and their exported variables and final directory carry over to later blocks.
A failing block prints where it starts in the document and exits 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path


def _run_bash(code: str, where: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env_file, pwd_file = Path(tmp) / "env", Path(tmp) / "pwd"
        script = f"set -eo pipefail\n{code}\nenv -0 > {env_file}\npwd > {pwd_file}\n"
        done = subprocess.run(["bash", "-c", script], check=False)
        if done.returncode != 0:
            print(f"\nDOC EXAMPLE FAILED: bash block at {where} exited {done.returncode}", file=sys.stderr)
            sys.exit(1)
        env = dict(item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
        for key in set(os.environ) - set(env):
            del os.environ[key]
        os.environ.update({k: v for k, v in env.items() if k not in ("_", "SHLVL", "OLDPWD")})
        os.chdir(pwd_file.read_text().strip())


def main(blocks_file: str) -> int:
    blocks = json.loads(Path(blocks_file).read_text("utf-8"))
    namespace: dict[str, object] = {"__name__": "__main__"}
    for block in blocks:
        where = block["where"]
        print(f"--- {block['lang']} block at {where}", flush=True)
        if block["lang"] == "bash":
            _run_bash(block["code"], where)
            continue
        path, line = where.rsplit(":", 1)
        try:
            # padded so that tracebacks show the line numbers of the Markdown file
            exec(compile("\n" * (int(line) - 1) + block["code"], path, "exec"), namespace)
        except SystemExit as exc:
            if exc.code not in (0, None):
                print(f"\nDOC EXAMPLE FAILED: python block at {where} exited {exc.code}", file=sys.stderr)
                return 1
        except BaseException:
            traceback.print_exc()
            print(f"\nDOC EXAMPLE FAILED: python block at {where}", file=sys.stderr)
            return 1
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
