"""Display modes and the mimebundle: widget view, escaped snapshot, plain text, refreshed handles."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from gembatch_widgets import DISPLAY_ENV, SubmitPanel, resolve_display

import gembatch as gb

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def test_resolve_display_prefers_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(DISPLAY_ENV, raising=False)
    assert resolve_display() == "auto"
    monkeypatch.setenv(DISPLAY_ENV, "Static")
    assert resolve_display() == "static"
    assert resolve_display("widget") == "widget"
    monkeypatch.setenv(DISPLAY_ENV, "fancy")
    with pytest.raises(gb.InputError, match=r"\$GEMBATCH_DISPLAY='fancy'.*auto, widget, static"):
        resolve_display()
    with pytest.raises(gb.InputError, match="display='x'"):
        resolve_display("x")


@pytest.mark.parametrize(
    ("mode", "keys"),
    [
        ("auto", {"text/plain", "text/html", WIDGET_MIME}),
        ("widget", {"text/plain", WIDGET_MIME}),
        ("static", {"text/plain", "text/html"}),
    ],
)
def test_mimebundle_per_mode(articles: pd.DataFrame, mode: str, keys: set[str]):
    panel = SubmitPanel(articles, display=mode)
    bundle = panel._repr_mimebundle_()
    assert set(bundle) == keys
    assert "gembatch submit" in bundle["text/plain"]
    assert "12 articles" in bundle["text/plain"]
    if WIDGET_MIME in bundle:
        assert bundle[WIDGET_MIME]["model_id"] == panel.widget.model_id
    if "text/html" in bundle:
        assert "batch cost" in bundle["text/html"]
    # once finished, auto keeps only the snapshot (a saved widget view exports as an empty cell)
    final = panel._repr_mimebundle_(final=True)
    assert (WIDGET_MIME in final) is (mode == "widget")


def test_environment_variable_picks_the_mode(monkeypatch, articles: pd.DataFrame):
    monkeypatch.setenv(DISPLAY_ENV, "static")
    assert WIDGET_MIME not in SubmitPanel(articles)._repr_mimebundle_()


def test_snapshot_escapes_user_text(articles: pd.DataFrame):
    panel = SubmitPanel(articles, prompt="<script>alert(1)</script> {text}", display="static")
    html = panel._repr_mimebundle_()["text/html"]
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


class _Handle:
    def __init__(self, bundle: dict[str, Any]):
        self.bundles = [bundle]

    def update(self, bundle: dict[str, Any], raw: bool = False) -> None:
        assert raw
        self.bundles.append(bundle)


def test_display_handle_is_refreshed_only_when_the_state_changes(monkeypatch, articles: pd.DataFrame):
    handles: list[_Handle] = []

    def fake_display(bundle: dict[str, Any], raw: bool = False, display_id: Any = None) -> _Handle:
        assert raw
        assert display_id is True
        handles.append(_Handle(bundle))
        return handles[-1]

    monkeypatch.setattr("IPython.display.display", fake_display)
    panel = SubmitPanel(articles, display="auto")
    panel._ipython_display_()
    assert len(handles) == 1
    assert not panel.refresh_display()  # nothing changed
    panel.budget.value = 1e-7  # over budget: a state change
    assert panel.refresh_display()
    assert "over budget" in handles[0].bundles[-1]["text/html"]
    assert not panel.refresh_display()
    assert panel.refresh_display(force=True)


def test_handle_is_refreshed_after_each_cell_through_post_execute(monkeypatch, articles: pd.DataFrame):
    from IPython.core.interactiveshell import InteractiveShell

    handles: list[_Handle] = []
    monkeypatch.setattr(
        "IPython.display.display", lambda b, raw, display_id: handles.append(_Handle(b)) or handles[-1]
    )
    shell = InteractiveShell.instance()
    try:
        panel = SubmitPanel(articles, display="static")
        panel._ipython_display_()
        shell.events.trigger("post_execute")
        assert len(handles[0].bundles) == 1  # unchanged: nothing sent
        panel.budget.value = 1e-7  # e.g. changed in the page while no cell ran
        shell.events.trigger("post_execute")  # the next cell finishes
        assert len(handles[0].bundles) == 2
        assert "over budget" in handles[0].bundles[-1]["text/html"]
        panel._remove_hook()
        panel.budget.value = 0.0
        shell.events.trigger("post_execute")
        assert len(handles[0].bundles) == 2
    finally:
        InteractiveShell.clear_instance()


def test_widget_state_embeds_without_a_front_end(articles: pd.DataFrame):
    from ipywidgets.embed import dependency_state, embed_data

    panel = SubmitPanel(articles)
    state = dependency_state(panel.widget, drop_defaults=False)  # this panel's widgets only
    data = embed_data(views=[panel.widget], state=state)
    assert data["view_specs"][0]["model_id"] == panel.widget.model_id
    states = data["manager_state"]["state"].values()
    submit = [s["state"] for s in states if "gb-submit" in s["state"].get("_dom_classes", ())]
    assert len(submit) == 1
    assert submit[0]["description"] == "Submit"
    assert not submit[0]["disabled"]
