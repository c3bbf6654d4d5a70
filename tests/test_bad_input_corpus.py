"""A corpus of expected mistakes on every face: Python, the CLI (``gembatch`` subprocesses) and REST.

Each case asserts one clear message naming the problem (no traceback), the right exit code or HTTP
status (never 500), nothing submitted (the emulator's job and file listings are unchanged), and a
pre-existing run directory left byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import gembatch as gb
from gembatch.errors import GembatchError, InputError, LedgerDamaged, RunBusy, RunMismatch, UnknownModel
from gembatch.runs.lock import driver_lock
from gembatch.server import create_app

MODEL = "gemini-2.5-flash-lite"
TOKEN = "corpus-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# -- the world every case starts from ----------------------------------------------------------
@dataclass
class World:
    emu: Any
    root: Path
    files: dict[str, Path]
    done_run: Path  # a finished run: the template of every pre-existing run directory
    api: TestClient
    dead: TestClient  # the same API with a service that cannot be reached


def _write_inputs(root: Path) -> dict[str, Path]:
    good = root / "articles.jsonl"
    gb.synthetic_articles(6, mean_chars=400, seed=5).to_json(good, orient="records", lines=True)
    files = {"good": good}
    raw = {
        "empty": b"",
        "badjson": b"not json\n",
        "notext": b'{"id": "1", "body": "a"}\n',
        "dup": b'{"id": "1", "text": "a"}\n{"id": "1", "text": "b"}\n',
        "nonutf8": b'{"id": "1", "text": "caf\xe9"}\n',
        "schema_type": b'{"type": "banana"}',
        "schema_json": b"{",
        "schema_kw": b'{"type": "object", "properties": {"a": {"type": "string"}}, "patternProperties": {}}',
    }
    names = {
        "empty": "empty.jsonl",
        "badjson": "bad.jsonl",
        "notext": "notext.jsonl",
        "dup": "dup.jsonl",
        "nonutf8": "latin1.jsonl",
        "schema_type": "s_type.json",
        "schema_json": "s_json.json",
        "schema_kw": "s_kw.json",
    }
    for key, data in raw.items():
        path = root / names[key]
        path.write_bytes(data)
        files[key] = path
    (root / "articles.txt").write_text("hello\n")
    files["txt"] = root / "articles.txt"
    (root / "header_only.csv").write_text("id,text\n")
    files["header_only"] = root / "header_only.csv"
    (root / "a_file").write_text("not a directory\n")
    files["a_file"] = root / "a_file"
    return files


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("corpus")
    files = _write_inputs(root)
    with gb.emulator.running(speed=20_000) as emu:
        arts = gb.read_articles(files["good"])
        done_run = root / "done-run"
        run = gb.Run.create(done_run, arts, gb.plan(arts, MODEL), client=emu.client())
        assert run.wait(timeout=120, progress=False)
        run.store.close()
        app = create_app(root / "rest-runs", token=TOKEN, client_factory=emu.client)
        dead_app = create_app(root / "dead-runs", token=TOKEN, client_factory=_unreachable, resume=False)
        with (
            TestClient(app, raise_server_exceptions=False) as api,
            TestClient(dead_app, raise_server_exceptions=False) as dead,
        ):
            yield World(emu, root, files, done_run, api, dead)


def _unreachable() -> Any:
    from google import genai

    return genai.Client(api_key="unused", http_options={"base_url": "http://127.0.0.1:9"})


def _service(emu: Any) -> tuple[int, list[str]]:
    """What the emulator holds: jobs ever created, and the files it lists now."""
    created = sum(emu.stats()["batches_created_by_display_name"].values())
    return created, sorted(str(f.name) for f in emu.client().files.list())


def _hash_tree(path: Path) -> dict[str, str]:
    if path.is_file():
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(path.rglob("*"))
    }


def _prepare_dir(world: World, kind: str, where: Path) -> Path:
    """A run directory as the case needs it: ``fresh`` (absent), ``done``, or damaged copies."""
    path = where / "run"
    if kind == "fresh":
        return path
    if kind == "file":
        path.write_text("a file where a run directory goes\n")
        return path
    shutil.copytree(world.done_run, path)
    ledger = path / "ledger.sqlite"
    for side in ("ledger.sqlite-wal", "ledger.sqlite-shm"):
        (path / side).unlink(missing_ok=True)
    data = ledger.read_bytes()
    if kind == "empty":
        ledger.write_bytes(b"")
    elif kind == "truncated":
        ledger.write_bytes(data[: len(data) // 3])
    elif kind == "corrupt":
        ledger.write_bytes(b"\x00garbage" * 16 + data[128:])
    elif kind == "missing":
        ledger.unlink()
    return path


# -- the corpus --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    face: str  # cli | py | rest
    call: Any  # CLI: argv with {placeholders}; py: fn(world, run_dir); rest: (method, path, body)
    expect: Any  # CLI: exit code; py: exception type; rest: HTTP status
    needle: str  # words the message must contain (case-insensitive)
    run_dir: str = "fresh"  # fresh | done | file | empty | truncated | corrupt | missing
    usage: bool = False  # argparse's own refusal: usage lines before the error line


def cli(cid: str, argv: str, code: int, needle: str, *, run_dir: str = "fresh", usage: bool = False) -> Case:
    return Case(cid, "cli", argv.split(), code, needle, run_dir, usage)


RUN = f"run {{good}} --run-dir {{dir}} --model {MODEL}"

CLI_CASES = [
    # files
    cli("file-missing", f"run {{root}}/nope.jsonl --run-dir {{dir}} --model {MODEL}", 2, "no such file"),
    cli("file-empty", f"run {{empty}} --run-dir {{dir}} --model {MODEL}", 2, "no articles"),
    cli("file-wrong-format", f"run {{badjson}} --run-dir {{dir}} --model {MODEL}", 2, "line 1: invalid json"),
    cli(
        "file-wrong-suffix", f"run {{txt}} --run-dir {{dir}} --model {MODEL}", 2, "unsupported file type .txt"
    ),
    cli("file-no-text-column", f"run {{notext}} --run-dir {{dir}} --model {MODEL}", 2, "no text column"),
    cli(
        "file-duplicate-ids", f"run {{dup}} --run-dir {{dir}} --model {MODEL}", 2, "duplicate article id '1'"
    ),
    cli("file-not-utf8", f"run {{nonutf8}} --run-dir {{dir}} --model {MODEL}", 2, "not utf-8"),
    cli("file-header-only", f"run {{header_only}} --run-dir {{dir}} --model {MODEL}", 2, "no articles"),
    # values
    cli("budget-nan", f"{RUN} --budget nan", 2, "budget_usd must be a positive number"),
    cli("budget-inf", f"{RUN} --budget inf", 2, "budget_usd must be a positive number"),
    cli("budget-negative", f"{RUN} --budget=-1", 2, "budget_usd must be a positive number"),
    cli("budget-zero", f"{RUN} --budget 0", 2, "budget_usd must be a positive number"),
    cli("budget-abc", f"{RUN} --budget abc", 2, "invalid float value: 'abc'", usage=True),
    cli("attempts-0", f"{RUN} --max-attempts 0", 2, "max_attempts must be a whole number from 1 to 10"),
    cli("attempts-11", f"{RUN} --max-attempts 11", 2, "max_attempts must be a whole number from 1 to 10"),
    cli(
        "attempts-negative", f"{RUN} --max-attempts=-1", 2, "max_attempts must be a whole number from 1 to 10"
    ),
    cli("chunk-tokens-0", f"{RUN} --chunk-tokens 0", 2, "chunk_tokens must be"),
    cli("chunk-tokens-negative", f"{RUN} --chunk-tokens=-5", 2, "chunk_tokens must be"),
    cli("chunk-tokens-abc", f"{RUN} --chunk-tokens abc", 2, "invalid int value: 'abc'", usage=True),
    cli("model-unknown", "run {good} --run-dir {dir} --model nope", 2, "unknown model 'nope'"),
    cli("model-retired", "run {good} --run-dir {dir} --model gemini-2.0-flash", 2, "was retired on"),
    cli("headroom-over-1", f"{RUN} --headroom 5", 2, "headroom must be"),
    # prompts
    cli("prompt-no-field", f"{RUN} --prompt hello", 2, "prompt uses no article column"),
    cli("prompt-unknown-field", f"{RUN} --prompt {{{{nope}}}}", 2, "{nope} has no matching article column"),
    cli("prompt-unclosed-brace", f"{RUN} --prompt {{{{text", 2, "unclosed '{'"),
    cli("prompt-unmatched-brace", f"{RUN} --prompt text}}}}", 2, "unmatched '}'"),
    cli("prompt-positional", f"{RUN} --prompt {{{{0}}}}", 2, "is not a column name"),
    cli("prompt-empty", f"{RUN} --prompt=", 2, "prompt is empty"),
    # schemas
    cli("schema-bad-type", f"{RUN} --schema {{schema_type}}", 2, "'banana' is not a gemini type"),
    cli("schema-invalid-json", f"{RUN} --schema {{schema_json}}", 2, "is not valid json"),
    cli("schema-unsupported-keyword", f"{RUN} --schema {{schema_kw}}", 2, "patternproperties"),
    cli("schema-missing-file", f"{RUN} --schema {{root}}/nope.json", 2, "does not exist"),
    cli("schema-bad-import", f"{RUN} --schema nomodule_x:Model", 2, "cannot be imported"),
    # run directories
    cli("rundir-is-file", RUN, 2, "is a file, not a directory", run_dir="file"),
    cli("rundir-under-file", f"run {{good}} --run-dir {{a_file}}/sub --model {MODEL}", 2, "not a directory"),
    cli("status-of-file", "status {dir}", 2, "is a file, not a run directory", run_dir="file"),
    cli("status-of-nothing", "status {root}/nowhere", 2, "holds no gembatch run"),
    cli("ledger-empty-run", RUN, 2, "its ledger is empty", run_dir="empty"),
    cli("ledger-truncated-run", RUN, 2, "its ledger is unreadable", run_dir="truncated"),
    cli("ledger-corrupt-run", RUN, 2, "its ledger is unreadable", run_dir="corrupt"),
    cli("ledger-missing-run", RUN, 2, "its ledger is missing", run_dir="missing"),
    cli("ledger-empty-status", "status {dir}", 2, "--force", run_dir="empty"),
    cli("ledger-corrupt-resume", "resume {dir}", 2, "restore ledger.sqlite", run_dir="corrupt"),
    cli(
        "ledger-truncated-cleanup",
        "cleanup {dir} --dry-run",
        2,
        "its ledger is unreadable",
        run_dir="truncated",
    ),
    cli(
        "rerun-other-prompt",
        f"{RUN} --prompt Translate:{{{{text}}}}",
        2,
        "these differ from it",
        run_dir="done",
    ),
    # job names
    cli("job-path-traversal", "status batches/../../etc/passwd", 2, "is not a batch job name"),
    cli("job-uppercase", "status batches/UPPER", 2, "is not a batch job name"),
    cli("job-results-traversal", "results batches/..%2Fx", 2, "is not a batch job name"),
    cli("job-unknown", "status batches/doesnotexist", 2, "no batch job batches/doesnotexist"),
    cli("job-unknown-results", "results batches/doesnotexist", 2, "no batch job batches/doesnotexist"),
]


def _py_create(**kw: Any) -> Callable[[World, Path], Any]:
    def call(world: World, run_dir: Path) -> Any:
        arts = gb.read_articles(world.files["good"])
        return gb.Run.create(run_dir, arts, gb.plan(arts, MODEL), client=world.emu.client(), **kw)

    return call


def _py_plan(model: str = MODEL, **kw: Any) -> Callable[[World, Path], Any]:
    return lambda world, _: gb.plan(gb.read_articles(world.files["good"]), model, **kw)


def _py_cleanup_while_driven(world: World, run_dir: Path) -> Any:
    run = gb.Run.open(run_dir, client=world.emu.client())
    try:
        with driver_lock(run_dir) as mine:  # as another driver would hold it
            assert mine
            return run.cleanup()
    finally:
        run.store.close()  # an open SQLite connection keeps its -wal/-shm files beside the ledger


PY_CASES = [
    Case(
        "py-read-missing",
        "py",
        lambda w, _: gb.read_articles(w.root / "nope.jsonl"),
        InputError,
        "no such file",
    ),
    Case(
        "py-read-dup", "py", lambda w, _: gb.read_articles(w.files["dup"]), InputError, "duplicate article id"
    ),
    Case("py-plan-budget-abc", "py", _py_plan(budget_usd="abc"), InputError, "not 'abc'"),
    Case("py-plan-budget-nan", "py", _py_plan(budget_usd=float("nan")), InputError, "not nan"),
    Case("py-plan-prompt-unclosed", "py", _py_plan(prompt="{text"), InputError, "unclosed '{'"),
    Case("py-plan-prompt-no-field", "py", _py_plan(prompt="hello"), InputError, "no article column"),
    Case("py-plan-schema", "py", _py_plan(schema={"type": "banana"}), InputError, "not a gemini type"),
    Case("py-plan-model", "py", _py_plan(model="nope"), UnknownModel, "unknown model 'nope'"),
    Case("py-create-attempts-0", "py", _py_create(max_attempts=0), InputError, "from 1 to 10, not 0"),
    Case("py-create-budget-inf", "py", _py_create(budget_usd=float("inf")), InputError, "not inf"),
    Case("py-create-on-file", "py", _py_create(), InputError, "is a file", run_dir="file"),
    Case("py-create-empty-ledger", "py", _py_create(), LedgerDamaged, "ledger is empty", run_dir="empty"),
    Case(
        "py-open-corrupt", "py", lambda w, d: gb.Run.open(d), LedgerDamaged, "unreadable", run_dir="corrupt"
    ),
    Case(
        "py-create-other-attempts",
        "py",
        _py_create(max_attempts=5),
        RunMismatch,
        "max_attempts",
        run_dir="done",
    ),
    Case(
        "py-cleanup-while-driven", "py", _py_cleanup_while_driven, RunBusy, "another process", run_dir="done"
    ),
    Case(
        "py-request-attempts-11",
        "py",
        lambda w, _: gb.RunRequest(inputs=w.files["good"], max_attempts=11),
        InputError,
        "from 1 to 10",
    ),
]


def rest(cid: str, extra: dict[str, Any] | None, status: int, needle: str, path: str = "/v1/runs") -> Case:
    body = None if extra is None else {"articles": ["hello world", "second article"], **extra}
    return Case(cid, "rest", ("POST" if body is not None else "GET", path, body), status, needle)


REST_CASES = [
    rest("rest-budget-negative", {"budget_usd": -1}, 422, "budget_usd must be a positive number"),
    rest("rest-budget-abc", {"budget_usd": "abc"}, 422, "valid number"),
    rest("rest-attempts-0", {"max_attempts": 0}, 422, "from 1 to 10, not 0"),
    rest("rest-attempts-11", {"max_attempts": 11}, 422, "from 1 to 10, not 11"),
    rest("rest-prompt-no-field", {"prompt": "hi"}, 400, "no article column"),
    rest("rest-prompt-unknown", {"prompt": "{nope}"}, 400, "{nope} has no matching article column"),
    rest("rest-prompt-unclosed", {"prompt": "{text"}, 400, "unclosed '{'"),
    rest("rest-prompt-empty", {"prompt": ""}, 422, "at least 1 character"),
    rest("rest-schema-type", {"output_schema": {"type": "banana"}}, 400, "not a gemini type"),
    rest(
        "rest-schema-keyword",
        {"output_schema": {"type": "object", "patternProperties": {}}},
        400,
        "patternproperties",
    ),
    rest("rest-model-unknown", {"model": "nope"}, 400, "unknown model 'nope'"),
    rest("rest-model-retired", {"model": "gemini-2.0-flash"}, 400, "was retired"),
    rest("rest-chunk-tokens-0", {"chunk_tokens": 0}, 422, "chunk_tokens must be"),
    rest("rest-run-id-traversal", {"run_id": "../x"}, 400, "invalid run id"),
    rest("rest-articles-empty", {"articles": []}, 422, "at least 1 item"),
    rest(
        "rest-duplicate-ids",
        {"articles": [{"id": "1", "text": "a"}, {"id": "1", "text": "b"}]},
        400,
        "duplicate article id '1'",
    ),
    rest("rest-no-text", {"articles": [{"id": "1", "body": "a"}]}, 400, "no text column"),
    rest("rest-mode", {"mode": "fast"}, 422, "mode must be one of"),
    rest("rest-job-unknown", None, 404, "no batch job batches/doesnotexist", path="/v1/jobs/doesnotexist"),
    rest("rest-job-bad-name", None, 400, "invalid job id", path="/v1/jobs/UPPER"),
    rest("rest-job-results-unknown", None, 404, "no batch job", path="/v1/jobs/abc/results"),
    rest("rest-run-unknown", None, 404, "no run 'nope'", path="/v1/runs/nope"),
    Case("rest-cleanup-unknown", "rest", ("POST", "/v1/runs/nope/cleanup", None), 404, "no run 'nope'"),
    Case("rest-upload-empty", "rest", ("FILE", "a.jsonl", b""), 400, "no articles"),
    Case("rest-upload-not-utf8", "rest", ("FILE", "a.jsonl", b"\xff\xfe bad"), 400, "not utf-8"),
    Case("rest-upload-suffix", "rest", ("FILE", "a.txt", b"x"), 400, ".jsonl"),
    Case("rest-upload-bad-json", "rest", ("FILE", "a.jsonl", b"notjson\n"), 400, "invalid json"),
    Case("rest-unreachable-job", "rest", ("DEAD-GET", "/v1/jobs/abc", None), 503, "cannot reach the service"),
    Case("rest-unreachable-results", "rest", ("DEAD-GET", "/v1/jobs/abc/results", None), 503, "cannot reach"),
    Case(
        "rest-unreachable-submit",
        "rest",
        ("DEAD-POST", "/v1/jobs", {"contents": ["hi"]}),
        503,
        "cannot reach",
    ),
    Case(
        "rest-budget-nan",
        "rest",
        ("RAW", "/v1/runs", '{"articles": ["a"], "budget_usd": NaN}'),
        422,
        "not nan",
    ),
]

CASES = CLI_CASES + PY_CASES + REST_CASES


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert {c.face for c in CASES} == {"cli", "py", "rest"}
    assert len({c.id for c in CASES}) == len(CASES)


# -- running one case ---------------------------------------------------------------------------
def _run_cli(world: World, case: Case, run_dir: Path) -> None:
    subs = {k: str(v) for k, v in world.files.items()} | {"root": str(world.root), "dir": str(run_dir)}
    argv = [a.format(**subs) for a in case.call]
    env = {
        "GEMBATCH_EMULATOR_URL": world.emu.base_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "PATH": "",
        "GEMBATCH_LIMITS_FILE": "off",
        "HOME": str(world.root),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "gembatch", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == case.expect, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    notice = "gembatch: no GEMINI_API_KEY found"  # the emulator notice, not an error
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith(notice)]
    if case.usage:
        assert lines[-1].startswith("gembatch ")
        lines = lines[-1:]
    assert len(lines) == 1, f"one clear line, not: {proc.stderr}"
    assert lines[0].startswith("gembatch")
    assert case.needle.lower() in lines[0].lower()


def _run_py(world: World, case: Case, run_dir: Path) -> None:
    with pytest.raises(GembatchError) as info:
        case.call(world, run_dir)
    assert isinstance(info.value, case.expect), repr(info.value)
    message = str(info.value)
    assert "Traceback" not in message
    assert case.needle.lower() in message.lower()


def _run_rest(world: World, case: Case) -> None:
    method, path, body = case.call
    if method.startswith("DEAD-"):
        call = world.dead.get if method == "DEAD-GET" else world.dead.post
        resp = call(path, headers=AUTH, **({} if body is None else {"json": body}))
    elif method == "FILE":
        resp = world.api.post("/v1/runs", headers=AUTH, files={"file": (path, body)})
    elif method == "RAW":
        resp = world.api.post(path, headers={**AUTH, "content-type": "application/json"}, content=body)
    elif method == "POST":
        resp = world.api.post(path, headers=AUTH, json=body)
    else:
        resp = world.api.get(path, headers=AUTH)
    assert resp.status_code == case.expect, resp.text
    assert resp.status_code < 500 or resp.status_code in (502, 503)
    assert resp.headers["content-type"].startswith("application/json")
    text = resp.text
    assert "Traceback" not in text
    assert case.needle.lower() in json.dumps(resp.json()["detail"]).lower()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_expected_mistake(world: World, case: Case, tmp_path: Path) -> None:
    run_dir = _prepare_dir(world, case.run_dir, tmp_path)
    before_dir = _hash_tree(run_dir) if run_dir.exists() else None
    before_service = _service(world.emu)
    runs_before = world.api.get("/v1/runs", headers=AUTH).json()["runs"]

    if case.face == "cli":
        _run_cli(world, case, run_dir)
    elif case.face == "py":
        _run_py(world, case, run_dir)
    else:
        _run_rest(world, case)

    assert _service(world.emu) == before_service, "nothing may reach the service"
    assert world.api.get("/v1/runs", headers=AUTH).json()["runs"] == runs_before, "no run was created"
    if before_dir is None:
        assert not (run_dir / "ledger.sqlite").exists(), "no run was started"
    else:
        assert _hash_tree(run_dir) == before_dir, "the run directory must be left byte-identical"


def test_an_unwritable_run_dir_is_one_line(world: World, tmp_path: Path) -> None:
    """A run directory that cannot be made: a read-only parent (or, for root, whom permissions do
    not stop, a path under /sys, where nothing may be created)."""
    import os

    if os.geteuid() != 0:
        parent = tmp_path / "read-only"
        parent.mkdir()
        parent.chmod(0o500)
        target = parent / "run"
    elif Path("/sys/kernel").is_dir():
        target = Path("/sys/gembatch-corpus-run")
    else:  # pragma: no cover - root without sysfs
        pytest.skip("no way to make an unwritable directory here")
    before = _service(world.emu)
    case = cli("rundir-unwritable", f"run {{good}} --run-dir {target} --model {MODEL}", 2,
               "cannot make the run directory")  # fmt: skip
    _run_cli(world, case, target)
    assert _service(world.emu) == before
    assert not target.exists()
