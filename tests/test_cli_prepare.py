"""The prepare CLI: datasets synth, estimate, plan; tables, JSON, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gembatch.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "a.jsonl"
    assert main(["datasets", "synth", "60", "-o", str(path)]) == 0
    return path


def test_synth_writes_the_file(data, capsys):
    lines = data.read_text().splitlines()
    assert len(lines) == 60
    assert set(json.loads(lines[0])) == {"id", "title", "text"}


def test_estimate_prints_a_table(data, capsys):
    assert main(["estimate", str(data), "--model", "gemini-2.5-flash-lite"]) == 0
    out = capsys.readouterr().out
    assert "Estimate: 60 articles" in out
    assert "batch cost" in out
    assert "real-time cost" in out


def test_estimate_json_with_prompt_file_and_tier(data, tmp_path, capsys):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Summarise {title} in one line:\n{text}")
    args = ["estimate", str(data), "--model", "gemini-2.5-flash", "--prompt-file", str(prompt),
            "--tier", "tier2", "--expected-output-tokens", "100", "--json"]  # fmt: skip
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["articles"] == 60
    assert result["tier"] == "tier2"
    assert result["output_tokens"] == 6000
    assert result["batch_cost_usd"] < result["realtime_cost_usd"]


def test_plan_table_and_json(data, capsys):
    assert main(["plan", str(data), "--model", "gemini-2.5-flash-lite", "--policy", "waves", "--chunks"]) == 0
    out = capsys.readouterr().out
    assert "Plan: 60 articles" in out
    assert "c00001" in out
    assert (
        main(["plan", str(data), "--model", "gemini-2.5-flash-lite", "--chunk-tokens", "50000", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["policy"] == "tail"
    assert "chunk_tokens" in result["policy_reason"]
    assert len(result["chunks"]) > 1
    assert all(c["est_tokens"] <= 50_000 for c in result["chunks"])


def test_plan_with_a_catalogue_file(data, tmp_path, capsys):
    cat = tmp_path / "cat.toml"
    cat.write_text('[models."gemini-2.5-flash-lite"]\nenqueued_tokens = { tier1 = 100000 }\n')
    assert main(["plan", str(data), "--model", "gemini-2.5-flash-lite", "--catalog", str(cat), "--json",
                 "--policy", "waves"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["quota_tokens"] == 100_000
    assert len(result["waves"]) >= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["estimate", "{missing}", "--model", "gemini-2.5-flash-lite"], "no such file"),
        (["estimate", "{data}", "--model", "gemini-9"], "unknown model 'gemini-9'; known models"),
        (["plan", "{data}", "--model", "gemini-2.5-pro", "--budget", "0.0001"], "over budget_usd"),
        (
            ["estimate", "{data}", "--model", "gemini-2.5-flash-lite", "--prompt-file", "{missing}"],
            "cannot read",
        ),
        (["estimate", "{data}", "--model", "gemini-2.5-flash-lite", "--prompt", "{author}"], "{author}"),
        (["estimate", "{bad}", "--model", "gemini-2.5-flash-lite"], "line 2: invalid JSON"),
        (["estimate", "{data}", "--model", "gemini-2.5-flash-lite", "--tier", "gold"], "unknown tier"),
        (["datasets", "synth", "0", "-o", "{missing}"], "positive"),
    ],
)
def test_bad_input_exits_2_with_one_line(data, tmp_path, capsys, args, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": \n')
    args = [a.format(data=data, missing=tmp_path / "missing.jsonl", bad=bad) if "{" in a and "}" in a
            and a != "{author}" else a for a in args]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("gembatch: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_console_entry_point_has_no_traceback(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "gembatch", "plan", str(tmp_path / "nope.csv"), "--model", "gemini-2.5-flash"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "no such file" in out.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "gembatch", "plan"], capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2
    assert "FILE" in usage.stderr
    assert "--query" in usage.stderr
    assert len(usage.stderr.strip().splitlines()) == 1
