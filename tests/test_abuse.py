"""Issue 15, tried as an attacker would: from outside, against a running gateway (real
uvicorn, real HTTP, the real stripe SDK against the emulator), on both store engines.

2. only sessions this gateway made become orders; a mismatch is held for review
3. guest orders apart from user ids
4. Stripe reads bounded per request and per client
5. one quote, one shopper (no 500 on a race)
6. key parts bounded in bytes, identically on both engines
9. no personal data on the success page's order without the owner's token
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from telemetry.logs import JsonLines
from tests.live_gateway import engine_env, gateway_env, record_sessions, running_gateway
from tests.services import fresh_dynamodb_table

QUOTE = """mutation($items: [CartItemInput!]!) {
  createCartQuote(input: {items: $items}) {
    quote { signature total { amount currency } } userErrors { field code message } } }"""
CHECKOUT = """mutation($sig: ID!, $email: String) {
  createCheckoutSession(input: {quoteSignature: $sig, email: $email}) {
    checkoutSession { id url status total { amount } } userErrors { field code message } } }"""
ORDER = "query($id: ID!) { order(id: $id) { id status total { amount } email } }"
HISTORY = "{ viewer { userId orders(first: 50) { edges { node { id status total { amount } } } } } }"
SUCCESS = """query($id: ID!) { checkoutSession(id: $id) { status order {
  id orderNumber status email shippingName shippingAddress { line1 city postalCode country }
  items { sku quantity total { amount } } total { amount currency } } } }"""
SYNC = "mutation { syncOrders { scanned created updated ignored events userErrors { code } } }"
NINETY = [{"sku": "N-RED", "quantity": 3}]  # 3 x 3000: a 9,000 quote


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def shop(request, tmp_path_factory):
    env = gateway_env(tmp_path_factory.mktemp("abuse"), SHIPPING_COUNTRIES="US,GB", **engine_env(request))
    with running_gateway(env, request.param) as client:
        yield client


def make_quote(gateway, items=NINETY, token=None) -> dict:
    body = gateway.gql(QUOTE, {"items": items}, token)
    return body["data"]["createCartQuote"]["quote"]


def checkout(gateway, signature, email=None, token=None) -> dict:
    body = gateway.gql(CHECKOUT, {"sig": signature, "email": email}, token)
    assert "errors" not in body, body
    return body["data"]["createCheckoutSession"]


def pay(gateway, session_id: str, email: str = "buyer@example.com", **fields) -> None:
    address = {"line1": "1 Main St", "city": "Austin", "postal_code": "78701", "country": "US"}
    gateway.control(f"checkout/sessions/{session_id}/pay",
                    {"card_number": "4242424242424242", "email": email, "name": "Ada Buyer", **address, **fields})
    gateway.control("webhooks/flush")


def stored_order(gateway, session_id: str) -> dict | None:
    found = [i for i in gateway.all_items() if i["PK"] == f"ORDER#{session_id}"]
    return found[0] if found else None


def history(gateway, token) -> list[dict]:
    return [e["node"] for e in gateway.gql(HISTORY, token=token)["data"]["viewer"]["orders"]["edges"]]


def attackers_session(gateway, victim: str | None, signature: str, amount: int = 50):
    """A session made on the Stripe account directly (the Dashboard, another integration,
    a restricted key), dressed in the gateway's metadata and a real quote's signature, for
    Stripe's minimum charge (50 cents)."""
    metadata = {"source": "commerce-gateway", "quoteSignature": signature}
    if victim:
        metadata["userId"] = victim
    return gateway.stripe().v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://attacker.example/ok", "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": amount,
                                       "product_data": {"name": "Statement Necklace",
                                                        "metadata": {"sku": "N-RED"}}}, "quantity": 1}]})


# ---- 2. only sessions this gateway made become orders ----------------------------------

def test_a_session_made_directly_on_stripe_with_our_metadata_never_becomes_an_order(shop):
    victim = f"victim2-{shop.engine}"
    token = shop.token(victim, email=f"{victim}@example.com")
    real = make_quote(shop, token=token)
    assert real["total"]["amount"] == 9000
    forged = attackers_session(shop, victim, real["signature"])
    pay(shop, forged.id)  # the emulator delivers checkout.session.completed to the gateway
    assert stored_order(shop, forged.id) is None, "the webhook made an order"
    # the success page, the dashboard's fallback, reconciliation: the same answer
    assert shop.gql(SUCCESS, {"id": forged.id})["data"]["checkoutSession"] is None
    assert shop.gql(ORDER, {"id": forged.id}, token)["data"]["order"] is None
    admin = shop.token("ops", email="ops@example.com", admin=True)
    report = shop.gql(SYNC, token=admin)["data"]["syncOrders"]
    assert report["userErrors"] == [] and report["ignored"] >= 1
    assert stored_order(shop, forged.id) is None, "a read path made an order"
    assert history(shop, token) == []


