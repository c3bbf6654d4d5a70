"""Thinking as on the service, through the SDK: on by default, budgets and levels, billed as output."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from emulator_helpers import wait_done
from google.genai import errors, types

from gembatch import load_catalog
from gembatch.emulator import Emulator, running

ARTICLE = (
    "The city council approved a new budget on Tuesday. Spending on schools rises by four percent. "
    "Critics said the plan ignores transport. The mayor promised a review of bus routes next year. "
) * 20


def _config(**thinking: object) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(thinking_config=types.ThinkingConfig(**thinking))  # type: ignore[arg-type]


def _thoughts(response: types.GenerateContentResponse) -> int:
    assert response.usage_metadata is not None
    return response.usage_metadata.thoughts_token_count or 0


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    # Two Gemini 3.x models as a newer catalogue would list them: they think by family.
    catalog = load_catalog(
        {
            "gemini-3.8-flash": {
                "as_of": "2026-10-01",
                "source": "test",
                "context_window": 1_048_576,
                "max_output_tokens": 65_536,
                "input_price": 0.75,
                "output_price": 3.75,
                "enqueued_tokens": {"tier1": 3_000_000},
            },
            "gemini-3.1-pro-preview": {
                "as_of": "2026-10-01",
                "source": "test",
                "context_window": 1_048_576,
                "max_output_tokens": 65_536,
                "input_price": 2.0,
                "output_price": 12.0,
                "enqueued_tokens": {"tier1": 5_000_000},
            },
            # a model without thinking, as the service served it before its retirement
            "gemini-2.0-flash": {"retired": None},
        }
    )
    with running(catalog=catalog) as emulator:
        yield emulator


def test_flash_thinks_by_default_deterministically_more_for_longer_input(emu: Emulator) -> None:
    client = emu.client()
    short = client.models.generate_content(model="gemini-2.5-flash", contents="What is your name?")
    long = client.models.generate_content(model="gemini-2.5-flash", contents=ARTICLE)
    again = client.models.generate_content(model="gemini-2.5-flash", contents=ARTICLE)
    s, g = short.usage_metadata, long.usage_metadata
    assert s is not None
    assert g is not None
    assert 0 < (s.thoughts_token_count or 0) < (g.thoughts_token_count or 0)
    assert again.usage_metadata is not None
    assert again.usage_metadata.thoughts_token_count == g.thoughts_token_count
    # Thoughts are output: the total is prompt + answer + thoughts, as on the service.
    assert g.total_token_count == g.prompt_token_count + g.candidates_token_count + g.thoughts_token_count
    assert short.text  # a trivial prompt's thinking leaves room for its answer


def test_flash_lite_does_not_think_unless_asked(emu: Emulator) -> None:
    client = emu.client()
    plain = client.models.generate_content(model="gemini-2.5-flash-lite", contents=ARTICLE)
    assert plain.usage_metadata is not None
    assert plain.usage_metadata.thoughts_token_count is None
    dynamic = client.models.generate_content(
        model="gemini-2.5-flash-lite", contents=ARTICLE, config=_config(thinking_budget=-1)
    )
    assert dynamic.usage_metadata is not None
    assert (dynamic.usage_metadata.thoughts_token_count or 0) > 0


def test_budget_zero_turns_flash_thinking_off(emu: Emulator) -> None:
    response = emu.client().models.generate_content(
        model="gemini-2.5-flash", contents=ARTICLE, config=_config(thinking_budget=0)
    )
    assert response.usage_metadata is not None
    assert response.usage_metadata.thoughts_token_count is None


def test_pro_refuses_budget_zero_like_the_service(emu: Emulator) -> None:
    with pytest.raises(errors.ClientError) as info:
        emu.client().models.generate_content(
            model="gemini-2.5-pro", contents="hi", config=_config(thinking_budget=0)
        )
    assert info.value.code == 400
    assert info.value.status == "INVALID_ARGUMENT"
    assert info.value.message == "Budget 0 is invalid. This model only works in thinking mode."


def test_budgets_are_honoured_and_out_of_range_refused(emu: Emulator) -> None:
    client = emu.client()
    capped = client.models.generate_content(
        model="gemini-2.5-flash", contents=ARTICLE, config=_config(thinking_budget=200)
    )
    assert capped.usage_metadata is not None
    assert 0 < (capped.usage_metadata.thoughts_token_count or 0) <= 200
    # Below Pro's minimum (128) the budget is raised to it, not refused.
    low = client.models.generate_content(
        model="gemini-2.5-pro", contents=ARTICLE, config=_config(thinking_budget=16)
    )
    assert low.usage_metadata is not None
    assert 0 < (low.usage_metadata.thoughts_token_count or 0) <= 128
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model="gemini-2.5-flash", contents="hi", config=_config(thinking_budget=40_000)
        )
    assert info.value.code == 400
    assert info.value.message == "The thinking budget (40000) is invalid."


def test_include_thoughts_returns_thought_parts_before_the_answer(emu: Emulator) -> None:
    response = emu.client().models.generate_content(
        model="gemini-2.5-pro", contents=ARTICLE, config=_config(include_thoughts=True)
    )
    parts = response.candidates[0].content.parts  # type: ignore[index,union-attr]
    assert parts is not None
    assert parts[0].thought is True
    assert parts[0].text
    assert not parts[-1].thought
    assert response.text == parts[-1].text  # .text leaves the thoughts out
    without = emu.client().models.generate_content(model="gemini-2.5-pro", contents=ARTICLE)
    assert all(not p.thought for p in without.candidates[0].content.parts)  # type: ignore[index,union-attr]


def test_thoughts_spend_max_output_tokens_first(emu: Emulator) -> None:
    response = emu.client().models.generate_content(
        model="gemini-2.5-flash", contents=ARTICLE, config=types.GenerateContentConfig(max_output_tokens=40)
    )
    usage = response.usage_metadata
    assert usage is not None
    assert usage.thoughts_token_count == 40
    assert usage.candidates_token_count is None
    assert response.text is None
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS  # type: ignore[index]


def test_models_without_thinking_refuse_a_thinking_config(emu: Emulator) -> None:
    with pytest.raises(errors.ClientError) as info:
        emu.client().models.generate_content(
            model="gemini-2.0-flash", contents="hi", config=_config(thinking_budget=1024)
        )
    assert info.value.code == 400
    assert info.value.message == "Thinking is not enabled for models/gemini-2.0-flash"


def test_gemini_3_models_think_by_level(emu: Emulator) -> None:
    client = emu.client()
    high = client.models.generate_content(model="gemini-3.8-flash", contents=ARTICLE)
    low = client.models.generate_content(
        model="gemini-3.8-flash", contents=ARTICLE, config=_config(thinking_level="LOW")
    )
    assert high.usage_metadata is not None
    assert low.usage_metadata is not None
    assert 0 < _thoughts(low) < _thoughts(high)
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model="gemini-3.8-flash", contents="hi", config=_config(thinking_level="LOW", thinking_budget=512)
        )
    assert info.value.code == 400
    assert "only set one of thinking_budget and thinking_level" in (info.value.message or "")
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model="gemini-3.1-pro-preview", contents="hi", config=_config(thinking_level="MINIMAL")
        )
    assert info.value.code == 400
    assert info.value.message == (
        "Thinking level MINIMAL is not supported for models/gemini-3.1-pro-preview."
    )


def test_batch_output_bills_thoughts_and_fails_only_the_refused_line(emu: Emulator) -> None:
    client = emu.client()
    lines = [
        {"key": "ok", "request": {"contents": [{"parts": [{"text": ARTICLE}]}]}},
        {
            "key": "bad",
            "request": {
                "contents": [{"parts": [{"text": "hi"}]}],
                "generation_config": {"thinking_config": {"thinking_budget": 0}},
            },
        },
    ]
    data = ("\n".join(json.dumps(x) for x in lines) + "\n").encode()
    uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": "application/jsonl"})
    assert uploaded.name is not None
    job = client.batches.create(model="gemini-2.5-pro", src=uploaded.name)
    assert job.name is not None
    done = wait_done(client, job.name, emu)
    assert done.state is not None
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    assert done.dest is not None
    assert done.dest.file_name is not None
    lines_out = client.files.download(file=done.dest.file_name).splitlines()
    out = {r["key"]: r for r in map(json.loads, lines_out)}
    usage = out["ok"]["response"]["usageMetadata"]
    assert usage["thoughtsTokenCount"] > 0
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )
    assert out["bad"]["error"]["code"] == 400
    assert out["bad"]["error"]["message"] == "Budget 0 is invalid. This model only works in thinking mode."


@pytest.mark.slow
def test_a_run_on_a_thinking_model_bills_its_thoughts(tmp_path) -> None:
    import gembatch as gb

    arts = gb.read_articles(gb.synthetic_articles(12, mean_chars=1500, seed=1), id_col="id")
    plan = gb.plan(arts, "gemini-2.5-flash", prompt="Summarise in one sentence:\n{text}")
    fast = {"poll_min_s": 0.02, "poll_max_s": 0.2, "backoff_base_s": 0.02, "reconcile_grace_s": 0.0}
    with running(speed=20_000) as emu:
        run = gb.Run.create(tmp_path / "run", arts, plan, client=emu.client(), **fast)
        assert run.wait(timeout=120, progress=False)
    res = run.results()
    assert (res["status"] == "succeeded").all()
    assert (res["thoughts_tokens"] > 0).all()  # thinking by default, as on the service
    price_in, price_out = gb.default_catalog().get("gemini-2.5-flash").prices("batch")
    expected = (
        res["prompt_tokens"] * price_in + (res["output_tokens"] + res["thoughts_tokens"]) * price_out
    ) / 1e6
    assert res["cost_usd"].to_numpy() == pytest.approx(expected.to_numpy())
    assert run.summary()["cost_actual_usd"] == pytest.approx(float(expected.sum()))
