"""A fresh virtualenv built from binder/ alone (requirements + postBuild): both packages, the quickstart."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbsupport import ROOT

pytestmark = pytest.mark.slow

# What Binder's checkout needs: the packages, their metadata, the binder files (not the dev venv).
COPIED = ("pyproject.toml", "README.md", "gembatch", "widgets", "binder", "notebooks")


def _python_for_runtime() -> str:
    """The interpreter runtime.txt asks for (python-3.11 → python3.11), else this one."""
    wanted = (ROOT / "binder" / "runtime.txt").read_text().strip().removeprefix("python-")
    return shutil.which(f"python{wanted}") or sys.executable


def _checkout(dest: Path) -> Path:
    build_files = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")

    def ignore(directory: str, names: list[str]) -> set[str]:
        # notebooks/runs and notebooks/data are outputs of executed notebooks; gembatch/runs is code
        outputs = {"runs", "data"} if Path(directory).name == "notebooks" else set()
        return set(build_files(directory, names)) | (outputs & set(names))

    dest.mkdir(parents=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_binder_environment_imports_both_packages(tmp_path: Path):
    repo = _checkout(tmp_path / "repo")
    env_dir = tmp_path / "binder-venv"
    subprocess.run([_python_for_runtime(), "-m", "venv", str(env_dir)], check=True, timeout=300)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"  # postBuild's `python` is the new env's
    env["VIRTUAL_ENV"] = str(env_dir)
    py = str(bin_dir / "python")
    # pip reuses its local wheel cache, so this is mostly unpacking
    _run([py, "-m", "pip", "install", "--quiet", "--no-compile", "-r", "binder/requirements.txt"], repo, env)
    _run(["bash", "binder/postBuild"], repo, env)
    out = _run(
        [py, "-c", "import gembatch, gembatch_widgets, papermill, ipywidgets; "
         "print(gembatch.__file__); print(gembatch_widgets.__file__)"],
        tmp_path,
        env,
    )  # fmt: skip
    files = out.split()
    assert files[0].startswith(str(repo)), "gembatch comes from the checkout (postBuild's editable install)"
    assert files[1].startswith(str(repo)), "gembatch_widgets comes from the checkout"
    _run([py, "-m", "pip", "check"], repo, env)
    # and the Binder environment runs the notebook the launch link opens (its own python3 kernel)
    out_nb = tmp_path / "quickstart-on-binder.ipynb"
    _run(
        [py, "-m", "papermill", "notebooks/00_quickstart.ipynb", str(out_nb), "-k", "python3", "--cwd",
         str(tmp_path), "--no-progress-bar", "-p", "n_articles", "5", "-p", "display_mode", "static"],
        repo,
        {**env, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
    )  # fmt: skip
    assert "5 succeeded" in out_nb.read_text()
