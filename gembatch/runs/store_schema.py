"""The ledger's tables: articles, chunks (one per batch job attempt), results, events, meta, cleanup."""

from __future__ import annotations

__all__ = ["SCHEMA", "SCHEMA_VERSION"]

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
