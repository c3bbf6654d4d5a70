"""Both distributions build, carry the right files and metadata, and work installed from their wheels.

The tests marked ``packaging`` build sdists and wheels with ``python -m build`` (hatchling in an
isolated environment, from pip's cache or the package index), check them with ``twine check``, and
install the wheels, not the checkout, into a fresh virtualenv for a 10-article run on the emulator.
``make package-test`` runs only those; ``make test`` runs them with everything else.
"""

from __future__ import annotations

import csv
import email
import email.message
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import gembatch_widgets
import pytest

import gembatch
from gembatch.cli import main

ROOT = Path(__file__).resolve().parents[1]
DIST = "gembatch-runner"  # `gembatch` on the package index is an unrelated project
WIDGETS_DIST = "gembatch-runner-widgets"
TIMEOUT_S = 900


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _shipped_files(package: Path) -> set[str]:
    """Every file of a package directory a wheel must carry (all but bytecode), relative to its parent."""
    return {
        p.relative_to(package.parent).as_posix()
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


# --- fast checks of the sources (no build) ---


def test_one_version_everywhere(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"gembatch {gembatch.__version__}"
    assert gembatch_widgets.__version__ == gembatch.__version__


def test_server_reports_the_version(tmp_path: Path):
    from gembatch.server import create_app

    assert create_app(tmp_path, token="t" * 32).version == gembatch.__version__


def test_widgets_license_is_the_repository_license():
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert (ROOT / "widgets" / "LICENSE").read_text() == license_text


def test_both_packages_are_typed():
    assert (ROOT / "gembatch" / "py.typed").is_file()
    assert (ROOT / "widgets" / "gembatch_widgets" / "py.typed").is_file()


def test_changelog_has_unreleased_and_the_current_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    assert headings[0] == "Unreleased", headings
    assert gembatch.__version__ in headings, f"CHANGELOG.md has no section for {gembatch.__version__}"


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("name", ["CHANGELOG.md", "CONTRIBUTING.md"])
def test_release_documents_point_at_what_exists(name: str):
    text = (ROOT / name).read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = ROOT / file_part
        assert dest.exists(), f"{name}: {target} points at a missing file"
        if anchor:
            anchors = {_slug(h) for h in re.findall(r"^#{1,6}\s+(.+)$", dest.read_text(), re.M)}
            assert anchor in anchors, f"{name}: no heading #{anchor} in {file_part}"
    make_targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    for target in re.findall(r"`make ([a-z][\w-]*)", text):
        assert target in make_targets, f"{name} names `make {target}`, which the Makefile lacks"


# --- built distributions ---


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    for project in (ROOT, ROOT / "widgets"):  # the sdist, then the wheel built from that sdist
        _run([sys.executable, "-m", "build", "--outdir", str(out), str(project)], ROOT)
    return out


def _one(dist_dir: Path, pattern: str) -> Path:
    found = sorted(dist_dir.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {dist_dir}, found {[p.name for p in found]}"
    return found[0]


@pytest.mark.packaging
@pytest.mark.slow
def test_twine_accepts_all_four(dist_dir: Path):
    files = sorted(dist_dir.iterdir())
    assert len(files) == 4, [p.name for p in files]  # an sdist and a wheel of each distribution
    out = _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)], ROOT)
    assert out.count("PASSED") == 4, out


@pytest.mark.packaging
@pytest.mark.slow
def test_wheel_contents(dist_dir: Path):
    version = gembatch.__version__
    for pattern, package in (
        (f"gembatch_runner-{version}-py3-none-any.whl", ROOT / "gembatch"),
        (f"gembatch_runner_widgets-{version}-py3-none-any.whl", ROOT / "widgets" / "gembatch_widgets"),
    ):
        wheel = _one(dist_dir, pattern)
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
        info = f"{pattern.split('-py3')[0]}.dist-info"
        payload = {n for n in names if not n.startswith(f"{info}/")}
        # the whole package, data included (catalog.toml, the emulator, py.typed), and nothing else
        assert payload == _shipped_files(package), f"{wheel.name}: {payload ^ _shipped_files(package)}"
        assert f"{package.name}/py.typed" in payload
        assert f"{info}/licenses/LICENSE" in names
        assert not any(n.startswith("tests/") or "/tests/" in n for n in names)
    core = _one(dist_dir, "gembatch_runner-*.whl")
    with zipfile.ZipFile(core) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(f"gembatch_runner-{version}.dist-info/entry_points.txt").decode()
    wanted = {"gembatch/planning/catalog.toml", "gembatch/emulator/__init__.py"}
    wanted.add("gembatch/server/__init__.py")
    assert wanted <= names
    assert "gembatch = gembatch.cli:main" in entry_points


