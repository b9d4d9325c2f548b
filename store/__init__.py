"""Storage: one async interface (store.base.Store), two engines chosen by config."""

from __future__ import annotations

from pathlib import Path

from store.base import BadCursor, Item, Page, Store, StoreConfigError, StoreError, TableMissing

__all__ = ["BadCursor", "Item", "Page", "Store", "StoreConfigError", "StoreError", "TableMissing",
           "open_store"]


async def open_store(*, table: str | None, sqlite_path: str | Path) -> Store:
    """DynamoDB when a table is named, else the embedded SQLite file."""
    if table:
        from store.dynamodb import DynamoDBStore

        return await DynamoDBStore.open(table)
    from store.sqlite import SQLiteStore

    return await SQLiteStore.open(sqlite_path)