def test_a_recorded_session_that_does_not_match_its_quote_is_held_for_review(shop, caplog):
    """Defence in depth: even with a SESSION# record (here one written by an earlier version,
    which kept only the quote's signature, and one of today's), a session that charges 50
    cents for a 9,000 quote is NEEDS_REVIEW, logged and counted, never PAID."""
    caplog.set_level(logging.INFO, logger="gateway.access")
    victim = f"victim2r-{shop.engine}"
    token = shop.token(victim, email=f"{victim}@example.com")
    real = make_quote(shop, token=token)
    metrics_before = review_count(shop)

    old_style = attackers_session(shop, victim, real["signature"])
    write_legacy_record(shop, old_style.id, real["signature"], victim)
    today = attackers_session(shop, victim, real["signature"])
    record_sessions(shop, [{"id": today.id, "userId": victim, "lines": [(3000, 3)],
                            "quoteSignature": real["signature"]}])
    shop.control("webhooks", {"mode": "off"})
    try:
        pay(shop, old_style.id)
        pay(shop, today.id)
    finally:
        shop.control("webhooks", {"mode": "deliver"})
    # one through the dashboard's fallback, one through the success page
    assert shop.gql(ORDER, {"id": old_style.id}, token)["data"]["order"]["status"] == "NEEDS_REVIEW"
    seen = shop.gql(SUCCESS, {"id": today.id}, token)["data"]["checkoutSession"]["order"]
    assert seen["status"] == "NEEDS_REVIEW" and seen["total"]["amount"] == 50
    assert {o["id"]: o["status"] for o in history(shop, token)} == {
        old_style.id: "NEEDS_REVIEW", today.id: "NEEDS_REVIEW"}
    # a refund or a late event does not turn it into a normal paid order
    admin = shop.token("ops", email="ops@example.com", admin=True)
    shop.gql(SYNC, token=admin)
    assert (stored_order(shop, today.id) or {}).get("status") == "NEEDS_REVIEW"
    assert review_count(shop) - metrics_before == 2
    lines = [json.loads(JsonLines().format(r)) for r in caplog.records if r.name == "gateway.access"]
    reviews = {line["orderId"] for line in lines if line.get("kind") == "order_review"}
    assert reviews == {old_style.id, today.id}


def write_legacy_record(gateway, session_id: str, signature: str, user_id: str) -> None:
    """SESSION# as versions before this one wrote it: no owner or amounts, the quote's signature."""
    from store import keys

    async def write():
        store = await gateway.open_store()
        key = keys.session_pointer(session_id)
        await store.put({"PK": key.pk, "SK": key.sk, "entity": "SessionPointer", "quoteSignature": signature,
                         "stripeSessionId": session_id, "userId": user_id, "createdAt": 1_700_000_000})
        await store.close()

    asyncio.run(write())


def review_count(gateway) -> float:
    text = gateway.http.get("/metrics").text
    for line in text.splitlines():
        if line.startswith("gateway_orders_needing_review_total "):
            return float(line.split()[1])
    raise AssertionError("no gateway_orders_needing_review_total metric")


# ---- 3. guest orders apart from user ids -------------------------------------------

def guest_order(gateway, email: str) -> str:
    session = checkout(gateway, make_quote(gateway, items=[{"sku": "E-MAG-SIL", "quantity": 1}])["signature"],
                       email=email)["checkoutSession"]
    pay(gateway, session["id"], email=email)
    assert stored_order(gateway, session["id"]) is not None
    return session["id"]


def test_a_token_whose_sub_is_a_guests_email_sees_none_of_her_orders(shop):
    email = f"victim3-{shop.engine}@example.com"
    order_id = guest_order(shop, email)
    impostor = shop.token(email)  # sub = her email; no email claim, nothing verified
    assert history(shop, impostor) == []
    assert shop.gql(ORDER, {"id": order_id}, impostor)["data"]["order"] is None
    unverified = shop.token(email, email=email, email_verified=False)
    assert history(shop, unverified) == []
    # her verified email is the one way in
    owner = shop.token(f"her-account-{shop.engine}", email=email.upper())
    assert [o["id"] for o in history(shop, owner)] == [order_id]
    assert shop.gql(ORDER, {"id": order_id}, owner)["data"]["order"]["email"] == email


