"""Choose a backend: the real service with a key, else the local emulator (which says so, once)."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from gembatch.errors import BackendError, InputError
from gembatch.transport.base import Transport
from gembatch.transport.credentials import key_from_env
from gembatch.transport.gemini import (
    API_VERSION,
    DEFAULT_BASE_URL,
    GeminiTransport,
    get_batch_raw,
    iter_batches_raw,
)
from gembatch.transport.registry import adopters, get_backend

if TYPE_CHECKING:
    from google import genai

__all__ = [
    "API_VERSION",
    "EMULATOR_URL_VAR",
    "as_transport",
    "check_backend_options",
    "connect",
    "connect_backend",
    "connect_transport",
    "connection_of",
    "describe",
    "get_batch_raw",
    "is_emulator",
    "iter_batches_raw",
    "local_emulator",
    "reconnect",
]

logger = logging.getLogger("gembatch.transport.connect")

EMULATOR_URL_VAR = "GEMBATCH_EMULATOR_URL"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_announced: set[str] = set()

# older spelling, kept for callers that imported it
_key_from_env = key_from_env


def local_emulator(
    *,
    base_url: str | None = None,
    speed: float | None = None,
    profile: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
) -> Transport:
    """The emulator backend: the one at ``base_url``, else one in this process per settings.

    The in-process emulators live in the emulator package's own registry (started on first use,
    reused for the same ``speed``/``profile``/``state_dir``, stopped at exit). The returned
    transport has ``.client`` (a ``google.genai.Client``) and ``.base_url``.

    Examples
    --------
    >>> t = local_emulator(speed=20_000)  # doctest: +SKIP
    >>> t.describe()                      # doctest: +SKIP
    'Gemini emulator at http://127.0.0.1:40123 (v1beta); results are emulated'
    """
    options: dict[str, Any] = {
        "base_url": base_url,
        "speed": speed,
        "profile": profile,
        "state_dir": state_dir,
    }
    return get_backend("emulator", **{k: v for k, v in options.items() if v is not None})


def _announce(url: str) -> None:
    logger.info("gembatch: using the Gemini emulator at %s; results are emulated", url)
    if "notice" not in _announced:
        _announced.add("notice")
        print(
            f"gembatch: no GEMINI_API_KEY found; using the local Gemini emulator at {url}. "
            "Results are emulated, not produced by Gemini.",
            file=sys.stderr,  # a notice, not output: `gembatch ... --json | jq` stays valid
        )


def connect_transport(
    api_key: str | None = None,
    *,
    base_url: str | None = None,
    prefer: Literal["real", "emulator"] | None = None,
) -> Transport:
    """Like :func:`connect`, returning the :class:`~gembatch.transport.base.Transport` itself."""
    if prefer not in (None, "real", "emulator"):
        raise BackendError(f"prefer must be 'real', 'emulator' or None, not {prefer!r}")
    source: str | None = "argument"
    if api_key is None and prefer != "emulator":
        api_key, source = key_from_env()
    if prefer == "emulator":
        api_key = None
    if api_key:
        transport = get_backend("gemini", api_key=api_key, base_url=base_url)
        logger.info("gembatch: using %s (key from %s)", transport.describe(), source)
        return transport
    if prefer == "real":
        raise BackendError(
            "no Gemini API key found: set GEMINI_API_KEY in the environment or in a .env file, "
            "or pass api_key=...; use prefer='emulator' to rehearse locally"
        )
    url = base_url or os.environ.get(EMULATOR_URL_VAR, "").strip() or None
    transport = local_emulator(base_url=url.rstrip("/") if url else None)
    _announce(str(getattr(transport, "base_url", url or "")).rstrip("/"))
    return transport


def connect(
    api_key: str | None = None,
    *,
    base_url: str | None = None,
    prefer: Literal["real", "emulator"] | None = None,
    backend: str | None = None,
    **options: Any,
) -> Any:
    """A ``google.genai.Client`` (API version v1beta) for the real service or the emulator.

    Parameters
    ----------
    api_key
        The Gemini API key. Default: ``$GEMINI_API_KEY``, ``$GOOGLE_API_KEY``, or the same names in
        a ``.env`` file found from the working directory upwards (read, not exported).
    base_url
        Endpoint override: with a key, a proxy of the real service; without one, an emulator URL.
    prefer
        ``"emulator"`` ignores any key; ``"real"`` raises :class:`BackendError` when no key is found.
        Default: the real service when a key is found, else ``$GEMBATCH_EMULATOR_URL``, else an
        in-process emulator started once per process.
    backend
        Another backend by name, such as ``"vertex"`` (Vertex AI batch prediction: pass
        ``project=``, ``location=``, ``bucket=`` and optionally ``credentials=``, else Application
        Default Credentials); ``options`` go to it and the backend's transport is returned, ready
        for ``gb.Run.create(client=...)``.

    Examples
    --------
    >>> client = connect(prefer="emulator")  # doctest: +SKIP
    >>> describe(client)  # doctest: +SKIP
    'Gemini emulator at http://127.0.0.1:40123 (v1beta); results are emulated'
    """
    if backend is not None and backend not in ("gemini", "emulator"):
        if base_url is not None:
            options["base_url"] = base_url
        return _get(backend, **options)
    if options:
        raise BackendError(f"unexpected options for the Gemini backend: {', '.join(sorted(options))}")
    transport = connect_transport(api_key, base_url=base_url, prefer=prefer)
    client: genai.Client = getattr(transport, "client")  # noqa: B009 - Gemini transports carry one
    return client


def as_transport(client: Any = None) -> Transport:
    """A :class:`~gembatch.transport.base.Transport` for whatever was passed as ``client``.

    ``None`` → :func:`connect_transport`'s choice; a transport → itself; a ``google.genai.Client``
    → wrapped by the backend that recognises it (the emulator claims its own clients, with its
    fast poll timings) or else as the Gemini Developer API.
    """
    if client is None:
        return connect_transport()
    if isinstance(client, Transport):
        return client
    for adopt in adopters():
        transport = adopt(client)
        if transport is not None:
            return transport
    return get_backend("gemini", client=client)


def _base_url(client: Any) -> str:
    if isinstance(client, GeminiTransport):
        return client.base_url
    options = getattr(getattr(client, "_api_client", None), "_http_options", None)
    return str(getattr(options, "base_url", None) or DEFAULT_BASE_URL)


def is_emulator(client: Any) -> bool:
    """True for an emulated backend: an emulator transport, or a client of a loopback endpoint."""
    if isinstance(client, Transport):
        return bool(client.emulated)
    return (urlsplit(_base_url(client)).hostname or "") in _LOOPBACK


def describe(client: Any) -> str:
    """One line saying where ``client`` (a transport or a google-genai client) sends requests.

    Never contains the API key.
    """
    return as_transport(client).describe()


#: The connection facts a run may record: names, places and loopback URLs, never a key or a token.
FACTS = ("backend", "project", "location", "bucket", "prefix", "dataset", "api_version", "base_url",
         "storage_url", "bigquery_url")  # fmt: skip
#: What ``gb.connect(backend=...)`` takes for each (a backend not named here takes every fact).
_OPTIONS = ("project", "location", "bucket", "prefix", "dataset")
STORAGE_URL_VAR = "STORAGE_EMULATOR_HOST"
BIGQUERY_URL_VAR = "BIGQUERY_EMULATOR_HOST"


def connection_of(transport: Transport) -> dict[str, Any]:
    """The non-secret facts that reconnect to ``transport``'s backend: its ``connection()``, kept to
    :data:`FACTS` and plain values (a credentials object or token can never slip in)."""
    method = getattr(transport, "connection", None)
    facts = dict(method()) if callable(method) else {}
    facts.setdefault("backend", str(getattr(transport, "name", "") or "gemini"))
    plain = (str, int, float, bool)
    return {k: v for k, v in facts.items() if k in FACTS and isinstance(v, plain) and v != ""}


def connect_backend(backend: str, facts: dict[str, Any] | None = None) -> Transport:
    """The transport of ``backend`` with these facts (``project=``, ``location=``, ``bucket=``…).

    ``gemini`` needs a key (else one clear error); ``emulator`` ignores any key. Credentials come
    from the environment as for :func:`connect`.
    """
    options = {k: v for k, v in (facts or {}).items() if k in _OPTIONS and v not in (None, "", "auto")}
    if backend in ("gemini", "emulator"):
        if options:
            raise BackendError(f"the {backend} backend takes no {', '.join(sorted(options))}")
        return connect_transport(prefer="real" if backend == "gemini" else "emulator")
    return _get(backend, **options)


def check_backend_options(backend: Any, **facts: Any) -> None:
    """One :class:`InputError` naming the field when ``backend`` or its settings are malformed."""
    if backend is not None and (not isinstance(backend, str) or not backend.replace("-", "").isalnum()):
        raise InputError(f"backend must be a backend name such as 'vertex', not {backend!r}", field="backend")
    for name, value in facts.items():
        if value is not None and not isinstance(value, str):
            raise InputError(f"{name} must be text, not {value!r}", field=name)
        if value is not None and backend in (None, "gemini", "emulator"):
            raise InputError(f"{name} is a Vertex setting: give backend='vertex' too", field=name)


def _get(backend: str, **options: Any) -> Transport:
    try:
        return get_backend(backend, **options)
    except TypeError as exc:  # an option this backend does not know
        raise BackendError(f"backend {backend!r} does not take these options: {exc}") from None


def _answers(url: str | None) -> bool:
    """Something listens at the loopback ``url`` (a quick TCP connect, nothing sent)."""
    import socket

    parts = urlsplit(str(url or ""))
    if (parts.hostname or "") not in _LOOPBACK or not parts.port:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1.0):
            return True
    except OSError:
        return False


def _emulator_url(var: str, recorded: Any, what: str, backend: str) -> str:
    url = os.environ.get(var, "").strip()
    if url:
        return url.rstrip("/")
    if _answers(recorded):
        return str(recorded).rstrip("/")
    raise BackendError(
        f"this run's jobs live in the {backend} emulator, and no {what} is running where it was "
        f"({recorded or 'unknown'}): start it with `gembatch emulator start --vertex` and set "
        f"{EMULATOR_URL_VAR}, {STORAGE_URL_VAR} (and {BIGQUERY_URL_VAR}) as it prints"
    )


def reconnect(facts: dict[str, Any] | None) -> Transport:
    """The transport for a run that recorded ``facts`` (``None`` or the Developer API: as
    :func:`connect_transport` chooses, as for runs that recorded nothing)."""
    facts = dict(facts or {})
    backend = str(facts.get("backend") or "gemini")
    if backend in ("gemini", "emulator"):
        return connect_transport()
    if backend == "vertex":
        options = {k: facts[k] for k in _OPTIONS if facts.get(k)}
        if facts.get("api_version"):
            options["api_version"] = facts["api_version"]
        return _get("vertex", **options)
    if backend == "vertex-emulator":
        base_url = _emulator_url(EMULATOR_URL_VAR, facts.get("base_url"), "emulator", backend)
        storage_url = _emulator_url(
            STORAGE_URL_VAR, facts.get("storage_url"), "Cloud Storage stand-in", backend
        )
        options = {k: facts[k] for k in _OPTIONS if facts.get(k)}
        if facts.get("dataset"):
            options["bigquery_url"] = _emulator_url(
                BIGQUERY_URL_VAR, facts.get("bigquery_url"), "BigQuery stand-in", backend
            )
        return _get(backend, base_url=base_url, storage_url=storage_url, **options)
    return connect_backend(backend, facts)
