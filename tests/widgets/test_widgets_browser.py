"""Real browser: JupyterLab on 127.0.0.1, Debian's chromium via Playwright; click Submit, see it finish."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

FIXTURE = Path(__file__).parent / "fixtures" / "panels.ipynb"
MONITOR_FIXTURE = Path(__file__).parent / "fixtures" / "monitor.ipynb"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets"
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
# Chromium's own background traffic is refused on this closed network; keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 120_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _chromium() -> str | None:
    found = [p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)]
    return found[0] if found else shutil.which("chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab on a random loopback port with a token, serving a copy of the fixture notebook."""
    root = tmp_path / "lab"
    root.mkdir()
    for notebook in (FIXTURE, MONITOR_FIXTURE):
        shutil.copy(notebook, root / notebook.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    log = tmp_path / "jupyterlab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
        "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Lab(url=url, token=token, root=root, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _dismiss(button: Any, timeout_ms: float = 3000) -> None:
    """Click ``button`` if it shows up within ``timeout_ms`` (optional dialogs and toasts)."""
    with contextlib.suppress(PlaywrightTimeout):
        button.click(timeout=timeout_ms)


def _run_all(page: Any) -> None:
    """Wait for an idle kernel (status bar "<kernel> | Idle"), then Run > Run All Cells."""
    expect(page.get_by_text(re.compile(r"\| Idle$")).first).to_be_visible()
    _dismiss(page.get_by_role("button", name="No", exact=True), 1000)  # the "Jupyter news?" toast
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # a kernel still settling makes Lab ask which kernel to use: accept its preferred one
    _dismiss(page.get_by_role("button", name="Select Kernel", exact=True))


_PROGRESS_JS = """() => {
  const rows = [...document.querySelectorAll('.gb-monitor tr')];
  const row = rows.find(r => r.textContent.startsWith('articles'));
  const img = document.querySelector('img.gb-monitor-chart');
  const status = document.querySelector('.gb-monitor-status');
  return [row ? row.textContent : '', img ? img.src : '', status ? status.textContent : ''];
}"""


def _watch_until_done(page: Any, timeout_s: float = 120.0) -> tuple[list[str], set[str]]:
    """Sample the monitor in the page until its status says done; return the progress and charts seen."""
    progress: list[str] = []
    charts: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row, src, status = page.evaluate(_PROGRESS_JS)
        if row and (not progress or progress[-1] != row):
            progress.append(row)
        if src:
            charts.add(src)
        if status.startswith("done"):
            break
        page.wait_for_timeout(100)
    return progress, charts


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture
def chromium() -> str:
    """Debian's chromium; the test is skipped, saying why, only where it is not installed."""
    path = _chromium()
    if path is None:
        pytest.skip("chromium is not installed and could not be (make browser-deps needs root + apt-get)")
    return path


def test_jupyterlab_submit_click_runs_to_done_with_chart(chromium: str, lab: Lab):
    expect.set_options(timeout=TIMEOUT_MS)
    (ARTIFACTS / "99-failure.png").unlink(missing_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(f"{lab.url}/lab/tree/{FIXTURE.name}?token={lab.token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
            submit = page.locator("button.gb-submit")
            for attempt in range(3):  # Run All sent while the kernel still connects can be lost: retry
                _run_all(page)
                try:
                    expect(submit).to_be_visible(timeout=60_000)
                    break
                except AssertionError:
                    if attempt == 2:
                        raise
            expect(submit).to_be_enabled()
            estimate = page.locator(".gb-submit-estimate")
            expect(estimate).to_contain_text("batch cost")
            _scroll_to(page, ".gb-submit-model")
            _shot(page, "01-submit-panel.png")

            # the estimate follows the inputs: a dearer model, then back
            cost = estimate.locator("tr", has_text="batch cost").locator("td")
            before = cost.inner_text()
            model = page.locator(".gb-submit-model select")
            chosen = model.input_value()  # the panel's default model
            model.select_option("gemini-2.5-pro")
            expect(cost).not_to_have_text(before)
            model.select_option(chosen)
            expect(cost).to_have_text(before)

            submit.click()
            status = page.locator(".gb-monitor-status")
            expect(status).to_be_visible()
            _shot(page, "02-monitor-running.png")
            progress, charts = _watch_until_done(page)
            assert len(progress) >= 2, progress  # e.g. "0 / 12 done" … "12 / 12 done"
            assert len(charts) >= 2  # the chart image was replaced as the run went on
            expect(status).to_contain_text("done")
            chart = page.locator("img.gb-monitor-chart").first
            expect(chart).to_be_visible()
            page.wait_for_function("document.querySelector('img.gb-monitor-chart').naturalWidth > 0")
            expect(page.locator(".gb-monitor")).to_contain_text("12 / 12 done")
            chart.scroll_into_view_if_needed()
            _shot(page, "03-monitor-done.png")
        except Exception:
            _shot(page, "99-failure.png")
            raise
        finally:
            browser.close()


_HEAD_JS = """() => {
  const cell = name => {
    const td = document.querySelector('.gb-monitor .gb-head-' + name);
    return td ? td.innerText.replace(/\\s+/g, ' ').trim() : '';
  };
  const badge = document.querySelector('.gb-monitor .gb-badge');
  return {done: cell('done'), failed: cell('failed'), elapsed: cell('elapsed'),
          badge: badge ? badge.innerText : ''};
}"""

_CHART_JS = """() => [...document.querySelectorAll('img.gb-monitor-chart')].map(img => ({
  shown: img.clientWidth, natural: img.naturalWidth, top: img.getBoundingClientRect().top,
  cell: img.closest('.jp-Cell') ? img.closest('.jp-Cell').clientWidth : 0}))"""


def _open_and_run(page: Any, lab: Lab, name: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    for attempt in range(3):  # Run All sent while the kernel still connects can be lost: retry
        _run_all(page)
        try:
            expect(page.locator(".gb-monitor").first).to_be_visible(timeout=60_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def _head(page: Any) -> dict[str, str]:
    return dict(page.evaluate(_HEAD_JS))


def _wait_head(page: Any, predicate: Any, timeout_s: float = 90.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    head = _head(page)
    while not predicate(head):
        if time.monotonic() > deadline:
            raise AssertionError(f"the headline never showed what was expected: {head}")
        page.wait_for_timeout(150)
        head = _head(page)
    return head


def _charts_are_readable(page: Any) -> list[dict[str, float]]:
    """Every chart at its real size (never a shrunken thumbnail), drawn at 2x, inside its cell."""
    page.wait_for_function(
        "[...document.querySelectorAll('img.gb-monitor-chart')].every(i => i.naturalWidth > 0)"
    )
    charts = list(page.evaluate(_CHART_JS))
    assert len(charts) == 5, charts
    for size in charts:
        assert size["shown"] >= 300, size
        assert size["shown"] <= size["cell"], size
        assert size["natural"] >= 1.8 * size["shown"], size  # sharp on dense screens
    return charts


def _theme(page: Any, name: str) -> None:
    """Settings > Theme > ``name``, as a user picks it."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{name}$")).first.click()
    page.wait_for_function(f"() => document.body.dataset.jpThemeName === '{name}'", timeout=30_000)
    page.wait_for_timeout(500)


def _scroll_to(page: Any, selector: str) -> None:
    """Scroll ``selector`` into view; a display update may replace it meanwhile, so try again."""
    for attempt in range(5):
        try:
            page.locator(selector).first.scroll_into_view_if_needed(timeout=5000)
            return
        except Exception:
            if attempt == 4:
                raise
            page.wait_for_timeout(300)


def test_jupyterlab_monitor_shows_failures_the_stall_and_a_frozen_eta(chromium: str, lab: Lab):
    expect.set_options(timeout=TIMEOUT_MS)
    (ARTIFACTS / "99-monitor-failure.png").unlink(missing_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=2)
        page.set_default_timeout(TIMEOUT_MS)
        try:
            _open_and_run(page, lab, MONITOR_FIXTURE.name)
            monitor = page.locator(".gb-monitor").first

            # the stall: the first creation was refused; the badge says so, with the reason
            head = _wait_head(page, lambda h: h["badge"].startswith("backing off"), 60)
            assert "quota" in head["badge"], head
            expect(monitor.locator(".gb-last-event")).to_contain_text("refused")
            _scroll_to(page, ".gb-monitor")
            _shot(page, "10-monitor-backing-off.png")

            # some articles done, an ETA range on screen: pause, and the ETA stands still
            head = _wait_head(page, lambda h: "ETA" in h["elapsed"] and "first results" not in h["elapsed"])
            monitor.get_by_role("button", name="Pause").click()
            head = _wait_head(page, lambda h: h["badge"] == "paused" and "(paused)" in h["elapsed"], 30)
            eta = head["elapsed"].split("ETA", 1)[1]
            page.wait_for_timeout(3000)  # several refreshes; jobs in flight still land
            later = _head(page)
            assert later["elapsed"].split("ETA", 1)[1] == eta, (head, later)
            _shot(page, "11-monitor-paused.png")
            monitor.get_by_role("button", name="Resume").click()

            # the end: failures counted apart, in red, with their reason
            head = _wait_head(page, lambda h: h["badge"].startswith("done"), 120)
            failed = int(head["failed"].split()[1].replace(",", ""))
            assert failed > 0, head
            assert head["badge"] == f"done · {failed} failed"
            done, total = (int(x.replace(",", "")) for x in head["done"].split()[1:4:2])
            assert done == total, head
            failures = monitor.locator(".gb-monitor-failures")
            expect(failures).to_contain_text("400")
            expect(failures).to_contain_text("run.results()")
            expect(failures).to_contain_text(f"{failed} article")
            big = ".gb-monitor .gb-head-failed span:nth-of-type(2)"
            red = page.evaluate(f"getComputedStyle(document.querySelector('{big}')).color")
            assert red == "rgb(229, 57, 53)", red

            # amounts stay amounts: MathJax touched nothing, in the widget or the static snapshot
            assert page.locator("mjx-container, .MathJax, .MathJax_Display").count() == 0
            texts = page.locator(".gb-repr").all_inner_texts()
            assert any(re.search(r"\$\d", t) for t in texts)
            assert not any("(p90" in t and "$" not in t for t in texts)
            wide = _charts_are_readable(page)
            assert len({round(c["top"]) for c in wide}) <= 3  # side by side at 1400 px
            _scroll_to(page, "img.gb-monitor-chart")
            _shot(page, "12-monitor-done-light.png")

            _theme(page, "JupyterLab Dark")
            _scroll_to(page, "img.gb-monitor-chart")
            assert [c["shown"] for c in _charts_are_readable(page)] == [c["shown"] for c in wide]
            _shot(page, "13-monitor-done-dark.png")

            page.set_viewport_size({"width": 900, "height": 1000})
            page.wait_for_timeout(500)
            _scroll_to(page, "img.gb-monitor-chart")
            narrow = _charts_are_readable(page)  # the same real size: they wrap instead of shrinking
            assert len({round(c["top"]) for c in narrow}) > len({round(c["top"]) for c in wide})
            _shot(page, "14-monitor-900px-dark.png")
            _theme(page, "JupyterLab Light")
        except Exception:
            _shot(page, "99-monitor-failure.png")
            raise
        finally:
            browser.close()