def test_a_guest_who_types_someones_sub_as_email_files_nothing_into_their_history(shop):
    sub = f"member3-{shop.engine}@example.com"  # identity providers that use the email as sub
    member = shop.token(sub)
    assert history(shop, member) == []
    order_id = guest_order(shop, sub)
    assert history(shop, member) == []
    assert shop.gql(ORDER, {"id": order_id}, member)["data"]["order"] is None
    assert shop.count_items(f"USER#{sub}", "ORDER#%") == 0
    assert shop.count_items(f"GUEST#{sub}", "ORDER#%") == 1


def test_guest_orders_filed_by_earlier_versions_reach_only_the_verified_email(shop):
    email = f"legacy3-{shop.engine}@example.com"
    order_id = write_legacy_guest_order(shop, email)
    impostor = shop.token(email)
    assert history(shop, impostor) == []
    assert shop.gql(ORDER, {"id": order_id}, impostor)["data"]["order"] is None
    owner = shop.token(f"legacy-account-{shop.engine}", email=email)
    assert [o["id"] for o in history(shop, owner)] == [order_id]
    assert shop.count_items(f"USER#{email}", "ORDER#%") == 0  # moved to her account
    assert history(shop, impostor) == []


def write_legacy_guest_order(gateway, email: str) -> str:
    """A guest order as earlier versions wrote it: userId = the email, listed in USER#{email}."""
    from store import keys

    order_id = "cs_test_legacy" + secrets.token_hex(8)
    order = {"PK": f"ORDER#{order_id}", "SK": "METADATA", "entity": "Order", "orderId": order_id,
             "orderNumber": "BC-" + order_id[-8:].upper(), "userId": email, "guest": True, "status": "PAID",
             "facts": {"paid": True, "paymentFailed": False, "refunded": 0, "dispute": "none"},
             "items": [{"sku": "N-RED", "name": "Statement Necklace", "quantity": 1, "unitPrice": 3000,
                        "total": 3000}],
             "currency": "USD", "subtotal": 3000, "discount": 0, "shipping": 0, "tax": 0, "total": 3000,
             "refunded": 0, "email": email, "shippingAddress": None, "stripeSessionId": order_id,
             "stripePaymentIntentId": None, "quoteSignature": None, "createdAt": 1_700_000_000,
             "updatedAt": 1_700_000_000, "version": 1}
    listing = {**order, "PK": keys.user_partition(email), "SK": f"ORDER#1700000000#{order_id}"}

    async def write():
        store = await gateway.open_store()
        await store.put(order)
        await store.put(listing)
        await store.close()

    asyncio.run(write())
    return order_id


# ---- 4. Stripe reads bounded -------------------------------------------------------

def aliased_orders(ids: list[str]) -> str:
    return "query {" + " ".join(f'o{n}: order(id: "{i}") {{ id }}' for n, i in enumerate(ids)) + "}"


def stripe_calls_of(gateway, query: str, token=None) -> tuple[dict, int]:
    _, before = gateway.calls()
    body = gateway.gql(query, token=token)
    return body, gateway.calls()[1] - before


def test_fifteen_order_aliases_on_random_ids_cost_no_stripe_call(shop):
    token = shop.token(f"prober4-{shop.engine}", email="prober@example.com")
    ids = ["cs_test_" + secrets.token_hex(24) for _ in range(15)]
    body, stripe_calls = stripe_calls_of(shop, aliased_orders(ids), token)
    assert body["data"] == {f"o{n}": None for n in range(15)}
    assert stripe_calls == 0  # was 15
    print(f"\n15 order(id) aliases on random ids ({shop.engine}): {stripe_calls} Stripe calls")


def test_order_aliases_on_ones_own_unpaid_sessions_cost_at_most_three_stripe_calls(shop):
    token = shop.token(f"spender4-{shop.engine}", email="spender@example.com")
    ids = [checkout(shop, make_quote(shop, items=[{"sku": "BR-PEARL", "quantity": n + 1}], token=token)["signature"],
                    token=token)["checkoutSession"]["id"] for n in range(15)]
    body, stripe_calls = stripe_calls_of(shop, aliased_orders(ids), token)
    assert stripe_calls <= 3
    limited = [e for e in body.get("errors", []) if e["extensions"]["code"] == "RATE_LIMITED"]
    assert len(limited) == 15 - stripe_calls
    # someone else's recorded sessions cost nothing at all
    other = shop.token(f"other4-{shop.engine}", email="other@example.com")
    body, stripe_calls = stripe_calls_of(shop, aliased_orders(ids), other)
    assert stripe_calls == 0 and "errors" not in body
    print(f"\n15 order(id) aliases on one's own open sessions ({shop.engine}): {stripe_calls} Stripe calls")


