"""Kept answers served before Strawberry's view (web/hotpath.py) and what makes them
cheap: the store's change stamp, the expiry of what was read, remembered tokens, free text
memoized where it runs. Real gateways under uvicorn on one SQLite file, one with the fast
path off to compare with, and the real SQLite store for the parts below the edge."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from settings import load_settings
from store.keys import EXPIRES_AT, Key
from store.recording import RecordingStore
from store.sqlite import SQLiteStore
from tests.live_gateway import gateway_env, running_gateway
from tests.test_dashboard import seed_orders
from tests.test_fast_path import IDS, hits
from web.auth import AuthError, TokenVerifier, mint_token
from web.fastpath import CacheKey, Entry, FastPathCache

TYPENAME = {"query": "{ __typename }"}
SKIPPED_HEADERS = {"date", "server", "x-request-id"}
DEEP: object = 1
for _ in range(40):  # deeper than the view's MAX_JSON_DEPTH
    DEEP = [DEEP]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    env = gateway_env(tmp_path_factory.mktemp("hot"), EMAIL_BACKGROUND_SEND="false")
    with running_gateway(env) as on, running_gateway({**env, "FAST_PATH": "false"}) as off:
        yield on, off


def headers_of(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in SKIPPED_HEADERS}


def test_free_text_typename_is_kept_and_answers_the_same_bytes_and_headers(pair):
    on, off = pair
    executed = off.post(TYPENAME)
    on.post(TYPENAME)
    before = hits()
    kept = on.post(TYPENAME)
    assert hits() == before + 1
    assert (kept.status_code, kept.content, headers_of(kept)) == (200, executed.content, headers_of(executed))
    assert kept.headers["x-request-id"] and kept.headers["x-request-id"] != executed.headers["x-request-id"]
    # the caller's own request id is echoed, as the view does
    assert on.post(TYPENAME, **{"x-request-id": "hot-path-req-01"}).headers["x-request-id"] == "hot-path-req-01"


def test_a_kept_trusted_query_answers_what_the_view_answers_by_post_and_by_get(pair):
    on, off = pair
    user = "hot-headers"
    seed_orders(on, user, 3)
    token = on.token(user, email=f"{user}@example.com")
    auth = {"authorization": f"Bearer {token}"}
    body = {"documentId": IDS["Dashboard"], "variables": {"first": 2}}
    for _ in range(2):
        on.post(body, token)
    before = hits()
    kept, executed = on.post(body, token), off.post(body, token)
    assert hits() == before + 1
    assert (kept.content, headers_of(kept)) == (executed.content, headers_of(executed))
    params = {"documentId": IDS["Products"]}
    on.http.get("/graphql", params=params)
    kept, executed = on.http.get("/graphql", params=params), off.http.get("/graphql", params=params)
    assert (kept.content, headers_of(kept)) == (executed.content, headers_of(executed))
    assert kept.headers["cache-control"] == "public, max-age=60"
    with_auth = on.http.get("/graphql", params=params, headers=auth)
    assert with_auth.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize("body", [
    {"documentId": IDS["Products"], "variables": {}, "junk": DEEP},
    {"documentId": IDS["Products"], "variables": {}, "extensions": {"a": 1}},
    {"documentId": IDS["Products"], "variables": {}, "operationName": "NotIt"},
    {"documentId": IDS["Products"], "variables": {}, "query": "{ __typename }"},
    {**TYPENAME, "extra": DEEP},
])
def test_what_the_view_would_refuse_is_never_answered_from_memory(pair, body):
    """Each request is a kept one plus something the view looks at: the view answers it,
    with the same answer as with no fast path at all."""
    on, off = pair
    plain = {k: v for k, v in body.items() if k in ("documentId", "variables", "query")
             and not (k == "query" and "documentId" in body)}
    for _ in range(2):
        assert on.post(plain).status_code == 200
    same = {"x-request-id": "hot-path-refused"}  # errors carry it
    kept, executed = on.post(body, **same), off.post(body, **same)
    assert (kept.status_code, kept.content) == (executed.status_code, executed.content)


def test_a_bad_token_or_garbage_falls_through_to_the_view(pair):
    on, off = pair
    for _ in range(2):
        on.post(TYPENAME)
    for headers, content in [({"authorization": "Bearer not.a.token"}, orjson.dumps(TYPENAME)),
                             ({"authorization": "Basic abc"}, orjson.dumps(TYPENAME)),
                             ({}, b'{"query": "{ __typename }"'),
                             ({}, b'\xff\xfe'),
                             ({}, b"[]"),
                             ({}, b'{"query": 12}')]:
        sent = {"content-type": "application/json", "x-request-id": "hot-path-garbage", **headers}
        kept = on.http.post("/graphql", content=content, headers=sent)
        executed = off.http.post("/graphql", content=content, headers=sent)
        assert kept.status_code != 200 or b"errors" in kept.content
        assert (kept.status_code, kept.content) == (executed.status_code, executed.content), content


def test_where_only_trusted_documents_run_free_text_is_refused_every_time(tmp_path):
    env = gateway_env(tmp_path, TRUSTED_DOCUMENTS="only", EMAIL_BACKGROUND_SEND="false")
    with running_gateway(env) as only:
        for _ in range(3):
            answer = only.post(TYPENAME)
            assert answer.status_code == 400
            assert answer.json()["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        by_id = {"documentId": IDS["Products"], "variables": {}}
        assert [only.post(by_id).status_code for _ in range(3)] == [200, 200, 200]


# ---- below the edge -----------------------------------------------------------------

def test_the_sqlite_change_stamp_moves_on_any_commit_and_not_on_reads(tmp_path):
    async def run() -> None:
        path = tmp_path / "stamp.db"
        store, other = await SQLiteStore.open(path), await SQLiteStore.open(path)
        try:
            first = store.change_stamp()
            assert first is not None
            await store.get(Key("A", "B"))
            await store.query("A")
            assert store.change_stamp() == first
            await other.put({"PK": "A", "SK": "B", "n": 1})  # another connection (another worker)
            second = store.change_stamp()
            assert second != first
            await store.put({"PK": "A", "SK": "C", "n": 1})  # its own
            assert store.change_stamp() not in (first, second)
            refused = await store.put({"PK": "A", "SK": "C", "n": 2}, if_absent=True)  # no commit of a change
            assert refused is False
        finally:
            await store.close()
            await other.close()
        memory = await SQLiteStore.open(":memory:")
        try:
            assert memory.change_stamp() is None  # no second connection to ask: reads are made again
        finally:
            await memory.close()
    asyncio.run(run())


def test_an_answer_that_read_an_expiring_item_is_kept_only_until_it_expires(tmp_path):
    async def run() -> None:
        store = await SQLiteStore.open(tmp_path / "expiry.db")
        try:
            soon = int(time.time()) + 2
            await store.put({"PK": "HOLD#x", "SK": "A", EXPIRES_AT: soon})
            await store.put({"PK": "HOLD#x", "SK": "B", EXPIRES_AT: soon + 3600})
            recording = RecordingStore(store)
            await recording.query("HOLD#x")
            assert recording.fresh_until == soon
            cache = FastPathCache(None, [])
            key: CacheKey = (None, "doc", b"{}")
            cache.entries[key] = Entry(tuple(recording.reads), b"{}", 10, None, store.change_stamp(),
                                       recording.fresh_until)
            assert await cache.kept(key, store) is not None  # nothing committed, nothing expired
            await asyncio.sleep(max(0.0, soon - time.time()) + 0.1)
            assert await cache.kept(key, store) is None and key not in cache.entries
        finally:
            await store.close()
    asyncio.run(run())


def test_a_kept_answer_whose_reads_changed_without_the_stamp_is_not_served(tmp_path):
    """With no stamp (DynamoDB, or a stamp that moved), the reads are made again."""
    async def run() -> None:
        store = await SQLiteStore.open(tmp_path / "replay.db")
        try:
            await store.put({"PK": "P#1", "SK": "A", "n": 1})
            recording = RecordingStore(store)
            await recording.get(Key("P#1", "A"))
            cache = FastPathCache(None, [])
            key: CacheKey = (None, "doc", b"{}")
            cache.entries[key] = Entry(tuple(recording.reads), b"{}", 10, None, None, recording.fresh_until)
            assert await cache.kept(key, store) is not None  # the same answer: kept
            await store.put({"PK": "P#1", "SK": "A", "n": 2})
            assert await cache.kept(key, store) is None
            stale_stamp = store.change_stamp()
            cache.entries[key] = Entry(tuple(recording.reads), b"{}", 10, None, stale_stamp, float("inf"))
            await store.put({"PK": "P#1", "SK": "A", "n": 1})  # back to what was read: the stamp moved
            assert await cache.kept(key, store) is not None and cache.entries[key].stamp == store.change_stamp()
        finally:
            await store.close()
    asyncio.run(run())


def test_a_remembered_token_still_expires_on_time():
    settings = load_settings({"JWT_SECRET": "x" * 40, "QUOTE_SIGNING_SECRET": "y" * 40, "JWT_LEEWAY_SECONDS": "0"})
    verifier = TokenVerifier(settings)

    async def run() -> None:
        token = mint_token("x" * 40, "short-lived", ttl_seconds=2)
        assert (await verifier.verify(token)).user_id == "short-lived"
        assert (await verifier.verify(token)).user_id == "short-lived"  # remembered
        await asyncio.sleep(3.1)
        with pytest.raises(AuthError, match="expired"):
            await verifier.verify(token)
        with pytest.raises(AuthError):
            await verifier.verify(token[:-2] + "xx")  # never remembered
    asyncio.run(run())
