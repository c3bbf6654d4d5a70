"""Exported notebooks keep the monitor's numbers: nbconvert of an executed quickstart, a sanitiser."""

from __future__ import annotations

import html
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import bleach
import nbformat
import papermill
import pytest
from bleach.css_sanitizer import CSSSanitizer
from nbconvert import HTMLExporter

from gembatch.presentation import formatters as fmt

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "00_quickstart.ipynb"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# GitHub's notebook and markdown sanitiser (html-pipeline's allow-list): no <style>, no class,
# no style attribute, no script; tables, details and images stay.
GITHUB_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "br", "b", "i", "strong", "em", "a", "pre", "code",
    "img", "tt", "div", "ins", "del", "sup", "sub", "p", "ol", "ul", "table", "thead", "tbody", "tfoot",
    "blockquote", "dl", "dt", "dd", "kbd", "q", "samp", "var", "hr", "ruby", "rt", "rp", "li", "tr",
    "td", "th", "s", "strike", "summary", "details", "caption", "figure", "figcaption", "abbr", "bdo",
    "cite", "dfn", "mark", "small", "span", "time", "wbr",
}  # fmt: skip
GITHUB_ALL = [
    "abbr", "accept", "align", "alt", "axis", "border", "cellpadding", "cellspacing", "char", "charoff",
    "clear", "colspan", "color", "compact", "coords", "datetime", "dir", "disabled", "headers", "height",
    "hspace", "label", "lang", "nowrap", "open", "rowspan", "rules", "scope", "span", "start", "summary",
    "title", "type", "valign", "value", "vspace", "width",
]  # fmt: skip
GITHUB_ATTRIBUTES = {"*": GITHUB_ALL, "a": ["href", *GITHUB_ALL], "img": ["src", *GITHUB_ALL]}


class _Text(HTMLParser):
    """The text a reader sees (scripts and styles left out), whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _visible(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The quickstart executed by papermill in the default display mode, and its run's summary."""
    root = tmp_path_factory.mktemp("quickstart")
    out = root / "quickstart.ipynb"
    run_dir = root / "run"
    papermill.execute_notebook(
        str(QUICKSTART), str(out), parameters={"run_dir": str(run_dir), "n_articles": 12},
        kernel_name="python3", cwd=str(root), progress_bar=False,
    )  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(out, ARTIFACTS / "quickstart-executed.ipynb")
    return {"nb": nbformat.read(out, as_version=4), "path": out}


def _panel_html(nb: Any) -> str:
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip().endswith("\npanel"):
            (output,) = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
            assert WIDGET_VIEW not in output["data"]  # no front end: the snapshot only
            return str(output["data"]["text/html"])
    raise AssertionError("the quickstart has no panel cell")


def _figures(nb: Any) -> dict[str, str]:
    """The run's numbers as the notebook's own last cell printed them (read from the ledger)."""
    printed = "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream"
    )
    match = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) pending; cost \$([\d.]+)", printed)
    assert match, printed[-2000:]
    succeeded, failed, pending, cost = match.groups()
    total = int(succeeded) + int(failed) + int(pending)
    return {
        "done": f"{fmt.count(int(succeeded) + int(failed))} / {fmt.count(total)}",
        "failed": f"{failed} failed",
        "cost": fmt.usd(float(cost)),
    }


@pytest.mark.slow
def test_nbconvert_export_of_the_executed_quickstart_shows_the_snapshot_and_its_numbers(executed):
    nb = executed["nb"]
    page, _ = HTMLExporter().from_notebook_node(nb)
    (ARTIFACTS / "quickstart-executed.html").write_text(page)
    snapshot = _panel_html(nb)
    assert "tex2jax_ignore" in snapshot
    assert "mathjax_ignore" in snapshot
    assert "$" not in snapshot  # amounts are &#36;: no MathJax pairing, whatever typesets the page
    assert "data:image/png;base64," in snapshot
    assert f'<script type="{WIDGET_VIEW}">' not in page  # no view the widget manager's script must render
    text = _visible(page)
    figures = _figures(nb)
    assert figures["done"] in text, figures
    assert figures["cost"] in text
    assert "gembatch run" in text
    assert re.search(r"FAILED \d+", text.upper())  # the failed count is named, even when 0


@pytest.mark.slow
def test_snapshot_survives_a_github_like_sanitiser(executed):
    nb = executed["nb"]
    snapshot = _panel_html(nb)
    clean = bleach.clean(
        snapshot, tags=GITHUB_TAGS, attributes=GITHUB_ATTRIBUTES, protocols=["http", "https", "data"],
        strip=True, css_sanitizer=CSSSanitizer(allowed_css_properties=[]),
    )  # fmt: skip
    (ARTIFACTS / "quickstart-snapshot-sanitised.html").write_text(clean)
    assert "style=" not in clean  # everything the sanitiser strips is gone
    assert "class=" not in clean
    text = _visible(clean)
    figures = _figures(nb)
    assert figures["done"] in text, text[:2000]
    assert figures["cost"] in text
    state = re.search(r"gembatch run .*? (done|running|backing off|paused|budget reached)", text)
    assert state, text[:500]  # the badge's words are still there without its colour
    assert "0 failed" in text or figures["failed"] in text
    assert "ETA" in text or "finished" in text
    assert html.unescape(snapshot).count("·") > 3
