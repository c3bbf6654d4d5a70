"""Routing: which operation a request path names, and what the service answers for the others.

Three kinds of path: the ones the emulator implements (an operation name such as
``models.generate_content``); the service's other routes, answered as the service would for an
empty project (an empty list, a not-found) or with 501 where only the real service can do the work;
and paths that are no route at all, answered with the front end's HTML 404 page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gembatch.emulator._faults import OP_ALIASES
from gembatch.emulator._lineup import KNOWN_METHODS

__all__ = ["UNEMULATED", "Route", "html_not_found", "route"]

_API = re.compile(r"^/(?:(?P<kind>upload|download)/)?(?P<ver>v1(?:alpha|beta)?\d*)/(?P<rest>.+?)/?$", re.I)
_MODEL_METHOD = re.compile(r"^models/(?P<model>[^/:]+):(?P<method>\w+)$")
_ITEM = re.compile(r"^(?P<coll>files|batches|models)/(?P<id>[^/:]+)(?::(?P<verb>\w+))?$")
_OTHER = re.compile(r"^(?P<coll>[A-Za-z]+)(?:/(?P<id>[^/:]+))?(?P<sub>/[^:]*)?(?::(?P<verb>\w+))?$")
# Model methods the emulator implements, by REST name.
_IMPLEMENTED = {
    "generateContent": "models.generate_content",
    "streamGenerateContent": "models.generate_content_stream",
    "countTokens": "models.count_tokens",
    "batchGenerateContent": "batches.create",
    "embedContent": "models.embed_content",
    "batchEmbedContents": "models.batch_embed_contents",
    "asyncBatchEmbedContent": "batches.create_embeddings",
}
# Collections of the service the emulator does not model; a project without any answers these.
UNEMULATED = frozenset(
    {
        "cachedContents",
        "tunedModels",
        "fileSearchStores",
        "corpora",
        "operations",
        "generatedFiles",
        "dynamic",
    }
)


@dataclass(frozen=True)
class Route:
    """A routed request: the operation, path parameters and the API version of the path."""

    op: str
    params: dict[str, str] = field(default_factory=dict)
    version: str = "v1beta"


def route(method: str, path: str, query: Mapping[str, str]) -> Route | None:
    """The route of a Gemini API request, or None when the path is no route of the service."""
    m = _API.match(path)
    if m is None:
        return None
    kind, rest, version = (m.group("kind") or "").lower(), m.group("rest"), m.group("ver").lower()
    if kind == "upload":
        if rest == "files" and method == "POST":
            return Route("files.upload_chunk" if "upload_id" in query else "files.upload", {}, version)
        return None
    if rest in ("files", "batches", "models") and method == "GET":
        return Route(f"{rest}.list", {}, version)
    mm = _MODEL_METHOD.match(rest)
    if mm:
        name = mm.group("method")
        if name not in KNOWN_METHODS or method != "POST":
            return None
        op = _IMPLEMENTED.get(name, "models.unsupported")
        return Route(OP_ALIASES.get(op, op), {"model": mm.group("model"), "method": name}, version)
    item = _ITEM.match(rest)
    if item is not None:
        return _item_route(method, item.group("coll"), item.group("id"), item.group("verb"), version)
    other = _OTHER.match(rest)
    if other is not None and other.group("coll") in UNEMULATED:
        return _unemulated(method, other, version)
    if rest == "files:register" and method == "POST":
        return Route("unemulated", {"what": "files.register"}, version)
    return None


def _item_route(method: str, coll: str, ident: str, verb: str | None, version: str) -> Route | None:
    params = {"id": ident}
    if verb is None:
        if method == "GET":
            return Route(f"{coll}.get", params, version)
        if method == "DELETE" and coll in ("files", "batches"):
            return Route(f"{coll}.delete", params, version)
        if method in ("DELETE", "PATCH") and coll == "models":
            # Base models cannot be changed; only tuned models could, and there are none here.
            return Route("unemulated.get", {"collection": "models", "id": ident}, version)
        return None
    if coll == "files" and verb == "download" and method == "GET":
        return Route("files.download", params, version)
    if coll == "batches" and verb in ("cancel", "delete") and method == "POST":
        return Route(f"batches.{verb}", params, version)
    if coll == "batches" and verb in ("updateGenerateContentBatch", "updateEmbedContentBatch"):
        return Route("unemulated", {"what": f"batches.{verb}"}, version)
    return None


def _unemulated(method: str, m: re.Match[str], version: str) -> Route:
    coll, ident, sub, verb = m.group("coll"), m.group("id"), m.group("sub"), m.group("verb")
    if ident is None and verb is None and method == "GET":
        return Route("unemulated.list", {"collection": coll}, version)
    if ident is not None and not sub and verb is None and method in ("GET", "DELETE", "PATCH"):
        return Route("unemulated.get", {"collection": coll, "id": ident}, version)
    return Route("unemulated", {"what": f"{coll}{':' + verb if verb else ''} ({method})"}, version)


def html_not_found(path: str) -> bytes:
    """The Google front end's page for a URL no service route matches."""
    return (
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
        "  <title>Error 404 (Not Found)!!1</title>\n"
        "  <p><b>404.</b> <ins>That’s an error.</ins>\n"
        f"  <p>The requested URL <code>{_escape(path)}</code> was not found on this server.  "
        "<ins>That’s all we know.</ins>\n"
    ).encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
