"""Emulator throughput: batches.get/list and generateContent requests per second, and a 12k file batch."""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

from gembatch.emulator import running

MODEL = "gemini-2.5-flash-lite"
WORDS = [
    "the",
    "council",
    "approved",
    "a",
    "new",
    "budget",
    "for",
    "the",
    "city",
    "after",
    "weeks",
    "of",
    "debate",
    "among",
    "residents",
    "and",
    "officials",
    "who",
    "argued",
    "about",
    "schools",
    "roads",
    "parks",
    "housing",
    "taxes",
    "transport",
    "water",
    "energy",
    "and",
    "the",
    "future",
    "of",
    "local",
    "business",
    "while",
    "reporters",
    "asked",
    "questions",
    "about",
    "costs",
    "delays",
    "and",
    "promises",
]


def article(rng: random.Random, chars: int = 9000) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
        out.append(sentence)
        size += len(sentence) + 1
    return " ".join(out)


def write_input(path: Path, n: int) -> int:
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            request = {
                "contents": [{"role": "user", "parts": [{"text": "Summarise:\n" + article(rng)}]}],
                "generationConfig": {"maxOutputTokens": 256},
            }
            fh.write(json.dumps({"key": f"a{i:05d}", "request": request}) + "\n")
    return path.stat().st_size


def rate(label: str, func, seconds: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        func()
        count += 1
    elapsed = time.perf_counter() - start
    print(f"{label:<32} {count / elapsed:8.0f} requests/s ({count} in {elapsed:.1f}s)")


def main(n: int = 12_000, speed: float = 600.0) -> int:
    with tempfile.TemporaryDirectory() as tmp, running(speed=speed, tier="tier3") as emu:
        client = emu.client()
        job = client.batches.create(
            model=MODEL, src=[{"contents": [{"parts": [{"text": "hello"}], "role": "user"}]}]
        )
        for i in range(30):
            client.batches.create(
                model=MODEL,
                src=[{"contents": [{"parts": [{"text": f"x{i}"}], "role": "user"}]}],
                config={"display_name": f"bench-{i}"},
            )
        assert job.name is not None
        name = job.name
        rate("batches.get", lambda: client.batches.get(name=name))
        rate("batches.list (pageSize 10, 1 page)", lambda: client.batches.list(config={"page_size": 10}))
        text = article(random.Random(1))
        rate(
            "models.generateContent (9k chars)",
            lambda: client.models.generate_content(model=MODEL, contents=text),
        )

        path = Path(tmp) / "input.jsonl"
        t0 = time.perf_counter()
        size = write_input(path, n)
        print(f"input: {n} requests, {size / 1e6:.1f} MB (written in {time.perf_counter() - t0:.1f}s)")
        t0 = time.perf_counter()
        uploaded = client.files.upload(file=str(path), config={"mime_type": "application/jsonl"})
        t_upload = time.perf_counter() - t0
        t1 = time.perf_counter()
        assert uploaded.name is not None
        big = client.batches.create(model=MODEL, src=uploaded.name, config={"display_name": "bench-12k"})
        t_create = time.perf_counter() - t1
        assert big.name is not None
        while True:
            big = client.batches.get(name=big.name)
            if big.done:
                break
            time.sleep(0.2)
        t_done = time.perf_counter() - t1
        assert big.dest is not None
        assert big.dest.file_name is not None
        t2 = time.perf_counter()
        data = client.files.download(file=big.dest.file_name)
        t_download = time.perf_counter() - t2
        lines = data.count(b"\n")
        print(
            f"upload {t_upload:.1f}s, create {t_create:.1f}s, create→{big.state} {t_done:.1f}s "
            f"at speed {speed:g}, download {t_download:.1f}s ({len(data) / 1e6:.1f} MB, {lines} lines)"
        )
        print(f"total wall time of the {n}-request file batch: {time.perf_counter() - t0:.1f}s")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (client + in-process emulator): {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:2])))
