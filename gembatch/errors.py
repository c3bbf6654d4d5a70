"""Exceptions users can catch by name; each message says what is wrong and how to fix it."""

from __future__ import annotations


class GembatchError(Exception):
    """Base class of every error gembatch raises on purpose."""


class InputError(GembatchError, ValueError):
    """The input articles (or another user-supplied value) are invalid.

    ``row`` is the 0-based row (or 1-based line for JSONL files, as the message says)
    and ``field`` the offending column or key, when known.
    """

    def __init__(self, message: str, *, row: int | str | None = None, field: str | None = None):
        super().__init__(message)
        self.row = row
        self.field = field


class JobNotFound(InputError):
    """No batch job of that name in the API key's project."""


class CatalogError(GembatchError, ValueError):
    """A model catalogue entry or override is malformed, or a tier is unknown."""


class UnknownModel(GembatchError, LookupError):
    """The model id is not in the catalogue; the message lists the known ones."""

    def __str__(self) -> str:  # LookupError would repr-quote the message
        return str(self.args[0]) if self.args else ""


class BudgetExceeded(GembatchError):
    """The estimated or committed spend would pass ``budget_usd``."""


class QuotaExceeded(GembatchError):
    """A single unit of work can never fit the account's quota or the service's limits."""


class RunMismatch(GembatchError):
    """A run directory already holds a run with different inputs, prompt, model or config."""


class LedgerDamaged(GembatchError):
    """A run directory shows earlier work but its ledger is missing, empty or unreadable.

    Starting afresh there could submit (and pay for) everything again, so gembatch refuses; the
    message names the old run and how to go on.
    """


class RunBusy(GembatchError):
    """Another process is driving the run right now (its lock is held); try again when it stops."""


class BackendError(GembatchError):
    """The Gemini service (or the emulator) could not be reached or configured."""


class RetiredModel(UnknownModel):
    """The service shut the model down before the billing date; the message names its successor."""


class GembatchWarning(UserWarning):
    """Base class of the warnings gembatch gives about a plan before anything is submitted."""


class SpendCapWarning(GembatchWarning):
    """The planned cost would pass the tier's monthly spend cap (the service answers 429 past it)."""


class PriceChangeWarning(GembatchWarning):
    """The model's prices change while the planned work may still be billed."""


class ServiceUnreachable(BackendError):
    """The service (or the emulator) did not answer: network, proxy or DNS trouble."""