def test_fifteen_checkout_session_aliases_cost_at_most_three_stripe_calls(shop):
    session = checkout(shop, make_quote(shop)["signature"])["checkoutSession"]
    query = "query {" + " ".join(f'c{n}: checkoutSession(id: "{session["id"]}") {{ status }}'
                                 for n in range(15)) + "}"
    body, stripe_calls = stripe_calls_of(shop, query)
    assert stripe_calls <= 3
    assert sum(1 for v in body["data"].values() if v) == stripe_calls
    assert all(e["extensions"]["code"] == "RATE_LIMITED" for e in body["errors"])


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def frugal(request, tmp_path_factory):
    env = gateway_env(tmp_path_factory.mktemp("frugal"), **engine_env(request), RATE_LIMIT_STRIPE_READS="5")
    with running_gateway(env, request.param) as client:
        yield client


def test_stripe_reads_are_rate_limited_per_user(frugal):
    token = frugal.token("hammer", email="hammer@example.com")
    session = checkout(frugal, make_quote(frugal, token=token)["signature"], token=token)["checkoutSession"]
    while time.time() % 60 > 50:  # the limit's window is a minute: run inside one
        time.sleep(0.5)
    codes = []
    for _ in range(8):
        body, _ = stripe_calls_of(frugal, aliased_orders([session["id"]]), token)
        codes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "ok")
    assert codes == ["ok"] * 5 + ["RATE_LIMITED"] * 3
    # another user has a budget of their own
    other = frugal.token("bystander", email="bystander@example.com")
    assert "errors" not in frugal.gql(aliased_orders([session["id"]]), token=other)


# ---- 5. one quote, one shopper ----------------------------------------------------

def codes_of(result: dict) -> list[str]:
    return [e["code"] for e in result["userErrors"]]


def test_a_quote_checked_out_by_one_shopper_is_quote_in_use_for_anyone_else(shop):
    signature = make_quote(shop)["signature"]
    first = checkout(shop, signature, email="first5@example.com")
    assert first["userErrors"] == []
    others = [checkout(shop, signature, email="second5@example.com"),
              checkout(shop, signature),
              checkout(shop, signature, token=shop.token("user5", email="user5@example.com"))]
    for other in others:
        assert other["checkoutSession"] is None and codes_of(other) == ["QUOTE_IN_USE"]
    again = checkout(shop, signature, email="First5@Example.com")
    assert again["checkoutSession"]["id"] == first["checkoutSession"]["id"]


@pytest.mark.parametrize("pair", ["two-guests", "guest-and-user", "two-users"])
def test_concurrent_checkouts_of_a_fresh_quote_by_two_shoppers_never_fail(shop, pair):
    signature = make_quote(shop, items=[{"sku": "E-PEARL-STUD", "quantity": 2}])["signature"]
    a_user, b_user = shop.token(f"a5-{pair}", email="a5@example.com"), shop.token(f"b5-{pair}", email="b5@example.com")
    by_pair: dict[str, list[tuple[str | None, str | None]]] = {
        "two-guests": [(None, "a5@example.com"), (None, "b5@example.com")],
        "guest-and-user": [(None, "a5@example.com"), (a_user, None)],
        "two-users": [(a_user, None), (b_user, None)]}
    shoppers = by_pair[pair]

    def attempt(n: int) -> tuple[int, dict]:
        token, email = shoppers[n % 2]
        return n % 2, shop.gql(CHECKOUT, {"sig": signature, "email": email}, token)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert all("errors" not in body for _, body in results), [b for _, b in results if "errors" in b]
    made = {(who, body["data"]["createCheckoutSession"]["checkoutSession"]["id"])
            for who, body in results if body["data"]["createCheckoutSession"]["checkoutSession"]}
    assert len(made) == 1  # one shopper, one session
    winner = next(iter(made))[0]
    for who, body in results:
        if who != winner:
            assert codes_of(body["data"]["createCheckoutSession"]) == ["QUOTE_IN_USE"]


