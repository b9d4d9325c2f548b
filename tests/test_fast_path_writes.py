"""No stale answer from the fast path of trusted queries (web/fastpath.py) after any write:
one test per write path reachable here (webhook payment, refund, dispute; sync; the claim
of guest orders; the profile mutation), one for any write at all (straight into the store),
and two users asking the same never get each other's answer. Each answer is also compared,
byte for byte, with the executor's (the fast path off), as in tests/test_fast_path.py."""

from __future__ import annotations

import asyncio

import pytest

from tests.test_dashboard import seed_orders
from tests.test_fast_path import SYNC, by_id, gateway_pair, same_answer
from tests.test_webhooks import deliver, event_of, new_session, pay, refund


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def pair(request, tmp_path_factory):
    yield from gateway_pair(request, tmp_path_factory)


def dashboard_ids(pair, token: str, first: int = 20) -> list[dict]:
    import orjson

    answer = orjson.loads(same_answer(pair, "Dashboard", {"first": first}, token))
    return [e["node"] for e in answer["data"]["viewer"]["orders"]["edges"]]


def order_status(pair, token: str, order_id: str) -> str | None:
    import orjson

    found = orjson.loads(same_answer(pair, "OrderDetail", {"id": order_id}, token))["data"]["order"]
    return None if found is None else found["status"]


def test_no_stale_answer_after_a_webhook_payment_refund_and_dispute(pair):
    on, _ = pair
    user = f"hooked-{on.engine}"
    token = on.token(user, email=f"{user}@example.com")
    assert dashboard_ids(pair, token) == []
    session = new_session(on, user_id=user, amount=4000)
    pay(on, session.id)
    assert dashboard_ids(pair, token) == []  # not recorded yet
    deliver(on, event_of(on, "checkout.session.completed", session.id))
    assert [n["status"] for n in dashboard_ids(pair, token)] == ["PAID"]
    assert order_status(pair, token, session.id) == "PAID"
    pi = on.stripe().v1.checkout.sessions.retrieve(session.id).payment_intent
    refund(on, pi, 1000)
    deliver(on, event_of(on, "charge.refunded", pi))
    assert [n["refunded"]["amount"] for n in dashboard_ids(pair, token)] == [1000]
    assert order_status(pair, token, session.id) == "PARTIALLY_REFUNDED"
    charge = on.stripe().v1.payment_intents.retrieve(pi).latest_charge
    dispute = on.control(f"charges/{charge}/dispute", {})
    deliver(on, event_of(on, "charge.dispute.created", dispute["id"]))
    assert [n["status"] for n in dashboard_ids(pair, token)] == ["DISPUTED"]
    assert order_status(pair, token, session.id) == "DISPUTED"


def test_no_stale_answer_after_a_sync_repairs_a_missed_webhook(pair):
    on, _ = pair
    user = f"synced-{on.engine}"
    token = on.token(user, email=f"{user}@example.com")
    session = new_session(on, user_id=user)
    pay(on, session.id)  # the webhook never arrives
    assert dashboard_ids(pair, token) == []
    synced = on.gql(SYNC, None, on.token("sync-admin", admin=True))["data"]["syncOrders"]
    assert synced["userErrors"] == [] and synced["created"] >= 1
    assert [n["id"] for n in dashboard_ids(pair, token)] == [session.id]


def test_no_stale_answer_after_guest_orders_are_filed_and_claimed(pair):
    on, _ = pair
    email = f"late-guest-{on.engine}@example.com"
    token = on.token(f"late-{on.engine}", email=email)
    assert dashboard_ids(pair, token) == []
    [first] = seed_orders(on, "unused", 1, guest_email=email, start=1_760_000_000)
    assert [n["id"] for n in dashboard_ids(pair, token)] == [first]  # claimed by this request
    [second] = seed_orders(on, "unused", 1, guest_email=email, start=1_770_000_000)
    assert [n["id"] for n in dashboard_ids(pair, token)] == [second, first]


def test_no_stale_answer_after_a_profile_update(pair):
    import orjson

    on, _ = pair
    token = on.token(f"renamed-{on.engine}", email=f"renamed-{on.engine}@example.com")
    for name in ["First", "Second", None]:
        changed = by_id(on, "UpdateProfile", {"input": {"displayName": name}}, token)
        assert b'"userErrors":[]' in changed[1]
        viewer = orjson.loads(same_answer(pair, "Dashboard", {}, token))["data"]["viewer"]
        assert viewer["displayName"] == name


def test_any_write_to_an_item_the_execution_read_changes_the_answer(pair):
    """Generic: a write no GraphQL path makes (straight into the store, as a future write
    path or a person would) is seen at once."""
    on, _ = pair
    user = f"generic-{on.engine}"
    [order_id] = seed_orders(on, user, 1)
    token = on.token(user, email=f"{user}@example.com")
    assert order_status(pair, token, order_id) == "PAID"
    detail = same_answer(pair, "OrderDetail", {"id": order_id}, token)
    assert [n["total"]["amount"] for n in dashboard_ids(pair, token)] == [3000]

    async def rewrite() -> None:
        from store import keys

        store = await on.open_store()
        try:
            for key in [keys.order_pointer(order_id)]:
                item = await store.get(key)
                assert item is not None
                await store.put({**item, "status": "SHIPPED", "total": 3333})
            listing = (await store.query(f"USER#{user}", prefix="ORDER#")).items[0]
            await store.put({**listing, "total": 4444})
        finally:
            await store.close()

    asyncio.run(rewrite())
    assert [n["total"]["amount"] for n in dashboard_ids(pair, token)] == [4444]
    changed = same_answer(pair, "OrderDetail", {"id": order_id}, token)
    assert changed != detail and b'"amount":3333' in changed


def test_two_users_with_the_same_document_and_variables_never_get_each_others_answer(pair):
    on, _ = pair
    users = [f"twin-{n}-{on.engine}" for n in range(4)]
    orders = {u: seed_orders(on, u, 2 + n, start=1_780_000_000 + 1000 * n) for n, u in enumerate(users)}
    for _ in range(2):
        for u in users:
            for claims in ({"email": f"{u}@example.com"}, {"email": f"{u}@example.com", "email_verified": False},
                           {}):
                token = on.token(u, **claims)
                assert [n["id"] for n in dashboard_ids(pair, token)] == orders[u][::-1]
                for owner in users:
                    expected = "PAID" if owner == u else None
                    assert order_status(pair, token, orders[owner][0]) == expected


def test_the_same_user_with_other_claims_never_gets_the_answer_of_those_claims(pair):
    """A guest order shows by id to a token whose email is verified and matches, only:
    the same user id with the email unverified, or another email, must not get it."""
    on, _ = pair
    email = f"claims-{on.engine}@example.com"
    [guest_order] = seed_orders(on, "unused", 1, guest_email=email, start=1_795_000_000)
    user = f"claims-user-{on.engine}"
    verified = on.token(user, email=email)
    unverified = on.token(user, email=email, email_verified=False)
    other = on.token(user, email=f"other-{email}")
    admin = on.token(user, email=email, admin=True)
    for _ in range(2):
        assert order_status(pair, verified, guest_order) == "PAID"
        assert order_status(pair, unverified, guest_order) is None
        assert order_status(pair, other, guest_order) is None
        assert order_status(pair, admin, guest_order) == "PAID"
