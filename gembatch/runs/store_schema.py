"""The ledger's tables: articles, chunks (one per batch job attempt), results, events, meta, cleanup."""

from __future__ import annotations

__all__ = ["SCHEMA", "SCHEMA_VERSION", "TALLIES_FILL", "TALLIES_TABLE", "TALLY_NAMES", "TRIGGERS"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    rep_id TEXT NOT NULL,            -- the article whose identical request is actually sent
    est_input_tokens INTEGER NOT NULL,
    est_output_tokens INTEGER NOT NULL,
    est_cost_usd REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | succeeded | failed (derived from results)
    attempts INTEGER NOT NULL DEFAULT 0,
    chunk_id TEXT,                   -- chunk of the latest attempt
    requeue INTEGER NOT NULL DEFAULT 0,       -- 1: waits for a retry chunk
    error TEXT
);
CREATE INDEX IF NOT EXISTS articles_status ON articles(status);
CREATE INDEX IF NOT EXISTS articles_rep ON articles(rep_id);
-- the few articles waiting for a retry, found without reading every article at every step
CREATE INDEX IF NOT EXISTS articles_requeue ON articles(status, attempts, seq) WHERE requeue = 1;
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    wave INTEGER NOT NULL,
    state TEXT NOT NULL,
    model TEXT NOT NULL,
    display_name TEXT NOT NULL UNIQUE,
    batch_name TEXT,
    remote_state TEXT,
    stats TEXT,                      -- raw batchStats JSON from the last sweep
    source TEXT,
    input_file TEXT,
    output_file TEXT,
    articles INTEGER NOT NULL,
    est_input_tokens INTEGER NOT NULL,
    est_output_tokens INTEGER NOT NULL,
    est_cost_usd REAL NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    thoughts_tokens INTEGER,
    cost_usd REAL,
    succeeded INTEGER,
    failed INTEGER,
    retried INTEGER,
    create_tries INTEGER NOT NULL DEFAULT 0,
    blocked TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    intent_at REAL,
    submitted_at REAL,
    finished_at REAL,
    collected_at REAL,
    cancel_reason TEXT
);
CREATE INDEX IF NOT EXISTS chunks_state ON chunks(state);
CREATE TABLE IF NOT EXISTS chunk_articles (
    chunk_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    PRIMARY KEY (chunk_id, article_id)
);
CREATE TABLE IF NOT EXISTS results (
    article_id TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,            -- succeeded | retryable | failed
    output_text TEXT,
    output_json TEXT,
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    thoughts_tokens INTEGER,
    cost_usd REAL,
    finish_reason TEXT,
    error TEXT,
    time REAL NOT NULL,
    PRIMARY KEY (article_id, chunk_id)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    chunk_id TEXT,
    message TEXT,
    enqueued_tokens INTEGER,
    spend_usd REAL,                  -- committed: actual + estimates in flight
    actual_usd REAL,                 -- settled so far
    succeeded INTEGER,
    failed INTEGER,
    pending INTEGER
);
CREATE TABLE IF NOT EXISTS cleanup (
    kind TEXT NOT NULL,              -- upload (name: a display name) | file | job (name: the resource)
    name TEXT NOT NULL,
    chunk_id TEXT,
    reason TEXT,
    state TEXT NOT NULL DEFAULT 'pending',    -- pending | done
    tries INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,          -- a failed delete is tried again from then on
    last_error TEXT,
    created_at REAL NOT NULL,
    done_at REAL,
    PRIMARY KEY (kind, name)
);
"""

#: Running totals kept by triggers, so the figures every event records cost O(1), not a ledger-wide
#: sum. Triggers live in the file: any writer (an older gembatch included) keeps them right.
TALLY_NAMES = (
    "status:pending", "status:succeeded", "status:failed",
    "results", "cost_usd", "prompt_tokens", "output_tokens", "thoughts_tokens",
)  # fmt: skip

TALLIES_TABLE = "CREATE TABLE IF NOT EXISTS tallies (name TEXT PRIMARY KEY, value REAL NOT NULL)"

#: Fill the tallies from the data (a ledger made before they existed, or a new one).
TALLIES_FILL = """
INSERT OR REPLACE INTO tallies(name, value)
SELECT 'status:' || s.status, (SELECT COUNT(*) FROM articles a WHERE a.status = s.status)
FROM (SELECT 'pending' AS status UNION ALL SELECT 'succeeded' UNION ALL SELECT 'failed') s
UNION ALL SELECT 'results', COUNT(*) FROM results
UNION ALL SELECT 'cost_usd', COALESCE(SUM(cost_usd), 0) FROM results
UNION ALL SELECT 'prompt_tokens', COALESCE(SUM(prompt_tokens), 0) FROM results
UNION ALL SELECT 'output_tokens', COALESCE(SUM(output_tokens), 0) FROM results
UNION ALL SELECT 'thoughts_tokens', COALESCE(SUM(thoughts_tokens), 0) FROM results
"""

_RESULT_SUMS = ("cost_usd", "prompt_tokens", "output_tokens", "thoughts_tokens")


def _add(sign: str, row: str) -> str:
    """Statements adding (``+``) or removing (``-``) one results row's figures."""
    parts = [f"UPDATE tallies SET value = value {sign} 1 WHERE name = 'results';"]
    parts += [
        f"UPDATE tallies SET value = value {sign} COALESCE({row}.{c}, 0) WHERE name = '{c}';"
        for c in _RESULT_SUMS
    ]
    return " ".join(parts)


_OLD_RESULT = "(SELECT * FROM results WHERE article_id = NEW.article_id AND chunk_id = NEW.chunk_id)"

TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS tally_article_add AFTER INSERT ON articles BEGIN "
    "UPDATE tallies SET value = value + 1 WHERE name = 'status:' || NEW.status; END",
    "CREATE TRIGGER IF NOT EXISTS tally_article_drop AFTER DELETE ON articles BEGIN "
    "UPDATE tallies SET value = value - 1 WHERE name = 'status:' || OLD.status; END",
    "CREATE TRIGGER IF NOT EXISTS tally_article_status AFTER UPDATE OF status ON articles "
    "WHEN OLD.status IS NOT NEW.status BEGIN "
    "UPDATE tallies SET value = value - 1 WHERE name = 'status:' || OLD.status; "
    "UPDATE tallies SET value = value + 1 WHERE name = 'status:' || NEW.status; END",
    # INSERT OR REPLACE removes the old row without firing delete triggers: take it out first
    "CREATE TRIGGER IF NOT EXISTS tally_result_replace BEFORE INSERT ON results "
    f"WHEN EXISTS {_OLD_RESULT} BEGIN "
    + " ".join(
        f"UPDATE tallies SET value = value - COALESCE((SELECT {c} FROM results WHERE "
        f"article_id = NEW.article_id AND chunk_id = NEW.chunk_id), 0) WHERE name = '{c}';"
        for c in _RESULT_SUMS
    )
    + " UPDATE tallies SET value = value - 1 WHERE name = 'results'; END",
    f"CREATE TRIGGER IF NOT EXISTS tally_result_add AFTER INSERT ON results BEGIN {_add('+', 'NEW')} END",
    f"CREATE TRIGGER IF NOT EXISTS tally_result_drop AFTER DELETE ON results BEGIN {_add('-', 'OLD')} END",
)
