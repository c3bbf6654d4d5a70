"""Numbers checked where they enter, by one rule for every face (Python, CLI, REST, panels)."""

from __future__ import annotations

import math
from typing import Any

from gembatch.errors import InputError

__all__ = ["MAX_ATTEMPTS", "check_attempts", "check_budget"]

#: The most attempts an article may get (a retry loop beyond this only burns money).
MAX_ATTEMPTS = 10


def check_budget(value: Any, field: str = "budget_usd") -> float | None:
    """A budget in dollars: ``None`` (no budget) or a finite positive number.

    >>> check_budget(5), check_budget(None)
    (5.0, None)
    >>> check_budget(float("nan"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gembatch.errors.InputError: budget_usd must be a positive number of dollars (None for no budget), not nan
    """
    if value is None:
        return None
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value > 0
    if not ok:
        raise InputError(
            f"{field} must be a positive number of dollars (None for no budget), not {value!r}", field=field
        )
    return float(value)


def check_attempts(value: Any, field: str = "max_attempts") -> int:
    """Attempts per article: a whole number from 1 to :data:`MAX_ATTEMPTS`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPTS:
        raise InputError(
            f"{field} must be a whole number from 1 to {MAX_ATTEMPTS}, not {value!r}", field=field
        )
    return int(value)
