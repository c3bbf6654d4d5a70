"""The four faces (CLI, REST, runbook, SubmitPanel) build the same run and quote the same estimate."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gembatch_widgets import SubmitPanel

import gembatch as gb
from gembatch import runbook
from gembatch.cli import main
from gembatch.presentation import formatters as fmt
from gembatch.server import create_app

pytestmark = pytest.mark.slow

TOKEN = "faces-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MODEL = "gemini-2.5-flash-lite"
PROMPT = "Summarise this article for a busy reader:\n\n{text}"
SYSTEM = "You are a careful news editor."
SCHEMA = {"type": "OBJECT", "properties": {"summary": {"type": "STRING"}, "topic": {"type": "STRING"}}}
# One run, stated once per face below.
SETTINGS: dict[str, Any] = {
    "temperature": 0.2,
    "max_output_tokens": 256,
    "expected_output_tokens": 150,
    "chunk_tokens": 1500,
    "budget_usd": 1.0,
    "max_attempts": 2,
    "headroom": 0.8,
}
# Estimate figures every face must agree on.
FIGURES = (
    "articles", "input_tokens", "input_tokens_p50", "input_tokens_p90", "output_tokens", "output_tokens_p90",
    "thinking_tokens", "batch_cost_usd", "batch_cost_usd_p50", "batch_cost_usd_p90", "realtime_cost_usd",
    "realtime_cost_usd_p50", "realtime_cost_usd_p90", "realtime_duration_s",
)  # fmt: skip


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with gb.emulator.running(speed=20_000) as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)  # what the CLI connects to
        yield emu


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "articles.jsonl"
    gb.synthetic_articles(12, mean_chars=1200, seed=5).to_json(data, orient="records", lines=True)
    prompt, system, schema = tmp_path / "prompt.txt", tmp_path / "system.txt", tmp_path / "schema.json"
    prompt.write_text(PROMPT, "utf-8")
    system.write_text(SYSTEM, "utf-8")
    schema.write_text(json.dumps(SCHEMA), "utf-8")
    return {"data": data, "prompt": prompt, "system": system, "schema": schema}


def _flags(settings: dict[str, Any]) -> list[str]:
    names = {"budget_usd": "--budget"}
    out: list[str] = []
    for key, value in settings.items():
        out += [names.get(key, "--" + key.replace("_", "-")), str(value)]
    return out


def _stored(run_dir: Path) -> dict[str, Any]:
    """The run's stored configuration without what names this one run."""
    config = gb.Run.open(run_dir).config.to_dict()
    config.pop("run_id")
    return config


def test_every_face_stores_the_same_run(tmp_path: Path, emu: Any, files: dict[str, Path]) -> None:
    # CLI
    cli_dir = tmp_path / "cli"
    args = ["run", str(files["data"]), "--run-dir", str(cli_dir), "--id-col", "id", "--model", MODEL,
            "--prompt-file", str(files["prompt"]), "--system-file", str(files["system"]),
            "--schema", str(files["schema"]), *_flags(SETTINGS), "--no-wait"]  # fmt: skip
    assert main(args) in (0, 3)  # done, or still in flight after one step

    # REST: the same file uploaded, the texts in the body
    params = {"run_id": "rest", "id_col": "id", "model": MODEL, "prompt": PROMPT,
              "system_instruction": SYSTEM, "schema": SCHEMA, **SETTINGS}  # fmt: skip
    app = create_app(tmp_path / "served", token=TOKEN, client_factory=emu.client, resume=False)
    with TestClient(app) as api:
        resp = api.post(
            "/v1/runs",
            headers=AUTH,
            files={"file": ("articles.jsonl", files["data"].read_bytes())},
            data={"params": json.dumps(params)},
        )
        assert resp.status_code == 201, resp.text

    # runbook: notebook parameters, "" and 0 meaning unset
    request = runbook.request(
        str(files["data"]), id_col="id", model=MODEL, prompt="ignored: the file wins {text}",
        prompt_file=str(files["prompt"]), system_file=str(files["system"]), schema=str(files["schema"]),
        **SETTINGS,
    )  # fmt: skip
    plan = request.plan()
    request.create(tmp_path / "runbook", plan, client=emu.client())

    # SubmitPanel: typed into the form, the rest as RunRequest fields; Submit clicked
    form = {k: v for k, v in SETTINGS.items() if k != "budget_usd"}
    panel = SubmitPanel(
        str(files["data"]), run_dir=tmp_path / "panel", client=emu.client(), model=MODEL, prompt=PROMPT,
        system_instruction=SYSTEM, schema=SCHEMA, budget_usd=SETTINGS["budget_usd"], id_col="id",
        display="widget", **form,
    )  # fmt: skip
    panel.submit_button.click()
    assert panel.run is not None, panel.status.value
    panel.stop()
    panel.run.stop()

    stored = {
        face: _stored(path)
        for face, path in (
            ("cli", cli_dir),
            ("rest", tmp_path / "served" / "rest"),
            ("runbook", tmp_path / "runbook"),
            ("panel", tmp_path / "panel"),
        )
    }
    reference = stored["cli"]
    assert reference["spec"]["prompt"] == PROMPT
    assert reference["spec"]["system_instruction"] == SYSTEM
    assert reference["budget_usd"] == SETTINGS["budget_usd"]
    assert reference["max_attempts"] == SETTINGS["max_attempts"]
    assert reference["headroom"] == SETTINGS["headroom"]
    for face, config in stored.items():
        assert config == reference, face


