"""gembatch: run large text workloads through the Gemini Batch API, from Jupyter or a terminal.

>>> import gembatch as gb
>>> gb.default_catalog().get("gemini-2.5-flash-lite").batch_input_price
0.05
"""

from __future__ import annotations

from gembatch.catalog import Catalog, ModelInfo, default_catalog, load_catalog
from gembatch.errors import (
    BackendError,
    BudgetExceeded,
    CatalogError,
    GembatchError,
    InputError,
    QuotaExceeded,
    RunMismatch,
    UnknownModel,
)

# --- foundation (articles, tokens, cost, plan, requests) ---
# --- backend and emulator ---
# --- runs ---

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "BudgetExceeded",
    "Catalog",
    "CatalogError",
    "GembatchError",
    "InputError",
    "ModelInfo",
    "QuotaExceeded",
    "RunMismatch",
    "UnknownModel",
    "__version__",
    "default_catalog",
    "load_catalog",
]
