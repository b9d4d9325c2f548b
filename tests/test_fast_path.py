"""The fast path of trusted queries (web/fastpath.py) against the executor: every storefront
operation, on stored data of many shapes, answers byte for byte what graphql-core's executor
answers with the fast path off (FAST_PATH=false), on its first run and on its memoized
repeat; no write leaves a stale answer; one user never gets another's. Two real gateways
under uvicorn share one store (SQLite file or DynamoDB Local table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live_gateway import engine_env, gateway_env, running_gateway
from tests.test_dashboard import lambda_order, seed_order_item, seed_orders, write_items
from tests.test_webhooks import WHSEC
from web.fastpath import FAST_PATH, FastPathCache
from web.trusted import load_manifest

MANIFEST = Path(__file__).resolve().parent.parent / "examples" / "storefront" / "persisted-documents.json"
IDS = {d.operation_name: d.id for d in load_manifest(MANIFEST)}
SYNC = "mutation { syncOrders(input: {since: \"2020-01-01T00:00:00Z\"}) { created updated userErrors { code } } }"


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def pair(request, tmp_path_factory):
    yield from gateway_pair(request, tmp_path_factory)


def gateway_pair(request, tmp_path_factory):
    """(fast path on, fast path off), on one store. Payments: each its own emulator."""
    # Emails wait in the outbox: a sent one adds its event to the order between the two answers.
    env = gateway_env(tmp_path_factory.mktemp("fastpath"), STRIPE_WEBHOOK_SECRET=WHSEC,
                      STRIPE_SYNC_RATE="100", EMAIL_BACKGROUND_SEND="false", **engine_env(request))
    with running_gateway(env, request.param) as on, running_gateway({**env, "FAST_PATH": "false"}) as off:
        on.control("webhooks", {"mode": "off"})
        assert fast_path_of(on) is not None and fast_path_of(off) is None
        yield on, off


def fast_path_of(gateway) -> FastPathCache | None:
    return gateway.app.router.routes[0].endpoint.fast_path


def hits() -> float:
    return FAST_PATH.labels("hit")._value.get()


def by_id(gateway, operation: str, variables: dict | None, token: str | None) -> tuple[int, bytes]:
    headers = {"x-request-id": "fastpath-test"}  # errors carry it: the same on both sides
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = gateway.http.post("/graphql", json={"documentId": IDS[operation], "variables": variables},
                                 headers=headers)
    return response.status_code, response.content


def same_answer(pair, operation: str, variables: dict | None = None, token: str | None = None) -> bytes:
    """The fast path's answer, first and repeated, equals the executor's; returns it."""
    on, off = pair
    first = by_id(on, operation, variables, token)
    repeat = by_id(on, operation, variables, token)
    executed = by_id(off, operation, variables, token)
    assert first == executed, (operation, variables)
    assert repeat == executed, (operation, variables)
    return executed[1]


def shapes(pair) -> list[tuple[str, dict | None, str | None]]:
    """Stored data of many shapes, and the requests that read it."""
    on, _ = pair
    tag = on.engine
    many = f"many-{tag}"
    seed_orders(on, many, 100)
    guest_email = f"guest-{tag}@example.com"
    seed_orders(on, "unused", 3, guest_email=guest_email, start=1_750_000_000)
    odd = f"odd-{tag}"
    broken = {**lambda_order(odd, "cs_test_brokenNOTOTAL00009"), "amount": None}
    refunded = {**seed_order_item(odd, "cs_test_refundedORDER0001"), "status": "PARTIALLY_REFUNDED",
                "refunded": 1000, "facts": {"paid": True, "paymentFailed": False, "refunded": 1000,
                                           "dispute": "none"}}
    disputed = {**seed_order_item(odd, "cs_test_disputedORDER0001"), "SK": "ORDER#1800000600#cs_test_disputedORDER0001",
                "facts": {"paid": True, "paymentFailed": False, "refunded": 0, "dispute": "needs_response"}}
    write_items(on, [lambda_order(odd, "cs_test_lambdaORDER000009"), broken, refunded, disputed])
    [own] = seed_orders(on, f"detail-{tag}", 1)
    tokens = {
        "empty": on.token(f"empty-{tag}", email=f"empty-{tag}@example.com"),
        "many": on.token(many, email=f"{many}@example.com"),
        "guest": on.token(f"claimer-{tag}", email=guest_email.upper()),
        "unverified": on.token(f"unverified-{tag}", email=guest_email, email_verified=False),
        "odd": on.token(odd),
        "detail": on.token(f"detail-{tag}", email=f"detail-{tag}@example.com"),
        "admin": on.token(f"admin-{tag}", admin=True),
    }
    cursor = on.post({"documentId": IDS["Dashboard"], "variables": {"first": 20}}, tokens["many"]).json()[
        "data"]["viewer"]["orders"]["pageInfo"]["endCursor"]
    quote = on.post({"documentId": IDS["CreateCartQuote"], "variables": {"items": [
        {"sku": "N-RED", "quantity": 2}]}}).json()["data"]["createCartQuote"]["quote"]["signature"]
    cases: list[tuple[str, dict | None, str | None]] = []
    for who in [None, *tokens.values()]:
        cases += [("Dashboard", {}, who), ("Dashboard", {"first": 1}, who), ("Dashboard", None, who),
                  ("Dashboard", {"first": 100}, who), ("Products", {}, who),
                  ("OrderDetail", {"id": own}, who), ("OrderDetail", {"id": "cs_test_refundedORDER0001"}, who)]
    cases += [
        ("Dashboard", {"first": 20, "after": cursor}, tokens["many"]),
        ("Dashboard", {"first": 80, "after": cursor}, tokens["many"]),
        ("Dashboard", {"first": 20, "after": cursor}, tokens["empty"]),  # someone else's cursor
        ("Dashboard", {"first": 20, "after": "garbage"}, tokens["many"]),
        ("Dashboard", {"first": 0}, tokens["many"]),
        ("Dashboard", {"first": "twenty"}, tokens["many"]),
        ("OrderDetail", {"id": "cs_test_doesnotexist0000"}, tokens["detail"]),
        ("OrderDetail", {"id": "not-an-id"}, tokens["detail"]),
        ("OrderDetail", {}, tokens["detail"]),
        ("Dashboard", {}, "not.a.token"),
        ("Quote", {"signature": quote}, None),
        ("Quote", {"signature": "nope"}, None),
        ("CheckoutSuccess", {"id": "cs_test_unknownSESSION0001"}, None),
        ("CheckoutSuccess", {"id": "bad"}, None),
        ("UpdateProfile", {"input": {"displayName": "   "}}, tokens["odd"]),
        ("UpdateProfile", {"input": {"displayName": "Odd One"}}, tokens["odd"]),
    ]
    return cases


def test_every_operation_answers_what_the_executor_answers(pair):
    before = hits()
    cases = shapes(pair)
    answers = [same_answer(pair, *case) for case in cases]
    assert hits() - before >= 50  # most repeats were served from memory, not all executed again
    assert any(b'"errors"' in a for a in answers) and any(b'"orderNumber"' in a for a in answers)


def test_the_dashboard_by_the_fast_path_costs_at_most_two_store_calls(pair):
    on, _ = pair
    user = f"budget-{on.engine}"
    seed_orders(on, user, 30)
    token = on.token(user, email=f"{user}@example.com")
    for n in range(3):
        store_before = sum(on.app.state.services.store.calls.values())
        hits_before = hits()
        assert by_id(on, "Dashboard", {"first": 20}, token)[0] == 200
        calls = sum(on.app.state.services.store.calls.values()) - store_before
        assert calls <= 2 or n == 0, calls  # the first sight makes the profile (a write: not kept)
        assert hits() == hits_before + (n == 2)  # the second is executed and kept, the third served


def test_memory_is_bounded_by_entries_and_by_bytes(pair):
    on, _ = pair
    fast = fast_path_of(on)
    assert fast is not None
    users = [f"bounded-{n}-{on.engine}" for n in range(6)]
    for n, user in enumerate(users):
        seed_orders(on, user, 3, start=1_790_000_000 + 1000 * n)
    tokens = [on.token(u, email=f"{u}@example.com") for u in users]
    saved = fast.max_entries, fast.max_bytes
    try:
        fast.max_entries = 3
        for token in tokens:
            same_answer(pair, "Dashboard", {"first": 5}, token)
        assert len(fast.entries) == 3
        assert fast.bytes == sum(entry.size for entry in fast.entries.values())
        fast.max_entries, fast.max_bytes = 100, max(entry.size for entry in fast.entries.values()) * 2
        for token in tokens:
            same_answer(pair, "Dashboard", {"first": 5}, token)
        assert 1 <= len(fast.entries) <= 2 and fast.bytes <= fast.max_bytes
        assert fast.bytes == sum(entry.size for entry in fast.entries.values())
    finally:
        fast.max_entries, fast.max_bytes = saved


def test_a_hit_still_authenticates_logs_counts_and_sets_cache_control(pair, caplog):
    import logging

    import orjson

    from telemetry.metrics import REQUEST_SECONDS

    on, _ = pair
    user = f"logged-{on.engine}"
    seed_orders(on, user, 2)
    token = on.token(user, email=f"{user}@example.com")
    same_answer(pair, "Dashboard", {}, token)
    same_answer(pair, "Dashboard", {}, None)  # the anonymous answer is memoized too
    observed = REQUEST_SECONDS.labels("Dashboard")._sum.get()
    before = hits()
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        response = on.post({"documentId": IDS["Dashboard"], "variables": {}}, token, **{"x-request-id": "hit-1"})
    assert hits() == before + 1 and response.headers["cache-control"] == "private, no-store"
    assert REQUEST_SECONDS.labels("Dashboard")._sum.get() > observed
    line = [r for r in caplog.records if getattr(r, "kind", None) == "request"][-1]  # this request's line
    assert line.operation == "Dashboard"
    # SQLite: nothing committed since, by the change stamp; DynamoDB: the two reads again
    assert line.storeCalls == (0 if on.engine == "sqlite" else 2) and line.stripeCalls == 0 and line.outcome == "ok"
    # a bad or expired token is refused, never answered from memory (the anonymous one or the user's)
    expired = on.token(user, email=f"{user}@example.com", ttl_seconds=-120)
    for bad in ["not.a.token", expired, token[:-3] + "abc"]:
        answer = orjson.loads(on.post({"documentId": IDS["Dashboard"], "variables": {}}, bad).content)
        assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # a public query by GET from memory keeps its CDN header
    for _ in range(2):
        got = on.http.get("/graphql", params={"documentId": IDS["Products"]})
        assert got.status_code == 200 and got.headers["cache-control"] == "public, max-age=60"


def test_a_store_failing_while_the_reads_are_replayed_is_a_coded_error_then_recovers(tmp_path):
    import sqlite3

    import orjson

    with running_gateway(gateway_env(tmp_path)) as gateway:
        user = "outage-shopper"
        seed_orders(gateway, user, 2)
        token = gateway.token(user, email=f"{user}@example.com")
        body = {"documentId": IDS["Dashboard"], "variables": {}}
        for _ in range(3):
            good = gateway.post(body, token).content
        before = hits()
        with sqlite3.connect(gateway.settings.gateway_db) as db:
            db.execute("ALTER TABLE items RENAME TO items_away")
        try:
            failed = gateway.post(body, token)
            assert failed.status_code == 200 and hits() == before
            assert orjson.loads(failed.content)["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        finally:
            with sqlite3.connect(gateway.settings.gateway_db) as db:
                db.execute("ALTER TABLE items_away RENAME TO items")
        assert gateway.post(body, token).content == good