def test_two_replicas_with_different_settings_answer_one_session_not_a_500(tmp_path, stripe_emulator_url,
                                                                           dynamodb_local):
    """During a rollout, two replicas (one DynamoDB table, one Stripe) differ in their
    settings (public URL, shipping), so the same shopper's checkout reaches Stripe with one
    idempotency key and different parameters: the loser gets the winner's session."""
    table = asyncio.run(fresh_dynamodb_table(dynamodb_local))
    common = {"STRIPE_SECRET": "sk_test_rollout", "STRIPE_API_BASE": stripe_emulator_url,
              "STRIPE_WEBHOOK_SECRET": "whsec_rollout", "COMMERCE_TABLE": table,
              **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
    old = gateway_env(tmp_path, **common)
    new = gateway_env(tmp_path, **common, SHIPPING_COUNTRIES="US")
    with running_gateway(old) as first, running_gateway(new) as second:
        for round_ in range(5):
            signature = make_quote(first)["signature"]
            with ThreadPoolExecutor(4) as pool:
                bodies = list(pool.map(
                    lambda n, sig=signature: (first if n % 2 else second).gql(
                        CHECKOUT, {"sig": sig, "email": "roll@example.com"}),
                    range(4)))
            assert all("errors" not in b for b in bodies), bodies
            ids = {b["data"]["createCheckoutSession"]["checkoutSession"]["id"] for b in bodies}
            assert len(ids) == 1, (round_, bodies)


# ---- 6. key parts bounded in bytes ------------------------------------------------

GEM = "\U0001F48E"  # 4 bytes of UTF-8


def test_a_sub_over_255_bytes_is_refused_the_same_way_on_both_engines(shop):
    long_sub = shop.token(GEM * 255)  # 255 characters, 1,020 bytes: USER#... is 1,025
    signature = make_quote(shop)["signature"]
    body = shop.gql(CHECKOUT, {"sig": signature}, long_sub)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and "255 bytes" in error["message"]
    # the largest sub that fits checks out on both engines
    longest = shop.token(GEM * 63 + "abc")  # 255 bytes
    result = checkout(shop, make_quote(shop, token=longest)["signature"], token=longest)
    assert result["userErrors"] == [] and result["checkoutSession"]["id"].startswith("cs_test_")


@pytest.mark.parametrize("email", [GEM * 64 + "@" + GEM * 20 + ".com",  # 64 characters before the @
                                   "a" * 60 + "@" + "é" * 130 + ".com"])
def test_a_guest_email_over_320_bytes_is_a_user_error_on_both_engines(shop, email):
    sessions = shop.count_items("SESSION#%")
    result = checkout(shop, make_quote(shop)["signature"], email=email)
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [("INVALID_INPUT", ["input", "email"])]
    assert "320 bytes" in result["userErrors"][0]["message"]
    assert shop.count_items("SESSION#%") == sessions


def test_a_token_email_over_320_bytes_is_refused(shop):
    token = shop.token("bytes-user", email=GEM * 80 + "@example.com")  # 92 characters, 332 bytes
    body = shop.gql(HISTORY, token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "320 bytes" in body["errors"][0]["message"]


def test_a_sku_over_64_bytes_is_a_user_error(shop):
    body = shop.gql(QUOTE, {"items": [{"sku": GEM * 17, "quantity": 1}]})
    errors = body["data"]["createCartQuote"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["input", "items", "0", "sku"])]
    assert "64 bytes" in errors[0]["message"]


def test_a_cursor_over_1024_bytes_is_refused_before_any_read(shop):
    token = shop.token("cursor-user", email="cursor@example.com")
    query = 'query($after: String) { viewer { orders(first: 5, after: $after) { edges { cursor } } } }'
    body = shop.gql(query, {"after": "A" * 1025}, token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# ---- 9. no personal data on the success page without the owner's token ------------

def test_the_success_page_shows_a_guests_order_without_her_email_or_address(shop):
    email = f"private9-{shop.engine}@example.com"
    session = checkout(shop, make_quote(shop)["signature"], email=email)["checkoutSession"]
    pay(shop, session["id"], email=email, line1="1 Quiet Lane", city="Springfield", postal_code="12345",
        country="US")
    for stranger in (None, shop.token("stranger9", email="stranger9@example.com"), shop.token(email)):
        order = shop.gql(SUCCESS, {"id": session["id"]}, stranger)["data"]["checkoutSession"]["order"]
        assert order["status"] == "PAID" and order["orderNumber"].startswith("BC-")
        assert order["total"]["amount"] == 9000 and order["items"] == [
            {"sku": "N-RED", "quantity": 3, "total": {"amount": 9000}}]
        assert (order["email"], order["shippingName"], order["shippingAddress"]) == (None, None, None)
    owner = shop.token(f"owner9-{shop.engine}", email=email)
    order = shop.gql(SUCCESS, {"id": session["id"]}, owner)["data"]["checkoutSession"]["order"]
    assert order["email"] == email and order["shippingAddress"]["line1"] == "1 Quiet Lane"
