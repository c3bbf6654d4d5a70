"""Fixtures for the widgets tests: small articles, and a gembatch emulator with a client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import gembatch as gb


@pytest.fixture
def articles() -> pd.DataFrame:
    """Twelve short synthetic articles (fast to plan and to run on the emulator)."""
    return gb.read_articles(gb.synthetic_articles(12, mean_chars=1500, seed=1))


@pytest.fixture
def emulator() -> Iterator[Any]:
    """An in-process emulator, fast enough that a small run finishes in seconds."""
    from gembatch import emulator as emu

    with emu.running(speed=5000.0, seed=0) as running:
        yield running
