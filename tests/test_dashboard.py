"""The dashboard: viewer, order history and order detail, through loaders, over HTTP."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.live_gateway import engine_env, gateway_env, running_gateway

VIEWER = "{ viewer { userId email displayName shippingAddress { line1 city postalCode country } } }"
DASHBOARD = """query($first: Int, $after: String) { viewer { userId email
  orders(first: $first, after: $after) {
    edges { cursor node { id orderNumber status total { amount currency } createdAt
            items { sku name quantity unitPrice { amount } total { amount } } } }
    pageInfo { hasNextPage endCursor } } } }"""
ORDER = "query($id: ID!) { order(id: $id) { id status total { amount } items { sku } } }"
UPDATE = """mutation($input: UpdateProfileInput!) { updateProfile(input: $input) {
  profile { displayName shippingAddress { line1 line2 city state postalCode country } }
  userErrors { field code message } } }"""


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def dash(request, tmp_path_factory):
    # 20 aliased order(id) fields in one request need more than the default 15 aliases
    env = gateway_env(tmp_path_factory.mktemp("dashboard"), GRAPHQL_MAX_ALIASES="25", **engine_env(request))
    with running_gateway(env, request.param) as client:
        client.control("webhooks", {"mode": "off"})
        yield client


def seed_orders(gateway, user_id: str, count: int, *, guest_email: str | None = None,
                start: int = 1_700_000_000) -> list[str]:
    """Orders as the webhook records them, written straight into the store."""
    from commerce.orders import project
    from store import keys
    from store.records import Order

    owner = guest_email.lower() if guest_email else user_id

    async def write() -> list[str]:
        store = await gateway.open_store()
        ids = []
        for n in range(count):
            owner_part = owner.replace("@", "AT").replace(".", "D").replace("-", "")
            order_id = f"cs_test_{owner_part}{start % 10**6:06d}{n:05d}x"
            key = keys.order_pointer(order_id)
            order = {
                "PK": key.pk, "SK": key.sk, "entity": "Order", "orderId": order_id,
                "orderNumber": "BC-" + order_id[-8:].upper(), "userId": owner,
                "guest": guest_email is not None, "status": "PAID",
                "facts": {"paid": True, "paymentFailed": False, "refunded": 0, "dispute": "none"},
                "items": [{"sku": "N-RED", "name": "Statement Necklace", "quantity": 1,
                           "unitPrice": 3000, "total": 3000}],
                "currency": "USD", "subtotal": 3000, "discount": 0, "shipping": 0, "tax": 0,
                "total": 3000 + n, "refunded": 0, "email": guest_email or f"{user_id}@example.com",
                "shippingAddress": None, "stripeSessionId": order_id, "stripePaymentIntentId": None,
                "quoteSignature": None, "createdAt": start + n,
                "updatedAt": start + n, "version": 1,
            }
            await store.put(order)
            await project(store, Order.from_item(order))
            ids.append(order_id)
        await store.close()
        return ids

    return asyncio.run(write())


def test_anonymous_has_no_viewer(dash):
    assert dash.gql(VIEWER) == {"data": {"viewer": None}}


def test_a_first_time_shopper_gets_a_profile_from_the_token(dash):
    token = dash.token("new-shopper", email="new@example.com")
    assert dash.gql(VIEWER, token=token)["data"]["viewer"] == {
        "userId": "new-shopper", "email": "new@example.com", "displayName": None,
        "shippingAddress": None}
    assert dash.count_items("USER#new-shopper", "PROFILE") == 1


def test_update_profile_saves_all_fields(dash):
    token = dash.token("editor", email="ed@example.com")
    address = {"line1": "1 Main St", "line2": None, "city": "Austin", "state": "TX",
               "postalCode": "78701", "country": "US"}
    body = dash.gql(UPDATE, {"input": {"displayName": "  Ed  ", "shippingAddress": address}}, token)
    result = body["data"]["updateProfile"]
    assert result["userErrors"] == []
    assert result["profile"] == {"displayName": "Ed", "shippingAddress": address}
    assert dash.gql(VIEWER, token=token)["data"]["viewer"]["displayName"] == "Ed"
    # fields not given stay as they were
    dash.gql(UPDATE, {"input": {"displayName": "Edna"}}, token)
    assert dash.gql(VIEWER, token=token)["data"]["viewer"]["shippingAddress"]["city"] == "Austin"


@pytest.mark.parametrize("change, field", [
    ({"displayName": "x" * 81}, ["input", "displayName"]),
    ({"displayName": "   "}, ["input", "displayName"]),
    ({"displayName": "bad\u0000name"}, ["input", "displayName"]),
    ({"displayName": "tab\tname"}, ["input", "displayName"]),
    ({"shippingAddress": {"country": "USA"}}, ["input", "shippingAddress", "country"]),
    ({"shippingAddress": {"country": "XX"}}, ["input", "shippingAddress", "country"]),
    ({"shippingAddress": {"country": "us"}}, ["input", "shippingAddress", "country"]),
    ({"shippingAddress": {"line1": "y" * 201}}, ["input", "shippingAddress", "line1"]),
    ({"shippingAddress": {"city": "a\nb"}}, ["input", "shippingAddress", "city"]),
    ({"shippingAddress": {"postalCode": "<script>"}}, ["input", "shippingAddress", "postalCode"]),
    ({"displayName": "Fine", "shippingAddress": {"country": "ZZ"}}, ["input", "shippingAddress", "country"]),
])
def test_bad_profile_input_is_a_user_error_and_nothing_changes(dash, change, field):
    token = dash.token("careful", email="c@example.com")
    dash.gql(UPDATE, {"input": {"displayName": "Original"}}, token)
    result = dash.gql(UPDATE, {"input": change}, token)["data"]["updateProfile"]
    assert result["profile"] is None
    assert field in [e["field"] for e in result["userErrors"]]
    assert all(e["code"] == "INVALID_INPUT" for e in result["userErrors"])
    assert dash.gql(VIEWER, token=token)["data"]["viewer"]["displayName"] == "Original"


def test_update_profile_needs_a_token(dash):
    body = dash.gql(UPDATE, {"input": {"displayName": "Nobody"}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_order_history_pages_newest_first(dash):
    ids = seed_orders(dash, "collector", 45)
    token = dash.token("collector", email="collector@example.com")
    seen, after, pages = [], None, 0
    while True:
        body = dash.gql(DASHBOARD, {"first": 20, "after": after}, token)
        orders = body["data"]["viewer"]["orders"]
        seen += [e["node"]["id"] for e in orders["edges"]]
        pages += 1
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]
    assert pages == 3 and seen == ids[::-1]
    default = dash.gql(DASHBOARD, {}, token)["data"]["viewer"]["orders"]["edges"]
    assert len(default) == 20


@pytest.mark.parametrize("first", [0, -1, 101, 2**31 - 1])
def test_first_is_bounded(dash, first):
    token = dash.token("collector", email="collector@example.com")
    body = dash.gql(DASHBOARD, {"first": first}, token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_forged_and_foreign_cursors_are_refused(dash):
    seed_orders(dash, "victim", 5)
    seed_orders(dash, "attacker", 5)
    victim = dash.token("victim", email="v@example.com")
    attacker = dash.token("attacker", email="a@example.com")
    victims_cursor = dash.gql(DASHBOARD, {"first": 2}, victim)["data"]["viewer"]["orders"]["pageInfo"]["endCursor"]
    from store.base import encode_cursor

    raw_store_cursor = encode_cursor("ORDER#1700000003#cs_test_victim00003x")
    for cursor in [victims_cursor, raw_store_cursor, "garbage", "", "A" * 3000, victims_cursor[:-2] + "AA"]:
        body = dash.gql(DASHBOARD, {"first": 2, "after": cursor}, attacker)
        assert body["data"] is None or body["data"]["viewer"] is None
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", cursor


def test_cross_user_order_access_leaks_nothing(dash):
    users = [f"owner-{n}" for n in range(6)]
    orders = {u: seed_orders(dash, u, 3) for u in users}
    tokens = {u: dash.token(u, email=f"{u}@example.com") for u in users}
    leaks = 0
    for reader in users:
        for owner in users:
            for order_id in orders[owner]:
                got = dash.gql(ORDER, {"id": order_id}, tokens[reader])["data"]["order"]
                if reader == owner:
                    assert got["id"] == order_id
                elif got is not None:
                    leaks += 1
        listed = dash.gql(DASHBOARD, {"first": 100}, tokens[reader])["data"]["viewer"]["orders"]["edges"]
        leaks += sum(e["node"]["id"] not in orders[reader] for e in listed)
    assert leaks == 0
    for order_id in orders[users[0]]:
        assert dash.gql(ORDER, {"id": order_id})["data"]["order"] is None  # anonymous


def test_a_missing_order_and_someone_elses_look_the_same(dash):
    seed_orders(dash, "alice", 1)
    bob = dash.token("bob", email="bob@example.com")
    [alices] = seed_orders(dash, "alice2", 1)
    for order_id in [alices, "cs_test_doesnotexist0000", "not-an-id", "", "cs_live_" + "x" * 300]:
        assert dash.gql(ORDER, {"id": order_id}, bob) == {"data": {"order": None}}


def test_a_guest_order_attaches_once_the_email_is_verified(dash):
    [guest_order] = seed_orders(dash, "unused", 1, guest_email="Guest.Buyer@example.com")
    unverified = dash.token("guest-user", email="guest.buyer@example.com", email_verified=False)
    edges = dash.gql(DASHBOARD, {"first": 10}, unverified)["data"]["viewer"]["orders"]["edges"]
    assert edges == []
    verified = dash.token("guest-user", email="guest.buyer@example.com")
    edges = dash.gql(DASHBOARD, {"first": 10}, verified)["data"]["viewer"]["orders"]["edges"]
    assert [e["node"]["id"] for e in edges] == [guest_order]
    assert dash.count_items("USER#guest.buyer@example.com", "ORDER#%") == 0
    assert dash.gql(ORDER, {"id": guest_order}, verified)["data"]["order"]["id"] == guest_order


def test_guest_orders_placed_after_the_first_sign_in_join_the_account_too(dash):
    verified = dash.token("later-guest-user", email="later.guest@example.com")
    assert dash.gql(DASHBOARD, {"first": 10}, verified)["data"]["viewer"]["orders"]["edges"] == []
    [first] = seed_orders(dash, "unused", 1, guest_email="Later.Guest@example.com", start=1_750_000_000)
    edges = dash.gql(DASHBOARD, {"first": 10}, verified)["data"]["viewer"]["orders"]["edges"]
    assert [e["node"]["id"] for e in edges] == [first]
    _, calls, _ = measured(dash, DASHBOARD, {"first": 10}, verified)  # nothing new: no claim, no scan
    assert calls <= 2
    [second] = seed_orders(dash, "unused2", 1, guest_email="later.guest@example.com", start=1_760_000_000)
    edges = dash.gql(DASHBOARD, {"first": 10}, verified)["data"]["viewer"]["orders"]["edges"]
    assert [e["node"]["id"] for e in edges] == [second, first]


def test_the_dashboard_of_a_verified_email_costs_two_store_calls(dash):
    seed_orders(dash, "budget-verified", 30)
    token = dash.token("budget-verified", email="budget.verified@example.com")
    dash.gql(VIEWER, token=token)
    _, calls, stripe_calls = measured(dash, DASHBOARD, {"first": 20}, token)
    assert calls <= 2 and stripe_calls == 0


def test_an_order_missing_from_the_store_is_fetched_from_stripe_and_kept(dash):
    token = dash.token("late-buyer", email="late@example.com")
    q = dash.gql('mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 1}]}) '
                 '{ quote { signature } } }', token=token)["data"]["createCartQuote"]["quote"]
    session = dash.gql('mutation($s: ID!) { createCheckoutSession(input: {quoteSignature: $s}) '
                       '{ checkoutSession { id } } }', {"s": q["signature"]}, token
                       )["data"]["createCheckoutSession"]["checkoutSession"]
    httpx.post(f"{dash.url}/_stripe/_emulator/checkout/sessions/{session['id']}/pay",
               json={"card_number": "4242424242424242", "email": "late@example.com"})
    assert dash.count_items(f"ORDER#{session['id']}") == 0
    stranger = dash.token("stranger", email="s@example.com")
    assert dash.gql(ORDER, {"id": session["id"]}, stranger)["data"]["order"] is None
    got = dash.gql(ORDER, {"id": session["id"]}, token)["data"]["order"]
    assert got["id"] == session["id"] and got["status"] == "PAID"
    assert dash.count_items(f"ORDER#{session['id']}") == 1
    _, stripe_before = dash.calls()
    dash.gql(ORDER, {"id": session["id"]}, token)
    assert dash.calls()[1] == stripe_before  # now from the store: no Stripe call


# ---- call budgets (as Saleor's count_queries) ----------------------------------------

def measured(gateway, query, variables, token):
    store_before, stripe_before = gateway.calls()
    body = gateway.gql(query, variables, token)
    assert "errors" not in body, body
    store_after, stripe_after = gateway.calls()
    return body, store_after - store_before, stripe_after - stripe_before


def test_the_dashboard_costs_two_store_calls_and_no_stripe_call(dash):
    seed_orders(dash, "budget", 120)
    token = dash.token("budget", email="budget@example.com")
    dash.gql(VIEWER, token=token)  # first sight makes the profile; measure the steady state
    _, store20, stripe20 = measured(dash, DASHBOARD, {"first": 20}, token)
    _, store100, stripe100 = measured(dash, DASHBOARD, {"first": 100}, token)
    assert store20 <= 2 and stripe20 == 0
    assert store100 == store20 and stripe100 == 0


def test_twenty_orders_by_id_cost_one_batch_read(dash):
    ids = seed_orders(dash, "many", 20)
    token = dash.token("many", email="many@example.com")
    query = "query {" + " ".join(f'o{n}: order(id: "{i}") {{ id status }}' for n, i in enumerate(ids)) + "}"
    body, store_calls, stripe_calls = measured(dash, query, None, token)
    assert len([v for v in body["data"].values() if v]) == 20
    assert store_calls == 1 and stripe_calls == 0


def test_a_shopper_who_paid_sees_the_order_in_history_and_detail(dash):
    token = dash.token("paying-shopper", email="payer@example.com")
    httpx.post(f"{dash.url}/_stripe/_emulator/webhooks", json={"mode": "deliver"})
    try:
        q = dash.gql('mutation { createCartQuote(input: {items: [{sku: "BR-PEARL", quantity: 2}]}) '
                     '{ quote { signature total { amount } } } }', token=token)["data"]["createCartQuote"]["quote"]
        session = dash.gql('mutation($s: ID!) { createCheckoutSession(input: {quoteSignature: $s}) '
                           '{ checkoutSession { id url } } }', {"s": q["signature"]}, token
                           )["data"]["createCheckoutSession"]["checkoutSession"]
        paid = httpx.post(session["url"], data={"email": "payer@example.com", "card_number": "4242424242424242"})
        assert paid.status_code == 303
        deadline = time.monotonic() + 5
        while dash.count_items("USER#paying-shopper", "ORDER#%") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        edges = dash.gql(DASHBOARD, {"first": 5}, token)["data"]["viewer"]["orders"]["edges"]
        assert [e["node"]["id"] for e in edges] == [session["id"]]
        assert edges[0]["node"]["total"]["amount"] == q["total"]["amount"]
        assert dash.gql(ORDER, {"id": session["id"]}, token)["data"]["order"]["status"] == "PAID"
    finally:
        httpx.post(f"{dash.url}/_stripe/_emulator/webhooks", json={"mode": "off"})


# ---- items the gateway did not write -------------------------------------------------

def write_items(gateway, items: list[dict]) -> None:
    async def write():
        store = await gateway.open_store()
        for item in items:
            await store.put(item)
        await store.close()

    asyncio.run(write())


def lambda_order(user_id: str, order_id: str, *, created: str = "2026-03-04T05:06:07+00:00",
                 status: str = "completed") -> dict:
    """An order as the replaced stripe-webhook Lambda writes it (report §6, step 1)."""
    return {"PK": f"USER#{user_id}", "SK": f"ORDER#1772600767#{order_id}", "orderId": order_id,
            "orderNumber": "BC-" + order_id[-8:].upper(), "status": status, "amount": 5500, "currency": "usd",
            "stripePaymentIntentId": "pi_old", "stripeSessionId": order_id, "customerEmail": "old@example.com",
            "items": [{"name": "Statement Necklace — Red", "quantity": 1, "unitPrice": 3000, "sku": "N-RED"},
                      {"name": "Magnetic Earrings — Silver", "quantity": 1, "unitPrice": 2500, "sku": "E-MAG-SIL"}],
            "createdAt": created, "updatedAt": created}


def test_orders_the_replaced_system_wrote_are_shown_and_bad_items_never_take_the_page_down(dash, caplog):
    user = f"olduser-{dash.engine}"
    [good] = seed_orders(dash, user, 1, start=1_800_000_000)
    broken = {**lambda_order(user, "cs_test_brokenNOTOTAL00001"), "amount": None}  # neither shape
    no_total = {k: v for k, v in seed_order_item(user, "cs_test_nototal000000001").items() if k != "total"}
    by_hand = {**seed_order_item(user, "cs_test_byhandSHIPPED0001"), "status": "SHIPPED",
               "facts": {"paid": True, "paymentFailed": False, "refunded": 0, "dispute": "needs_response"}}
    write_items(dash, [lambda_order(user, "cs_test_lambdaORDER000001"), broken, no_total, by_hand])
    token = dash.token(user)
    body = dash.gql(DASHBOARD, {"first": 10}, token)
    assert "errors" not in body, body
    nodes = {e["node"]["id"]: e["node"] for e in body["data"]["viewer"]["orders"]["edges"]}
    assert set(nodes) == {good, "cs_test_lambdaORDER000001", "cs_test_byhandSHIPPED0001"}
    old = nodes["cs_test_lambdaORDER000001"]
    assert old["status"] == "PAID" and old["total"] == {"amount": 5500, "currency": "USD"}
    assert old["createdAt"].startswith("2026-03-04T05:06:07")
    assert [(i["sku"], i["quantity"], i["unitPrice"]["amount"], i["total"]["amount"]) for i in old["items"]] == [
        ("N-RED", 1, 3000, 3000), ("E-MAG-SIL", 1, 2500, 2500)]
    # a hand-set status shows what its facts say (a dispute under a Stripe status: open)
    assert nodes["cs_test_byhandSHIPPED0001"]["status"] == "DISPUTED"
    skipped = [r.getMessage() for r in caplog.records if "unreadable order item" in r.getMessage()]
    assert any("cs_test_brokenNOTOTAL00001" in m for m in skipped)
    assert any("cs_test_nototal000000001" in m for m in skipped)


def seed_order_item(user_id: str, order_id: str) -> dict:
    return {"PK": f"USER#{user_id}", "SK": f"ORDER#1800000500#{order_id}", "entity": "Order", "orderId": order_id,
            "orderNumber": "BC-" + order_id[-8:].upper(), "userId": user_id, "guest": False, "status": "PAID",
            "facts": {"paid": True, "paymentFailed": False, "refunded": 0, "dispute": "none"},
            "items": [{"sku": "N-RED", "name": "Statement Necklace", "quantity": 1, "unitPrice": 3000, "total": 3000}],
            "currency": "USD", "subtotal": 3000, "discount": 0, "shipping": 0, "tax": 0, "total": 3000,
            "refunded": 0, "email": None, "shippingAddress": None, "createdAt": 1_800_000_500,
            "updatedAt": 1_800_000_500, "version": 1}
