"""The Mermaid state machines in docs/architecture.md list exactly the states the code defines."""

from __future__ import annotations

from docsupport import ROOT, mermaid_state_diagrams

from gembatch.runs import states
from gembatch.runs.summary import RUN_STATES

DIAGRAMS = mermaid_state_diagrams(ROOT / "docs" / "architecture.md")


def _run_states() -> set[str]:
    """The run states a summary can report (``gembatch.runs.summary.RUN_STATES``)."""
    return set(RUN_STATES)


def test_chunk_machine_matches_states_py() -> None:
    assert "chunk" in DIAGRAMS, "docs/architecture.md needs a stateDiagram-v2 block with `%% machine: chunk`"
    drawn, edges = DIAGRAMS["chunk"]
    assert drawn == {s.value for s in states.State}
    legal = {(a.value, b.value) for a, targets in states._LEGAL.items() for b in targets}
    assert edges == legal, f"missing {sorted(legal - edges)}, extra {sorted(edges - legal)}"


def test_run_machine_matches_summary_states() -> None:
    assert "run" in DIAGRAMS, "docs/architecture.md needs a stateDiagram-v2 block with `%% machine: run`"
    drawn, _ = DIAGRAMS["run"]
    assert drawn == _run_states()


def test_module_map_names_every_module() -> None:
    """A module added to gembatch/ shows up in the architecture's module map (or this test says so)."""
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    table = text[text.index("Module map") : text.index("## The run")]
    package = ROOT / "gembatch"
    modules = {p.stem for p in package.glob("*.py") if not p.stem.startswith("_")}
    packages = [p for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    modules |= {f"{p.name}/" for p in packages}
    # the layers' modules are public: each is named as package/module
    modules |= {
        f"{p.name}/{m.stem}" for p in packages for m in p.glob("*.py") if not m.stem.startswith("_")
    }
    missing = sorted(m for m in modules if f"`{m}`" not in table)
    assert not missing, f"docs/architecture.md module map lacks {missing}"
