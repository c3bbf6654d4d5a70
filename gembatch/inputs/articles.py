"""Read and validate input articles into the articles DataFrame (index ``article_id``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gembatch.errors import InputError
from gembatch.inputs.tokens import TokenEstimator
from gembatch.planning.catalog import Catalog, default_catalog

__all__ = ["ID_COLUMNS", "TEXT_COLUMNS", "is_articles_frame", "read_articles"]

ID_COLUMNS = ("article_id", "id")
TEXT_COLUMNS = ("text", "content")


class Where:
    """Names record ``i`` in messages ("a.jsonl line 7") and gives the row number errors carry."""

    def __init__(self, label: str, lines: Sequence[int] | None = None, offset: int = 0):
        self.label, self.lines, self.offset = label, lines, offset

    def row(self, i: int) -> int:
        return self.lines[i] if self.lines is not None else i + self.offset

    def __call__(self, i: int) -> str:
        return f"{self.label} {self.row(i)}"


_row = Where("row")


def read_articles(
    source: Any,
    id_col: str | None = None,
    text_col: str | None = None,
    *,
    model: str | None = None,
    catalog: Catalog | None = None,
    estimator: TokenEstimator | None = None,
) -> pd.DataFrame:
    """Read articles from a DataFrame, a list of dicts or strings, or a JSONL/JSON/CSV/Parquet file.

    Returns a frame indexed by ``article_id`` (unique str) with ``text``, ``chars`` and
    ``est_tokens`` and every other input column. Ids come from ``id_col`` (default ``article_id``
    or ``id``) or are generated from the row number; text from ``text_col`` (default ``text`` or
    ``content``). Any problem raises one :class:`~gembatch.InputError` naming the row (or file
    line) and field; nothing partial is returned. With ``model``, articles that cannot fit its
    context window are refused.

    Examples
    --------
    >>> read_articles(["First article.", "Second."]).loc["00001", "chars"]
    np.int64(7)
    """
    if id_col is not None and not isinstance(id_col, str):
        raise InputError(f"id_col must be a column name, not {id_col!r}")
    estimator = estimator or TokenEstimator()
    fast = _read_jsonl_fast(source)
    if fast is not None:
        try:
            return _normalise(fast, _row, id_col, text_col, model, catalog, estimator)
        except InputError:
            pass  # read again line by line: the error then names the exact file line
    frame, where = _load(source)
    if len(frame) == 0:
        raise InputError("no articles: the input is empty")
    return _normalise(frame, where, id_col, text_col, model, catalog, estimator)


def is_articles_frame(obj: Any) -> bool:
    """True for a frame :func:`read_articles` made (so it need not be read again)."""
    return (
        isinstance(obj, pd.DataFrame)
        and obj.index.name == "article_id"
        and {"text", "chars", "est_tokens"} <= set(obj.columns)
    )


# --- loading ---------------------------------------------------------------------------------


def _load(source: Any) -> tuple[pd.DataFrame, Where]:
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=source.index.name is None), _row
    if isinstance(source, str | os.PathLike) and not (isinstance(source, str) and "\n" in source):
        return _load_file(Path(source))
    if isinstance(source, Mapping):
        return _load_records(_articles_list(source, "input"), "item")
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        return _load_records(list(source), "item")
    raise InputError(
        f"cannot read articles from {type(source).__name__}; pass a DataFrame, a list of dicts or "
        "strings, or a .jsonl/.json/.csv/.parquet path"
    )


def _articles_list(data: Mapping[str, Any], what: str) -> list[Any]:
    items = data.get("articles")
    if not isinstance(items, list):
        raise InputError(f'{what}: a JSON object must hold a list under "articles"', field="articles")
    return items


def _load_records(items: list[Any], label: str) -> tuple[pd.DataFrame, Where]:
    where = Where(label)
    if not items:
        raise InputError("no articles: the input is empty")
    strings = isinstance(items[0], str)
    for i, x in enumerate(items):
        if strings and not isinstance(x, str):
            raise InputError(
                f"{where(i)}: expected a string like the items before it, got {type(x).__name__}", row=i
            )
        if not strings and not isinstance(x, Mapping):
            raise InputError(
                f"{where(i)}: expected an object with a text field (or all plain strings), "
                f"got {type(x).__name__}",
                row=i,
            )
    if strings:
        return pd.DataFrame({"text": items}), where
    return pd.DataFrame.from_records(items), where


def _load_file(path: Path) -> tuple[pd.DataFrame, Where]:
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix not in _READERS:
        raise InputError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; use {', '.join(_READERS)}"
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return _READERS[suffix](path)


def _decode_error(path: Path, data: bytes, exc: UnicodeDecodeError) -> InputError:
    line = data.count(b"\n", 0, exc.start) + 1
    return InputError(
        f"{path.name} line {line}: undecodable bytes (not UTF-8) at byte {exc.start}; "
        "re-save the file as UTF-8",
        row=line,
    )


#: Bytes of JSONL Arrow parses at a time (one block at a time: parsing several in parallel held
#: more memory and saved no time); its column types come from the first block.
_JSON_BLOCK = 4 << 20


def _read_jsonl_fast(source: Any) -> pd.DataFrame | None:
    """Arrow's streaming JSON reader: fast and frugal (the texts stay in Arrow buffers, read a block
    at a time, so the file is held once, not twice), but its errors do not name lines, so any
    failure (bad JSON, mixed types, bad UTF-8) falls back to the exact reader."""
    if not isinstance(source, str | os.PathLike) or Path(source).suffix.lower() not in (".jsonl", ".ndjson"):
        return None
    import pyarrow.json as pj

    try:
        options = pj.ReadOptions(block_size=_JSON_BLOCK, use_threads=False)
        reader = pj.open_json(Path(source), read_options=options)
        table = pa.Table.from_batches(list(reader), schema=reader.schema)
    except (pa.ArrowException, OSError, ValueError):
        return None
    if table.num_rows == 0 or table.num_columns == 0:
        return None
    pa.default_memory_pool().release_unused()  # the reader's spent blocks go back to the system
    if any(pa.types.is_timestamp(t) for t in table.schema.types):
        return None  # Arrow turns ISO date strings into timestamps; keep them as the text they were
    try:
        table.validate(full=True)  # Arrow's JSON reader lets invalid UTF-8 through
    except pa.ArrowInvalid:
        return None
    return table.to_pandas()


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, Where]:
    records: list[Any] = []
    lines: list[int] = []
    loads = json.JSONDecoder().decode
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path.name} line {lineno}: undecodable bytes (not UTF-8) at column {exc.start + 1}; "
                    "re-save the file as UTF-8",
                    row=lineno,
                ) from None
            if not text.strip():
                continue
            try:
                obj = loads(text)
            except ValueError as exc:
                raise InputError(f"{path.name} line {lineno}: invalid JSON ({exc})", row=lineno) from None
            if isinstance(obj, str):
                obj = {"text": obj}
            if not isinstance(obj, dict):
                raise InputError(
                    f"{path.name} line {lineno}: expected a JSON object, got {type(obj).__name__}",
                    row=lineno,
                )
            records.append(obj)
            lines.append(lineno)
    if not records:
        raise InputError(f"{path.name}: no articles (the file has no JSON lines)")

    return pd.DataFrame.from_records(records), Where(f"{path.name} line", lines)


def _read_json(path: Path) -> tuple[pd.DataFrame, Where]:
    data = path.read_bytes()
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _decode_error(path, data, exc) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path.name} line {exc.lineno}: invalid JSON ({exc.msg})", row=exc.lineno) from None
    if isinstance(obj, dict):
        obj = _articles_list(obj, path.name)
    if not isinstance(obj, list):
        raise InputError(f'{path.name}: expected a JSON list of articles or {{"articles": [...]}}')
    return _load_records(obj, f"{path.name} item")


def _read_csv(path: Path) -> tuple[pd.DataFrame, Where]:
    import io

    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _decode_error(path, data, exc) from None
    try:
        # Ids and texts stay strings ("007" is not 7); empty cells stay empty, not NaN.
        header = pd.read_csv(io.StringIO(text), nrows=0).columns
        keep = [c for c in header if c in ID_COLUMNS + TEXT_COLUMNS]
        frame = pd.read_csv(io.StringIO(text), dtype=dict.fromkeys(keep, str), keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path.name}: not a readable CSV file ({exc})") from None

    return frame, Where(f"{path.name} row", offset=1)


def _read_parquet(path: Path) -> tuple[pd.DataFrame, Where]:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InputError(f"{path.name}: not a readable Parquet file ({exc})") from None
    return frame.reset_index(drop=frame.index.name is None), Where(f"{path.name} row")


_READERS: dict[str, Callable[[Path], tuple[pd.DataFrame, Where]]] = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".json": _read_json,
    ".csv": _read_csv,
    ".parquet": _read_parquet,
    ".pq": _read_parquet,
}


# --- validation ------------------------------------------------------------------------------


def _pick(frame: pd.DataFrame, given: str | None, defaults: tuple[str, ...], what: str) -> str | None:
    if given is not None:
        if given not in frame.columns:
            raise InputError(
                f"{what} column {given!r} not found; columns: {', '.join(map(str, frame.columns))}",
                field=given,
            )
        return given
    return next((c for c in defaults if c in frame.columns), None)


def _fail(where: Where, rows: np.ndarray, problem: str, field: str) -> InputError:
    first = int(rows[0])
    more = f" (and {len(rows) - 1} more row(s))" if len(rows) > 1 else ""
    return InputError(f"{where(first)}: {problem}{more}", row=where.row(first), field=field)


def _normalise(  # noqa: PLR0917 - private, called once
    frame: pd.DataFrame,
    where: Where,
    id_col: str | None,
    text_col: str | None,
    model: str | None,
    catalog: Catalog | None,
    estimator: TokenEstimator,
) -> pd.DataFrame:
    frame.columns = [str(c) for c in frame.columns]
    tcol = _pick(frame, text_col, TEXT_COLUMNS, "text")
    if tcol is None:
        raise InputError(
            "no text column: expected 'text' or 'content' (or pass text_col=); columns: "
            f"{', '.join(frame.columns) or 'none'}",
            field="text",
        )
    icol = _pick(frame, id_col, ID_COLUMNS, "id")
    text = frame[tcol]
    if text.dtype == "str":  # pandas' string dtype: strings or missing values only
        is_str = text.notna().to_numpy()
    else:
        is_str = np.fromiter((isinstance(x, str) for x in text.tolist()), bool, len(text))
    if not is_str.all():
        bad = np.flatnonzero(~is_str)
        value = text.iloc[int(bad[0])]
        kind = (
            "missing (null)"
            if value is None or (isinstance(value, float) and np.isnan(value))
            else (f"not a string ({type(value).__name__})")
        )
        raise _fail(where, bad, f"field {tcol!r} is {kind}", tcol)
    text = text.astype("str")
    chars = text.str.len().to_numpy(dtype=np.int64)
    # Arrow's is-space test stops at the first other character: no copy, no regex.
    empty = (chars == 0) | pc.utf8_is_space(pa.array(text)).to_numpy(zero_copy_only=False)
    if empty.any():
        raise _fail(where, np.flatnonzero(empty), f"field {tcol!r} is empty or only whitespace", tcol)

    if icol is None:
        width = max(5, len(str(len(frame) - 1)))
        ids = pd.Series([f"{i:0{width}d}" for i in range(len(frame))], dtype="str")
    else:
        raw = frame[icol]
        null = raw.isna().to_numpy()
        if null.any():
            raise _fail(where, np.flatnonzero(null), f"id field {icol!r} is missing", icol)
        ids = raw.map(_id_text).astype("str")
        blank = (ids.str.strip() == "").to_numpy(dtype=bool)
        if blank.any():
            raise _fail(where, np.flatnonzero(blank), f"id field {icol!r} is empty", icol)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first_id = ids.iloc[int(rows[0])]
        same = np.flatnonzero((ids == first_id).to_numpy())
        raise InputError(
            f"duplicate article id {first_id!r} at {where(int(same[0]))} and {where(int(same[1]))}"
            f" ({int(ids.duplicated().sum())} duplicate(s) in all); ids must be unique",
            row=where.row(int(same[1])),
            field=icol or "id",
        )

    # chars and est_tokens are recomputed; an input column of that name is replaced.
    others = [c for c in frame.columns if c not in (tcol, icol, "chars", "est_tokens")]
    if "text" in others:
        raise InputError(
            f"text_col={tcol!r} but a column 'text' also exists; rename one of them", field="text"
        )
    est = estimator.tokens(chars)
    if model is not None:
        info = (catalog or default_catalog()).get(model)
        over = np.flatnonzero(est > info.context_window)
        if len(over):
            raise _fail(
                where,
                over,
                f"article of {chars[over[0]]:,} characters (~{est[over[0]]:,} tokens) is longer than "
                f"{info.id}'s context window of {info.context_window:,} tokens; split or shorten it",
                tcol,
            )
    out = frame[others].copy()
    out.insert(0, "text", text)
    out.insert(1, "chars", chars)
    out.insert(2, "est_tokens", est)
    out.index = pd.Index(ids.to_numpy(), dtype="str", name="article_id")
    return out


def _id_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # ids read as floats (a column with gaps) lose their ".0"
    return str(value)
