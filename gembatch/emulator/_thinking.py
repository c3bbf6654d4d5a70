"""Thinking as the service does it: on by default for thinking models, budgets and levels checked.

A request's ``thinkingConfig`` becomes a :class:`Plan` (refused with the service's 400 where the
service refuses it); :func:`thought_tokens` then says how many tokens the model thinks for a given
prompt: deterministic, growing with the prompt, capped by the budget. Thoughts are billed as
output and, on the service, count against ``maxOutputTokens``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gembatch.emulator._errors import ApiError
from gembatch.emulator._lineup import Served

__all__ = ["DYNAMIC_CAP", "Plan", "plan_thinking", "thought_summary", "thought_tokens"]

# Dynamic thinking ("auto", budget -1) uses at most this many tokens (Gemini 2.5 docs: "up to 8,192").
DYNAMIC_CAP = 8192
_LEVEL_SHARE = {"MINIMAL": 0.0, "LOW": 0.3, "MEDIUM": 0.6, "HIGH": 1.0}
# A thinking level on a budget-based (2.5) model stands for these budgets (-1: dynamic).
_LEVEL_BUDGET = {"MINIMAL": 0, "LOW": 1024, "MEDIUM": 8192, "HIGH": -1}


@dataclass(frozen=True)
class Plan:
    """What a request's thinking will be: ``cap`` tokens at most (0: none), ``share`` of the urge."""

    cap: int
    share: float = 1.0
    include_thoughts: bool = False

    @property
    def thinks(self) -> bool:
        return self.cap > 0 and self.share > 0


NONE = Plan(0)


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def plan_thinking(model: Served, config: Mapping[str, Any] | None) -> Plan:
    """The thinking plan of one request (``config`` is its camelCase ``generationConfig``)."""
    thinking = model.thinking
    tc = (config or {}).get("thinkingConfig") or {}
    budget = tc.get("thinkingBudget")
    level = tc.get("thinkingLevel")
    level = None if level in (None, 0, "THINKING_LEVEL_UNSPECIFIED") else level
    include = bool(tc.get("includeThoughts"))
    if not thinking.supported:
        if (budget not in (None, 0)) or level is not None or include:
            raise _bad(f"Thinking is not enabled for models/{model.id}")
        return NONE
    if budget is not None and level is not None:
        raise _bad("You can only set one of thinking_budget and thinking_level.")
    if isinstance(level, int):
        level = ("MINIMAL", "LOW", "MEDIUM", "HIGH")[max(0, min(3, level - 1))]
    if level is not None:
        if level not in thinking.levels:
            raise _bad(f"Thinking level {level} is not supported for models/{model.id}.")
        if thinking.default_level is None:  # a budget-based model: the level stands for a budget
            budget = _LEVEL_BUDGET[level]
            if budget == 0 and not thinking.can_disable:
                budget = thinking.min_budget
        else:
            return Plan(DYNAMIC_CAP * 2, _LEVEL_SHARE[level], include)
    if budget is None:
        if not thinking.default_on:
            return NONE
        share = _LEVEL_SHARE[thinking.default_level] if thinking.default_level else 1.0
        return Plan(DYNAMIC_CAP * (2 if thinking.default_level else 1), share, include)
    if budget == 0:
        if not thinking.can_disable:
            raise _bad("Budget 0 is invalid. This model only works in thinking mode.")
        return NONE
    if budget == -1:
        return Plan(DYNAMIC_CAP, 1.0, include)
    if budget < -1 or budget > thinking.max_budget:
        raise _bad(f"The thinking budget ({budget}) is invalid.")
    # Below the model's minimum the service raises the budget to it (assumed, as documented for 2.5).
    return Plan(max(budget, thinking.min_budget), 1.0, include)


def thought_tokens(factor: float, plan: Plan, prompt_tokens: int, urge: float) -> int:
    """Thinking tokens for one answer; ``urge`` in [0, 1) is the request's own draw (deterministic).

    ``factor`` is the model's (:attr:`Thinking.factor`): Pro thinks longer than Flash.
    """
    if not plan.thinks:
        return 0
    # A trivial prompt gets a few dozen tokens of thought, a 2,000-token article several hundred.
    size = min(prompt_tokens, 200_000)
    wanted = (60 + 0.3 * size + 400 * urge * min(1.0, size / 200)) * factor * plan.share
    return max(1, min(plan.cap, round(wanted)))


def thought_summary(prompt_words: list[str], sentence: str) -> str:
    """The thought summary returned with ``includeThoughts`` (it is not billed apart from thoughts)."""
    topic = ", ".join(prompt_words[:3]) or "the request"
    return (
        f"**Reading the request**\n\nThe text is about {topic}. "
        f"The key point to keep: {sentence.strip()[:160] or 'the question itself'}\n\n"
        "**Drafting the answer**\n\nI will answer briefly and stay close to the source."
    )
