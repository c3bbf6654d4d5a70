"""The chars-per-token estimator, request characters and calibration against a counter."""

from __future__ import annotations

import numpy as np
import pytest

import gembatch as gb
from gembatch.errors import InputError
from gembatch.inputs.request_lines import RequestSpec
from gembatch.inputs.tokens import DEFAULT_CHARS_PER_TOKEN, TokenEstimator, request_chars


def test_prior_rounds_up():
    est = TokenEstimator()
    assert est.chars_per_token == DEFAULT_CHARS_PER_TOKEN
    assert list(est.tokens([0, 1, 32, 33, 9000])) == [0, 1, 10, 11, 2813]
    assert est.tokens(np.array([3.2])).dtype == np.int64


def test_prior_is_conservative_against_a_4_chars_per_token_counter():
    est = TokenEstimator()
    assert est.tokens([9000])[0] >= 9000 / 4
    assert est.p50_ratio < 1 <= est.p90_ratio


def test_bad_ratio():
    with pytest.raises(InputError):
        TokenEstimator(chars_per_token=0)


def test_request_chars_count_template_system_instruction_and_columns():
    arts = gb.read_articles([{"id": "a", "title": "Ttl", "text": "x" * 100}])
    assert request_chars(arts, RequestSpec("m")).tolist() == [100]
    spec = RequestSpec("m", prompt="Title: {title}\n{text}\nAgain {text}", system_instruction="Be brief.")
    static = len("Title: \n\nAgain ")
    assert request_chars(arts, spec).tolist() == [static + 3 + 200 + len("Be brief.")]


def test_request_chars_count_the_response_schema():
    arts = gb.read_articles(["x" * 100])
    spec = RequestSpec("m", response_schema={"type": "OBJECT", "properties": {"a": {"type": "STRING"}}})
    assert request_chars(arts, spec)[0] > 100 + 30


def test_unknown_placeholder_is_an_input_error():
    arts = gb.read_articles(["text"])
    with pytest.raises(InputError, match=r"\{author\}"):
        request_chars(arts, RequestSpec("m", prompt="By {author}: {text}"))


def fake_counter(text: str) -> int:
    """A deterministic 'tokenizer': one token per 4 characters of words, one per digit."""
    digits = sum(c.isdigit() for c in text)
    return max(1, (len(text) - digits) // 4 + digits)


def test_calibrate_fits_the_counter_and_reports_its_error():
    arts = gb.synthetic_articles(300)
    cal = gb.calibrate(arts, fake_counter, sample=50)
    assert cal.sample_size == 50
    assert 3.9 <= cal.chars_per_token_median <= 4.05
    assert cal.mean_abs_error < 0.02
    est = cal.estimator
    assert est.chars_per_token <= cal.chars_per_token_median  # cautious planning ratio
    counted = np.array([fake_counter(t) for t in arts["text"]])
    estimated = est.tokens(arts["text"].str.len().to_numpy())
    assert np.mean(estimated >= counted) >= 0.85  # the estimate covers ~90% of articles
    assert cal.prior_error > 0.15  # the 3.2 prior overestimates 4-chars/token text by ~25%
    assert "calibrated on 50" in est.source
    assert "Calibration(n=50" in repr(cal)


def test_calibrated_estimator_flows_into_read_and_estimate():
    arts = gb.synthetic_articles(100)
    cal = gb.calibrate(arts, fake_counter, sample=20)
    fitted = gb.read_articles(arts, estimator=cal.estimator)
    prior = gb.read_articles(arts)
    assert fitted["est_tokens"].sum() < prior["est_tokens"].sum()
    est = gb.estimate(fitted, model="gemini-2.5-flash-lite", estimator=cal.estimator)
    assert est.input_tokens == fitted["est_tokens"].sum()
    assert est.summary["estimator"].startswith("calibrated")


def test_calibrate_accepts_a_list_and_rejects_a_bad_counter():
    cal = gb.calibrate(["word " * 50, "other " * 80], lambda t: len(t) // 5, sample=10)
    assert cal.sample_size == 2
    assert cal.chars_per_token_median == pytest.approx(5.0, rel=0.05)
    with pytest.raises(InputError, match="counter returned 0"):
        gb.calibrate(["abc"], lambda t: 0)
    with pytest.raises(InputError):
        gb.calibrate([], len)


def test_calibrate_against_the_emulator_tokenizer():
    from gembatch.emulator import count_tokens

    arts = gb.synthetic_articles(200)
    cal = gb.calibrate(arts, count_tokens, sample=50)
    assert 3.5 < cal.chars_per_token_median < 4.5
    assert cal.mean_abs_error < 0.05
    assert cal.p90_ratio <= 1.02  # the calibrated estimate covers the counted tokens
    assert cal.prior_error > 0  # and the uncalibrated prior was on the safe side