@pytest.mark.packaging
@pytest.mark.slow
def test_wheel_metadata(dist_dir: Path):
    core = _wheel_metadata(_one(dist_dir, "gembatch_runner-*.whl"))
    widgets = _wheel_metadata(_one(dist_dir, "gembatch_runner_widgets-*.whl"))
    for meta, name in ((core, DIST), (widgets, WIDGETS_DIST)):
        assert meta["Name"] == name
        assert meta["Version"] == gembatch.__version__
        assert meta["License-Expression"] == "Apache-2.0"
        assert meta["Requires-Python"] == ">=3.11"
        assert meta["Description-Content-Type"] == "text/markdown"
    assert DIST in widgets.get_all("Requires-Dist"), "the widgets depend on the core distribution"


@pytest.mark.packaging
@pytest.mark.slow
def test_sdist_contents(dist_dir: Path):
    version = gembatch.__version__
    for name, must_have in (
        (
            f"gembatch_runner-{version}",
            {"gembatch/py.typed", "gembatch/planning/catalog.toml", "CHANGELOG.md"},
        ),
        (f"gembatch_runner_widgets-{version}", {"gembatch_widgets/py.typed"}),
    ):
        with tarfile.open(_one(dist_dir, f"{name}.tar.gz")) as tf:
            members = {m.name.removeprefix(f"{name}/") for m in tf.getmembers()}
        assert must_have | {"PKG-INFO", "pyproject.toml", "README.md", "LICENSE"} <= members, name
        assert not any(m.startswith("tests/") for m in members), name


@pytest.mark.packaging
@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S)  # a cold pip cache downloads every dependency once
def test_wheels_work_in_a_fresh_virtualenv(dist_dir: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    bin_dir = venv / "bin"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "GEMINI_API_KEY", "GOOGLE_API_KEY")
        and not k.startswith(("GEMBATCH_", "GOOGLE_GEMINI_"))
    }  # no key: the run goes to the emulator
    env |= {"PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(venv)}
    env |= {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env["GEMBATCH_CACHE_DIR"] = str(tmp_path / "response-cache")  # never the user's own cache
    py = str(bin_dir / "python")
    wheels = [str(_one(dist_dir, f"{stem}-*.whl")) for stem in ("gembatch_runner", "gembatch_runner_widgets")]
    # pip reuses its local cache, so the dependencies are mostly unpacked, not downloaded
    _run([py, "-m", "pip", "install", "--quiet", "--no-compile", *wheels], tmp_path, env)
    _run([py, "-m", "pip", "check"], tmp_path, env)

    work = tmp_path / "work"  # outside the checkout, so nothing can come from the source tree
    work.mkdir()
    out = _run(
        [py, "-c", "import gembatch, gembatch_widgets; "
         "print(gembatch.__file__); print(gembatch_widgets.__file__); print(gembatch_widgets.__version__)"],
        work,
        env,
    )  # fmt: skip
    core_file, widgets_file, widgets_version = out.split()
    assert core_file.startswith(str(venv)), out
    assert widgets_file.startswith(str(venv)), out
    assert widgets_version == gembatch.__version__

    gembatch_cmd = str(bin_dir / "gembatch")
    assert _run([gembatch_cmd, "--version"], work, env).strip() == f"gembatch {gembatch.__version__}"
    _run([gembatch_cmd, "datasets", "synth", "10", "-o", "articles.jsonl"], work, env)
    prompt = "Summarise in one sentence: {text}"
    run_out = _run([gembatch_cmd, "run", "articles.jsonl", "--run-dir", "run", "--prompt", prompt], work, env)
    assert "10 succeeded" in run_out, run_out
    _run([gembatch_cmd, "results", "run", "-o", "results.csv"], work, env)
    with (work / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10
    assert {row["status"] for row in rows} == {"succeeded"}
    assert all(row["output_text"] for row in rows)
