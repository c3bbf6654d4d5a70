"""Fault profiles (timing, error rates) and one-shot faults injected through the admin API."""

from __future__ import annotations

import json
import os
import threading
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gembatch.errors import InputError

__all__ = ["OP_ALIASES", "PROFILES", "Fault", "FaultBook", "Profile", "load_profile"]


# Operations are named like the SDK methods; REST method names are accepted as aliases.
OP_ALIASES = {
    "models.batchGenerateContent": "batches.create",
    "models.generateContent": "models.generate_content",
    "models.streamGenerateContent": "models.generate_content_stream",
    "models.countTokens": "models.count_tokens",
    "models.embedContent": "models.embed_content",
    "models.batchEmbedContents": "models.batch_embed_contents",
    "models.asyncBatchEmbedContent": "batches.create_embeddings",
}


@dataclass(frozen=True)
class Profile:
    """How the emulated service behaves: job timing and fault rates.

    Times are emulated seconds. A job waits ``queue_median_s × lognormal(σ=queue_sigma)`` +
    ``extra_latency_s`` in PENDING, then runs ``(overhead_s + tokens / tokens_per_s) ×
    lognormal(σ=proc_sigma)``. Rates are probabilities in [0, 1].
    """

    name: str = "calm"
    queue_median_s: float = 60.0
    queue_sigma: float = 0.5
    overhead_s: float = 30.0
    tokens_per_s: float = 50_000.0
    proc_sigma: float = 0.3
    extra_latency_s: float = 0.0
    line_error_rate: float = 0.0
    # Status of a failed line → weight; 429/500/503 are retryable, 400 is permanent.
    line_error_mix: dict[str, float] = field(
        default_factory=lambda: {"429": 0.4, "500": 0.2, "503": 0.2, "400": 0.2}
    )
    job_failure_rate: float = 0.0
    expiry_probability: float = 0.0
    http_500_rate: float = 0.0
    http_503_rate: float = 0.0
    http_latency_ms: float = 0.0
    # Spurious 429s on batch create although the quota has room (python-genai#1901).
    create_429_rate: float = 0.0
    # The RPM/TPM window of real-time calls, in wall-clock seconds (60 on the service); real-time
    # calls are not sped up by the emulated clock, so tests and benches shorten the window instead.
    rate_window_s: float = 60.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "calm": Profile(),
    "realistic": Profile(
        name="realistic",
        queue_median_s=600.0,
        queue_sigma=1.0,
        overhead_s=120.0,
        tokens_per_s=20_000.0,
        proc_sigma=0.6,
        line_error_rate=0.005,
        job_failure_rate=0.01,
        expiry_probability=0.005,
        http_500_rate=0.002,
        http_503_rate=0.005,
        create_429_rate=0.02,
    ),
    "chaos": Profile(
        name="chaos",
        queue_median_s=1800.0,
        queue_sigma=1.5,
        overhead_s=300.0,
        tokens_per_s=5_000.0,
        proc_sigma=1.0,
        extra_latency_s=600.0,
        line_error_rate=0.05,
        job_failure_rate=0.1,
        expiry_probability=0.05,
        http_500_rate=0.03,
        http_503_rate=0.05,
        create_429_rate=0.1,
    ),
}
_FIELDS = {f.name for f in fields(Profile)}


def load_profile(source: str | os.PathLike[str] | dict[str, Any] | Profile | None = None) -> Profile:
    """A named profile (``calm``, ``realistic``, ``chaos``), a dict, or a TOML/JSON file.

    A dict or file may say ``base = "realistic"`` and override any field of :class:`Profile`.
    """
    if source is None:
        return PROFILES["calm"]
    if isinstance(source, Profile):
        return source
    if isinstance(source, str) and source in PROFILES:
        return PROFILES[source]
    if isinstance(source, dict):
        data = dict(source)
        label = "profile"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(
                f"unknown emulator profile {str(source)!r}: use one of {', '.join(PROFILES)} "
                "or the path of a TOML/JSON profile file"
            )
        raw = path.read_text("utf-8")
        try:
            data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw)
        except ValueError as exc:
            raise InputError(f"profile file {path} is not valid: {exc}") from None
        data.setdefault("name", path.stem)
        label = f"profile file {path}"
    base_name = data.pop("base", "calm")
    if base_name not in PROFILES:
        raise InputError(f"{label}: base must be one of {', '.join(PROFILES)}, not {base_name!r}")
    unknown = set(data) - _FIELDS
    if unknown:
        raise InputError(
            f"{label}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_FIELDS))}"
        )
    for key, value in data.items():
        is_rate = key.endswith("_rate") or key == "expiry_probability"
        if is_rate and (not isinstance(value, int | float) or not 0 <= value <= 1):
            raise InputError(f"{label}: {key} must be a probability in [0, 1], not {value!r}")
    if "line_error_mix" in data:
        data["line_error_mix"] = {str(k): float(v) for k, v in data["line_error_mix"].items()}
    return replace(PROFILES[base_name], **data)


@dataclass
class Fault:
    """One injected fault: the next ``count`` matching calls (or batches) misbehave.

    ``op`` is an API operation (``batches.create``, ``files.upload``, ``models.generate_content``…)
    answered with ``status``; or it drops the response after doing the work
    (``drop_response``: ``true``/``"500"``/``"503"``/``"disconnect"``); or ``op == "batch"`` forces
    the ``outcome`` (``FAILED``/``EXPIRED``/``SUCCEEDED``) of the batch named ``display_name``.
    """

    op: str
    status: int | None = None
    message: str | None = None
    count: int = 1
    drop_response: bool | str = False
    display_name: str | None = None
    outcome: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        fault = cls(**data)
        fault.op = OP_ALIASES.get(fault.op, fault.op)
        if not isinstance(fault.op, str) or not fault.op:
            raise ValueError("a fault needs 'op' (e.g. 'batches.create' or 'batch')")
        if fault.op == "batch":
            if fault.outcome not in ("FAILED", "EXPIRED", "SUCCEEDED"):
                raise ValueError("a 'batch' fault needs outcome FAILED, EXPIRED or SUCCEEDED")
            if not fault.display_name:
                raise ValueError("a 'batch' fault needs display_name")
        elif fault.status is None and not fault.drop_response:
            raise ValueError("a fault needs 'status' (e.g. 429) or 'drop_response': true")
        if fault.status is not None and not 400 <= int(fault.status) <= 599:
            raise ValueError("fault status must be an HTTP error status (400-599)")
        if int(fault.count) < 1:
            raise ValueError("fault count must be >= 1")
        return fault

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}


class FaultBook:
    """The pending one-shot faults; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def take(self, op: str) -> Fault | None:
        """Consume one use of the first fault for API operation ``op``."""
        with self._lock:
            for fault in self._faults:
                if fault.op in (op, "*"):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def take_outcome(self, display_name: str | None) -> str | None:
        """Consume a forced outcome for a batch with this display name."""
        if display_name is None:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.op == "batch" and fault.display_name == display_name:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault.outcome
        return None
