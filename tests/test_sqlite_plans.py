"""The SQLite store finds every item it reads through the primary key: a statement that
scans the table costs time that grows with the shop's history (a batch read of the
dashboard or a webhook once cost 4.4 ms at 20,000 items this way, and webhook ingestion
fell from ~160 to ~90 events a second)."""

from __future__ import annotations

import sqlite3

import pytest

from store.sqlite import LIVE, SCHEMA, batch_get_sql


def plan(sql: str, params: tuple) -> list[str]:
    conn = sqlite3.connect(":memory:")
    conn.execute(SCHEMA)
    conn.executemany("INSERT INTO items VALUES (?, ?, NULL, ?)",
                     [(f"USER#{n}", f"ORDER#{m}", b"{}") for n in range(50) for m in range(20)])
    conn.execute("ANALYZE")
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


@pytest.mark.parametrize("count", [1, 2, 100])
def test_a_batch_read_finds_each_key_through_the_primary_key(count):
    steps = plan(batch_get_sql(count), (*("USER#1", "ORDER#1") * count, 0))
    assert any("USING PRIMARY KEY" in step for step in steps), steps
    assert not any(step.startswith("SCAN items") for step in steps), steps


@pytest.mark.parametrize("sql, params", [
    (f"SELECT body FROM items WHERE pk = ? AND sk = ? AND {LIVE}", ("USER#1", "ORDER#1", 0)),
    (f"SELECT body FROM items WHERE pk = ? AND {LIVE} AND sk >= ? AND sk < ? AND sk < ? ORDER BY sk DESC LIMIT ?",
     ("USER#1", 0, "ORDER#", "ORDER$", "ORDER#9", 11)),
])
def test_single_reads_and_pages_search_the_primary_key(sql, params):
    steps = plan(sql, params)
    assert steps and all("USING PRIMARY KEY" in step for step in steps), steps
