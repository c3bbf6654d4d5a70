"""The models the emulator serves: the catalogue's, plus embedding models, with how each behaves.

Token limits come from the catalogue; what the catalogue does not say (does a model think by
default, its thinking-budget range, logprobs, embeddings) comes from the small tables here, by
model family, so a model added to the catalogue (``gemini-3.8-flash``) behaves like its family.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

from gembatch.emulator._errors import ApiError
from gembatch.errors import UnknownModel
from gembatch.planning.catalog import Catalog, ModelInfo

__all__ = ["EMBEDDING_MODELS", "Lineup", "Served", "Thinking", "not_found"]

GENERATE_METHODS = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")
EMBED_METHODS = ("embedContent", "countTokens", "countTextTokens", "asyncBatchEmbedContent")
# Every method name of the service's model resources; a method outside this set is no route at all.
KNOWN_METHODS = frozenset(
    {
        *GENERATE_METHODS,
        *EMBED_METHODS,
        "streamGenerateContent",
        "batchEmbedContents",
        "generateAnswer",
        "predict",
        "predictLongRunning",
        "generateText",
        "embedText",
        "batchEmbedText",
        "countMessageTokens",
        "generateMessage",
        "bidiGenerateContent",
    }
)


@dataclass(frozen=True)
class Thinking:
    """How a model thinks: by default or not, the budget range, the levels it takes.

    ``factor`` scales how much it thinks for a given prompt (Pro thinks longer than Flash).
    """

    default_on: bool
    min_budget: int
    max_budget: int
    can_disable: bool
    levels: frozenset[str]
    default_level: str | None
    factor: float
    supported: bool = True


_NO_THINKING = Thinking(False, 0, 0, True, frozenset(), None, 0.0, supported=False)
_LEVELS_3 = frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH"})
# First match wins. Ranges for 2.5 are the documented ones; for 3.x they are assumed from 2.5 Pro.
_THINKING: list[tuple[re.Pattern[str], Thinking]] = [
    (re.compile(r"^gemini-2\.5-pro"), Thinking(True, 128, 32_768, False, _LEVELS_3, None, 1.6)),
    (re.compile(r"^gemini-2\.5-flash-lite"), Thinking(False, 512, 24_576, True, _LEVELS_3, None, 0.6)),
    (re.compile(r"^gemini-2\.5-flash"), Thinking(True, 1, 24_576, True, _LEVELS_3, None, 1.0)),
    (re.compile(r"^gemini-(1|2\.0)"), _NO_THINKING),
    (
        re.compile(r"^gemini-([3-9]|\d\d)(\.\d+)?-pro"),
        Thinking(True, 128, 32_768, False, frozenset({"LOW", "HIGH"}), "HIGH", 1.6),
    ),
    (
        re.compile(r"^gemini-([3-9]|\d\d)(\.\d+)?-flash-lite"),
        Thinking(True, 512, 24_576, False, _LEVELS_3, "HIGH", 0.6),
    ),
    (re.compile(r"^gemini-([3-9]|\d\d)"), Thinking(True, 128, 24_576, False, _LEVELS_3, "HIGH", 1.0)),
]
# A model the tables do not know (a user's own catalogue entry) takes budgets but thinks only when asked.
_OTHER = Thinking(False, 0, 24_576, True, _LEVELS_3, None, 1.0)
# Logprobs are enabled on the Gemini API for the 2.0 family only (2.5 and later answer 400).
_LOGPROBS = re.compile(r"^gemini-2\.0")
# A stable version name (gemini-2.0-flash-001) is served as the catalogue's model it versions.
_VERSIONED = re.compile(r"^(?P<base>.+)-(?P<version>\d{3})$")


@dataclass(frozen=True)
class EmbeddingModel:
    """An embedding model: vector size and input-token limit."""

    id: str
    dimensions: int
    input_tokens: int


EMBEDDING_MODELS = {
    m.id: m
    for m in (
        EmbeddingModel("gemini-embedding-001", 3072, 2048),
        EmbeddingModel("gemini-embedding-2", 3072, 8192),
        EmbeddingModel("text-embedding-004", 768, 2048),
    )
}


@dataclass(frozen=True)
class Served:
    """One model as the emulator serves it."""

    id: str
    kind: str  # "generate" | "embed"
    input_limit: int
    output_limit: int
    thinking: Thinking
    logprobs: bool
    info: ModelInfo | None = None
    dimensions: int = 0

    @property
    def methods(self) -> tuple[str, ...]:
        return GENERATE_METHODS if self.kind == "generate" else EMBED_METHODS

    def supports(self, method: str) -> bool:
        if method in ("streamGenerateContent", "get"):
            return self.kind == "generate" or method == "get"
        if method == "batchEmbedContents":
            return self.kind == "embed"
        return method in self.methods

    def resource(self) -> dict[str, object]:
        """The ``Model`` JSON of ``models.get`` / ``models.list``."""
        out: dict[str, object] = {
            "name": f"models/{self.id}",
            "baseModelId": self.id,
            "version": "001",
            "displayName": _display(self.id),
            "description": f"{_display(self.id)} (gembatch emulator)",
            "inputTokenLimit": self.input_limit,
            "outputTokenLimit": self.output_limit,
            "supportedGenerationMethods": list(self.methods),
        }
        if self.kind == "generate":
            out |= {"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2}
            if self.thinking.supported:
                out["thinking"] = True
        return out


def _display(model_id: str) -> str:
    words = model_id.replace("gemini", "Gemini").split("-")
    return " ".join(w[:1].upper() + w[1:] if w.isalpha() else w for w in words)


def _with_catalogue_default(thinking: Thinking, info: ModelInfo) -> Thinking:
    """Whether a model thinks unasked is catalogue data: the estimates read it too, so a
    rehearsal bills what the estimate expected (the tables above keep budgets and levels)."""
    by_default = info.thinking_by_default
    if not thinking.supported or not info.thinking or by_default == thinking.default_on:
        return thinking
    return dataclasses.replace(
        thinking, default_on=by_default, can_disable=thinking.can_disable or not by_default
    )


def thinking_of(model_id: str) -> Thinking:
    for pattern, thinking in _THINKING:
        if pattern.match(model_id):
            return thinking
    return _OTHER


def not_found(model: str, method: str, version: str = "v1beta") -> ApiError:
    """The 404 the service sends for an unknown model, or a method the model does not serve."""
    return ApiError(
        404,
        f"models/{model.removeprefix('models/')} is not found for API version {version}, or is not "
        f"supported for {method}. Call ListModels to see the list of available models and their "
        "supported methods.",
    )


class Lineup:
    """The catalogue's models plus the embedding models, looked up as the service does."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def ids(self) -> list[str]:
        """Models the service lists: the catalogue's, less those it has retired, and embeddings."""
        live = [m for m in self.catalog.ids() if not self.catalog.get(m).is_retired()]
        return sorted({*live, *EMBEDDING_MODELS})

    def __iter__(self) -> Iterator[Served]:
        for model_id in self.ids():
            yield self.get(model_id)

    def find(self, model: str) -> Served | None:
        model_id = model.removeprefix("models/").strip()
        if model_id in EMBEDDING_MODELS:
            emb = EMBEDDING_MODELS[model_id]
            info = self.catalog.get(model_id) if model_id in self.catalog else None
            limit = info.context_window if info else emb.input_tokens
            return Served(emb.id, "embed", limit, 1, _NO_THINKING, False, info, emb.dimensions)
        try:
            info = self.catalog.get(model_id)
        except UnknownModel:
            versioned = _VERSIONED.match(model_id)
            if versioned is None or versioned.group("base") not in self.catalog:
                return None
            info = self.catalog.get(versioned.group("base"))
        if info.is_retired():  # shut down: the service answers 404 for it, as for an unknown model
            return None
        if "embedding" in info.id:
            return Served(info.id, "embed", info.context_window, 1, _NO_THINKING, False, info, 3072)
        return Served(
            model_id,
            "generate",
            info.context_window,
            info.max_output_tokens,
            _with_catalogue_default(thinking_of(info.id), info),
            bool(_LOGPROBS.match(info.id)),
            info,
        )

    def get(self, model: str, method: str = "get", version: str = "v1beta") -> Served:
        """The served model, or the service's 404 when unknown or when it does not serve ``method``."""
        served = self.find(model)
        if served is None or not served.supports(method):
            raise not_found(model, method, version)
        return served