def test_every_face_quotes_the_same_estimate(
    tmp_path: Path, emu: Any, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    articles = gb.read_articles(files["data"], "id", model=MODEL)
    kwargs = {"prompt": PROMPT, "expected_output_tokens": 150, "max_output_tokens": 256}

    library = gb.estimate(articles, model=MODEL, **kwargs).to_dict()
    plan = gb.plan(articles, MODEL, **kwargs)
    printed = repr(plan.cost)

    capsys.readouterr()
    assert main(["estimate", str(files["data"]), "--id-col", "id", "--model", MODEL, "--prompt", PROMPT,
                 "--expected-output-tokens", "150", "--max-output-tokens", "256", "--json"]) == 0  # fmt: skip
    cli = json.loads(capsys.readouterr().out)

    app = create_app(tmp_path / "served", token=TOKEN, client_factory=emu.client, resume=False)
    with TestClient(app) as api:
        body = {"articles": [json.loads(line) for line in files["data"].read_text().splitlines()],
                "id_col": "id", "model": MODEL, **kwargs}  # fmt: skip
        resp = api.post("/v1/estimate", headers=AUTH, json=body)
        assert resp.status_code == 200, resp.text
        rest = resp.json()["estimate"]

    panel = SubmitPanel(articles, model=MODEL, prompt=PROMPT, display="widget",
                        expected_output_tokens=150, max_output_tokens=256)  # fmt: skip
    shown = panel.summary
    panel_figures = {
        "articles": shown.articles,
        "input_tokens": shown.input_tokens,
        "input_tokens_p50": shown.input_tokens_p50,
        "input_tokens_p90": shown.input_tokens_p90,
        "output_tokens": shown.output_tokens,
        "output_tokens_p90": shown.output_tokens_p90,
        "thinking_tokens": shown.thinking_tokens,
        "batch_cost_usd": shown.batch_usd,
        "batch_cost_usd_p50": shown.batch_usd_p50,
        "batch_cost_usd_p90": shown.batch_usd_p90,
        "realtime_cost_usd": shown.realtime_usd,
        "realtime_cost_usd_p50": shown.realtime_usd_p50,
        "realtime_cost_usd_p90": shown.realtime_usd_p90,
        "realtime_duration_s": shown.realtime_duration_s,
    }

    assert library["realtime_duration_s"] is not None  # the catalogue has this tier's rate limits
    for name in FIGURES:
        expected = library[name]
        assert plan.cost.summary[name] == expected, name
        assert cli[name] == expected, name
        assert rest[name] == pytest.approx(expected), name
        assert panel_figures[name] == expected, name
    # what is printed is formatted by the same formatters
    shown_html = html.unescape(panel.estimate_html.value)  # "$" is "&#36;" in HTML (no MathJax)
    for figure in (fmt.usd(library["batch_cost_usd"]), fmt.usd(library["realtime_cost_usd_p90"])):
        assert figure in printed
        assert figure in shown_html
    assert fmt.duration(library["realtime_duration_s"]) in panel.estimate_html.value
