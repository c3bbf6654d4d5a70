"""Prompt templates are parsed, not formatted blindly: a template that cannot be what the user meant
is refused on every face with one message naming the problem, and nothing reaches the service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import gembatch as gb
from gembatch.inputs.request_lines import PromptTemplate

MODEL = "gemini-2.5-flash-lite"

BAD = [
    ("", "non-empty"),
    ("   \n", "non-empty"),
    ("Summarise this article in one sentence.", "uses no article column"),
    ("Summarise {{text}} literally", "uses no article column"),
    ("Summarise {text", "unclosed '{' at character 11"),
    ("Summarise: text}", "unmatched '}' at character 16"),
    ("{title}: {text} }", "unmatched '}' at character 17"),
    ("Summarise {} please {text}", "'{}' at character 11"),
    ("Summarise {0}", "'{0}' at character 11"),
    ("Summarise { text }", "'{ text }'"),
    ("Summarise {text:>20}", "'{text:>20}'"),
    ("Summarise {text!r}", "'{text!r}'"),
]

GOOD = [
    "{text}",
    "Summarise in one sentence:\n{text}",
    'Answer as JSON like {"topic": "x"} for: {text}',
    "Literal {{braces}} and {title}: {text}",
    '{"article": {text}}',
]


@pytest.mark.parametrize(("prompt", "needle"), BAD)
def test_bad_templates_are_refused_naming_the_problem(prompt: str, needle: str) -> None:
    with pytest.raises(gb.InputError) as info:
        PromptTemplate(prompt).check()
    assert needle in str(info.value)
    assert info.value.field == "prompt"
    assert "\n" not in str(info.value).strip(), "one line"


@pytest.mark.parametrize("prompt", GOOD)
def test_good_templates_pass(prompt: str) -> None:
    PromptTemplate(prompt).check()
    assert PromptTemplate(prompt).fields


@pytest.mark.parametrize(("prompt", "needle"), BAD[:6])
def test_plan_and_estimate_refuse_a_bad_template(prompt: str, needle: str) -> None:
    articles = gb.read_articles(gb.synthetic_articles(5, seed=1), id_col="id")
    for call in (gb.plan, gb.estimate):
        with pytest.raises(gb.InputError, match="prompt"):
            call(articles, MODEL, prompt=prompt)


def test_a_template_without_the_text_keeps_different_articles_apart(tmp_path: Path) -> None:
    """Two articles with one title but different texts are two requests' worth of work, not one."""
    frame = gb.synthetic_articles(4, mean_chars=300, seed=2)
    frame["title"] = "Same title"
    articles = gb.read_articles(frame, id_col="id")
    plan = gb.plan(articles, MODEL, prompt="Give a headline for {title}")
    with gb.emulator.running(speed=50_000) as emu:
        client = emu.client()
        run = gb.Run.create(tmp_path / "run", articles, plan, client=client, delete_collected_jobs=False)
        assert run.wait(timeout=60, progress=False)
        sent = _requests_sent(emu.base_url)
    res = run.results()
    assert (res["status"] == "succeeded").all()
    assert sent == 4, "each distinct article is sent, even when the rendered requests coincide"


def _requests_sent(base_url: str) -> int:
    """Request lines the emulator received, from the raw batchStats (the SDK drops them)."""
    answer = httpx.get(f"{base_url}/v1beta/batches", headers={"x-goog-api-key": "emulator"}, timeout=10)
    answer.raise_for_status()
    jobs: list[dict[str, Any]] = answer.json().get("operations", [])
    return sum(int(job["metadata"]["batchStats"]["requestCount"]) for job in jobs)


def test_cli_refuses_a_bad_template_in_one_line_and_submits_nothing(tmp_path: Path) -> None:
    data = tmp_path / "a.jsonl"
    gb.synthetic_articles(5, seed=3).to_json(data, orient="records", lines=True)
    with gb.emulator.running(speed=50_000) as emu:
        env = {
            "GEMBATCH_EMULATOR_URL": emu.base_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "PATH": "",
            "GEMBATCH_CACHE_DIR": os.environ["GEMBATCH_CACHE_DIR"],
        }
        for command in ("estimate", "plan", "run"):
            args = [sys.executable, "-m", "gembatch", command, str(data), "--model", MODEL,
                    "--prompt", "Summarise this article."]  # fmt: skip
            if command == "run":
                args += ["--run-dir", str(tmp_path / "run")]
            proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
            assert proc.returncode != 0, command
            assert "Traceback" not in proc.stderr
            assert "uses no article column" in proc.stderr, proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        stats = emu.stats()
    assert not stats["batches_created_by_display_name"]
    assert not any(op.startswith(("files.", "upload")) for op in stats["requests"]), stats
    assert not (tmp_path / "run" / "ledger.sqlite").exists()


def test_rest_refuses_a_bad_template_with_a_4xx(tmp_path: Path) -> None:
    from gembatch.server import create_app

    token = "prompt-template-token"
    with gb.emulator.running(speed=50_000) as emu:
        app = create_app(tmp_path / "runs", token=token, client_factory=emu.client)
        auth = {"Authorization": f"Bearer {token}"}
        body = {"model": MODEL, "prompt": "Summarise {text", "articles": ["One.", "Two."]}
        with TestClient(app) as api:
            for path in ("/v1/estimate", "/v1/runs"):
                answer = api.post(path, json=body, headers=auth)
                assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
                assert "unclosed '{'" in answer.text
        assert not emu.stats()["batches_created_by_display_name"]
