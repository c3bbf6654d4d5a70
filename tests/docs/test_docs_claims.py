"""What the docs claim, checked against the code: modules named exist, functions take the keywords
shown, example values are accepted, the API's open endpoints are the ones the README names, no
placeholder links, no undefined names in examples, and the run diagram's cancel edge."""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
from docsupport import ROOT, blocks, doc_files, mermaid_state_diagrams

import gembatch as gb

ARCH = (ROOT / "docs" / "architecture.md").read_text("utf-8")
GUIDE = (ROOT / "docs" / "guide.md").read_text("utf-8")
README = (ROOT / "README.md").read_text("utf-8")
ALL_DOCS = [*doc_files(), ROOT / "widgets" / "README.md"]


def test_modules_named_in_the_module_map_exist() -> None:
    table = ARCH[ARCH.index("Module map") : ARCH.index("## The run")]
    named = set(re.findall(r"`(\w+/_?\w+)`", table))
    assert len(named) > 40
    pkg = ROOT / "gembatch"
    missing = [m for m in sorted(named) if not (pkg / f"{m}.py").exists() and not (pkg / m).is_dir()]
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_the_emulator_is_described_with_the_framework_it_uses() -> None:
    section = ARCH[ARCH.index("## The emulator's model") :].split("\n## ", 1)[0]
    sources = "\n".join(p.read_text("utf-8") for p in (ROOT / "gembatch" / "emulator").glob("*.py"))
    for framework, module in (("FastAPI", "fastapi"), ("Starlette", "starlette"), ("Flask", "flask")):
        if framework in section:
            used = re.search(rf"^\s*(from|import) {module}\b", sources, re.M)
            assert used, f"docs/architecture.md: the emulator uses no {framework}"
    if "http.server" in section:
        assert "from http.server import" in sources


_CALL = re.compile(r"`gb\.([\w.]+)\(([^`]*)\)`")


def _calls(text: str) -> list[tuple[str, list[str]]]:
    out = []
    for name, args in _CALL.findall(text):
        out.append((name, re.findall(r"(?<![\w.])(\w+)=", args)))
    return out


@pytest.mark.parametrize("path", ALL_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_keywords_shown_in_prose_exist(path: Path) -> None:
    """`gb.f(a=..., b=...)` written in prose names parameters that ``gb.f`` really has."""
    for name, keywords in _calls(path.read_text("utf-8")):
        target: Any = gb
        for part in name.split("."):
            target = getattr(target, part, None)
            assert target is not None, f"{path.name}: gb.{name} does not exist"
        params = inspect.signature(target).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for kw in keywords:
            assert kw in params or takes_any, f"{path.name}: gb.{name}() has no parameter {kw}="


SIGNATURES = (
    "gb.connect(api_key=None, *, base_url=None, prefer=None, backend=None, **options)",
    "gb.read_articles(source, id_col=None, text_col=None, *, model=None, catalog=None, estimator=None)",
)


@pytest.mark.parametrize("shown", SIGNATURES)
def test_the_guide_shows_the_real_signatures(shown: str) -> None:
    assert f"`{shown}`" in GUIDE, f"the guide should show {shown}"
    name = shown[3 : shown.index("(")]
    sig = inspect.signature(getattr(gb, name))
    rendered = ", ".join(
        ("*, " if p.kind is p.KEYWORD_ONLY and i == _first_kw(sig) else "")
        + ("**" if p.kind is p.VAR_KEYWORD else "")
        + (p.name if p.default is p.empty else f"{p.name}={p.default!r}")
        for i, p in enumerate(sig.parameters.values())
    )
    assert shown == f"gb.{name}({rendered})", f"the code's signature is gb.{name}({rendered})"


def _first_kw(sig: inspect.Signature) -> int:
    return next(i for i, p in enumerate(sig.parameters.values()) if p.kind is p.KEYWORD_ONLY)


_CHOICES = re.compile(r"^(\w+): \w+ = .*#[^:]*: ([\w-]+(?: \| [\w-]+)+)", re.M)


def _notebook_choices() -> list[tuple[str, str, str]]:
    out = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text("utf-8"))["cells"]
        for cell in cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                source = "".join(cell["source"])
                for name, choices in _CHOICES.findall(source):
                    out += [(nb.stem, name, c) for c in choices.split(" | ")]
    return out


@pytest.mark.parametrize(
    ("notebook", "name", "value"), [c for c in _notebook_choices() if c[1] in ("tier", "policy", "mode")]
)
def test_notebook_parameter_choices_are_accepted_by_the_planner(notebook: str, name: str, value: str) -> None:
    articles = gb.synthetic_articles(3, mean_chars=300)
    request = gb.RunRequest(inputs=articles, id_col="id", model="gemini-3.5-flash-lite", **{name: value})
    assert len(request.plan().chunks) >= 1, f"{notebook}: {name}={value!r} is offered but refused"


def test_the_readme_names_exactly_the_endpoints_open_without_a_token(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from gembatch.server import create_app

    paragraph = next(p for p in README.split("\n\n") if "Authorization: Bearer <token>" in p)
    claimed = set(re.findall(r"`(/[\w./-]*)`", paragraph))
    app = create_app(tmp_path, token="t", resume=False)
    with TestClient(app) as api:
        opened = set()
        for route in app.routes:
            path = getattr(route, "path", "")
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                url = path.replace("{run_id}", "r").replace("{job_id}", "j")
                if api.request(method, url).status_code != 401:
                    opened.add(path)
    assert opened == claimed, f"open without a token: {sorted(opened)}; the README says {sorted(claimed)}"
    assert all(p in ARCH for p in claimed), "docs/architecture.md's security section disagrees"


@pytest.mark.parametrize("path", ALL_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_placeholder_links(path: Path) -> None:
    links = re.findall(r"\]\((https?://[^)\s]+)\)|<(https?://[^>\s]+)>", path.read_text("utf-8"))
    for link in (a or b for a, b in links):
        placeholder = re.search(r"/(OWNER|USER|ORG|YOUR[_-]?\w*|<\w+>)/", link)
        assert not placeholder, f"{path.name}: placeholder in {link}"


@pytest.mark.parametrize("path", ALL_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_use_no_undefined_names(path: Path) -> None:
    """A reader's session: each block may use what earlier blocks of the same page defined."""
    defined = set(dir(builtins)) | {"__name__", "__file__", "display", "get_ipython"}
    for block in blocks(path):
        if block.lang != "python":
            continue
        tree = ast.parse(block.code)
        bound = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                bound.add(node.id)
            elif isinstance(node, ast.alias):
                bound.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef | ast.ExceptHandler):
                bound.add(node.name or "")
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
        defined |= bound
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        undefined = sorted(used - defined)
        assert not undefined, f"{block.where}: {undefined} used but never defined on this page"


@pytest.mark.slow
def test_the_run_diagram_says_what_cancel_does_to_a_done_run(tmp_path: Path) -> None:
    _, edges = mermaid_state_diagrams(ROOT / "docs" / "architecture.md")["run"]
    with gb.emulator.running(speed=50_000) as emu:
        request = gb.RunRequest(inputs=gb.synthetic_articles(2, mean_chars=300), id_col="id",
                                model="gemini-3.5-flash-lite")  # fmt: skip
        run = request.plan_and_create(tmp_path / "run", client=emu.client())
        assert run.wait(timeout=120, progress=False)
        assert run.summary().state == "done"
        run.cancel()
        run.step()
        after = run.summary().state
    assert (("done", "cancelled") in edges) == (after == "cancelled"), f"cancel() on a done run: {after}"
