"""Stock (issue 19): a one-of-a-kind piece is never sold twice. Over HTTP, on both store
engines, against the emulator the gateway mounts (its webhooks deliver back)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.emulator_helpers import wait_until
from tests.live_gateway import engine_env, gateway_env, running_gateway
from tests.stock_helpers import (
    PRODUCTS,
    UNCOUNTED,
    admin,
    checkout,
    counted_catalog,
    levels,
    order_status,
    pay,
    quote,
    set_stock,
)


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def shop(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("stock")
    env = gateway_env(directory, CATALOG_PATH=str(counted_catalog(directory)), **engine_env(request))
    with running_gateway(env, request.param) as client:
        yield client


def counts(gateway, sku: str) -> tuple[int, int, int, int]:
    level = levels(gateway)[sku]
    return level["onHand"], level["reserved"], level["available"], level["sold"]


def sessions_made(gateway, signatures: set[str]) -> int:
    listed = gateway.stripe().v1.checkout.sessions.list(params={"limit": 100}).auto_paging_iter()
    return sum(1 for s in listed if s.metadata and s.metadata.to_dict().get("quoteSignature") in signatures)


def test_one_piece_and_fifty_shoppers_racing_make_exactly_one_session(shop):
    set_stock(shop, "N-PEARL-CHOKER", 1)
    signatures = [quote(shop, [{"sku": "N-PEARL-CHOKER", "quantity": 1}]) for _ in range(50)]
    started = time.monotonic()
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda n: checkout(shop.url, signatures[n], f"shopper{n}@example.com"), range(50)))
    took = time.monotonic() - started
    made = [r["checkoutSession"] for r in results if r["checkoutSession"]]
    refused = [r["userErrors"] for r in results if not r["checkoutSession"]]
    assert len(made) == 1 and len(refused) == 49
    assert all(e == [{"field": ["input", "quoteSignature"], "code": "OUT_OF_STOCK",
                      "message": "Freshwater Pearl Choker (N-PEARL-CHOKER) is sold out."}] for e in refused)
    assert sessions_made(shop, set(signatures)) == 1  # the refused never reached Stripe
    assert counts(shop, "N-PEARL-CHOKER") == (1, 1, 0, 0)
    shown = {p["sku"]: p for p in shop.gql(PRODUCTS)["data"]["products"]}
    assert shown["N-PEARL-CHOKER"] == {"sku": "N-PEARL-CHOKER", "available": 0, "inStock": False}
    assert shown[UNCOUNTED]["available"] is None and shown[UNCOUNTED]["inStock"] is True

    assert pay(shop, made[0]["id"]).status_code == 200
    wait_until(lambda: order_status(shop, made[0]["id"]) == "PAID", timeout=10)
    assert counts(shop, "N-PEARL-CHOKER") == (0, 0, 0, 1)
    print(f"\n[{shop.engine}] 1 in stock, 50 concurrent checkouts: 1 session, 49 OUT_OF_STOCK in {took:.2f} s")


def test_five_in_stock_and_three_lines_per_cart_never_sell_more_than_held(shop):
    pieces = ("BR-PEARL", "BR-CHARM", "BR-CUFF")
    for sku in pieces:
        set_stock(shop, sku, 5)
    carts: list[list[dict]] = [[{"sku": sku, "quantity": 1 + (n + i) % 2} for i, sku in enumerate(pieces)]
                               for n in range(12)]
    signatures = [quote(shop, cart) for cart in carts]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda n: checkout(shop.url, signatures[n], f"three{n}@example.com"), range(12)))
    made = [(n, r["checkoutSession"]["id"]) for n, r in enumerate(results) if r["checkoutSession"]]
    held: dict[str, int] = {sku: sum(int(line["quantity"]) for n, _ in made for line in carts[n] if line["sku"] == sku)
                            for sku in pieces}
    assert made and all(units <= 5 for units in held.values())
    for sku in pieces:
        assert counts(shop, sku) == (5, held[sku], 5 - held[sku], 0)
    for _, session_id in made:
        pay(shop, session_id)
    wait_until(lambda: all(order_status(shop, s) == "PAID" for _, s in made), timeout=20)
    for sku in pieces:
        assert counts(shop, sku) == (5 - held[sku], 0, 5 - held[sku], held[sku])
    print(f"\n[{shop.engine}] 5 each, 12 carts of 3 lines: {len(made)} sessions, held {held}")


def test_a_bundle_takes_its_parts_and_shows_its_scarcest(shop):
    set_stock(shop, "E-MAG-SIL", 3)
    set_stock(shop, "BR-SEED-PNK", 3)  # BUN-EVERYDAY-SET takes one earring pair and two bracelets
    shown = {p["sku"]: p for p in shop.gql(PRODUCTS)["data"]["products"]}
    assert shown["BUN-EVERYDAY-SET"]["available"] == 1
    signature = quote(shop, [{"sku": "BUN-EVERYDAY-SET", "quantity": 1}, {"sku": "BR-SEED-PNK", "quantity": 1}])
    made = checkout(shop.url, signature, "bundle@example.com")
    assert made["userErrors"] == []
    assert counts(shop, "BR-SEED-PNK") == (3, 3, 0, 0) and counts(shop, "E-MAG-SIL") == (3, 1, 2, 0)
    again = quote(shop, [{"sku": "BUN-EVERYDAY-SET", "quantity": 1}])
    refused = checkout(shop.url, again, "bundle2@example.com")["userErrors"]
    assert [e["code"] for e in refused] == ["OUT_OF_STOCK"] and "BR-SEED-PNK" in refused[0]["message"]


def test_quotes_show_availability_without_reserving(shop):
    set_stock(shop, "N-RESIN-DAISY", 2)
    body = shop.gql("""mutation { createCartQuote(input: {items: [{sku: "N-RESIN-DAISY", quantity: 2},
        {sku: "E-FRINGE", quantity: 1}]}) { quote { items { sku available } } } }""")
    items = body["data"]["createCartQuote"]["quote"]["items"]
    assert {i["sku"]: i["available"] for i in items} == {"N-RESIN-DAISY": 2, UNCOUNTED: None}
    assert counts(shop, "N-RESIN-DAISY") == (2, 0, 2, 0)


def test_a_retried_checkout_reuses_its_hold(shop):
    set_stock(shop, "E-BEAD-DROP", 2)
    signature = quote(shop, [{"sku": "E-BEAD-DROP", "quantity": 1}])
    with ThreadPoolExecutor(6) as pool:
        ids = {r["checkoutSession"]["id"] for r in pool.map(lambda _: checkout(shop.url, signature, "re@example.com"),
                                                             range(6))}
    assert len(ids) == 1 and counts(shop, "E-BEAD-DROP") == (2, 1, 1, 0)
    assert checkout(shop.url, signature, "re@example.com")["checkoutSession"]["id"] in ids
    assert counts(shop, "E-BEAD-DROP") == (2, 1, 1, 0)


def test_a_checkout_costs_one_store_transaction_more_for_counted_pieces(shop):
    services = shop.app.state.services
    uncounted = quote(shop, [{"sku": UNCOUNTED, "quantity": 1}])
    counted = quote(shop, [{"sku": "N-BLU", "quantity": 1}, {"sku": "BUN-STATEMENT-DUO", "quantity": 1},
                           {"sku": "E-MAG-GLD", "quantity": 2}])

    def cost(signature: str, email: str) -> tuple[int, int]:
        before, transactions = sum(services.store.calls.values()), services.store.calls["transact"]
        assert checkout(shop.url, signature, email)["checkoutSession"]
        return sum(services.store.calls.values()) - before, services.store.calls["transact"] - transactions

    plain, plain_transactions = cost(uncounted, "plain@example.com")
    held, held_transactions = cost(counted, "held@example.com")
    assert (plain_transactions, held_transactions) == (0, 1)
    assert held == plain + 1  # one transaction, however many lines and pieces
    print(f"\n[{shop.engine}] checkout: {plain} store calls uncounted, {held} with a 3-line counted cart")


@pytest.mark.parametrize("sku, on_hand, code, field", [
    ("N-ORG", -1, "INVALID_INPUT", ["input", "onHand"]),
    ("N-ORG", 1_000_001, "INVALID_INPUT", ["input", "onHand"]),
    ("N-NOPE", 3, "UNKNOWN_SKU", ["input", "sku"]),
    ("X" * 500, 3, "UNKNOWN_SKU", ["input", "sku"]),
    ("", 3, "UNKNOWN_SKU", ["input", "sku"]),
    ("BUN-STATEMENT-DUO", 3, "NOT_STOCKED", ["input", "sku"]),
    (UNCOUNTED, 3, "NOT_STOCKED", ["input", "sku"]),
])
def test_garbage_stock_changes_are_user_errors_and_write_nothing(shop, sku, on_hand, code, field):
    before = [i for i in shop.all_items() if str(i["PK"]).startswith("STOCK#")]
    result = set_stock(shop, sku, on_hand)
    assert result["product"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, field)]
    assert [i for i in shop.all_items() if str(i["PK"]).startswith("STOCK#")] == before


def test_stock_is_for_admins_and_ints_stay_ints(shop):
    before = [i for i in shop.all_items() if str(i["PK"]).startswith("STOCK#")]
    mutation = 'mutation { setStock(input: {sku: "N-ORG", onHand: 2}) { userErrors { code } } }'
    assert shop.gql(mutation)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert shop.gql(mutation, token=shop.token("shopper"))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert shop.gql("{ adminProducts { sku } }", token=shop.token("shopper"))["errors"][0]["extensions"][
        "code"] == "FORBIDDEN"
    huge = shop.gql('mutation { setStock(input: {sku: "N-ORG", onHand: 99999999999}) { userErrors { code } } }',
                    token=admin(shop))
    assert huge["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and huge.get("data") is None
    assert [i for i in shop.all_items() if str(i["PK"]).startswith("STOCK#")] == before


def test_setting_on_hand_under_open_holds_flags_the_paid_order(shop):
    set_stock(shop, "BR-SEED-GRN", 1)
    made = checkout(shop.url, quote(shop, [{"sku": "BR-SEED-GRN", "quantity": 1}]), "broke@example.com")
    assert made["checkoutSession"]
    assert set_stock(shop, "BR-SEED-GRN", 0)["product"] == {"sku": "BR-SEED-GRN", "onHand": 0, "reserved": 1,
                                                            "available": -1, "sold": 0}
    pay(shop, made["checkoutSession"]["id"])
    wait_until(lambda: order_status(shop, made["checkoutSession"]["id"]) == "OUT_OF_STOCK", timeout=10)
    assert counts(shop, "BR-SEED-GRN") == (0, 0, 0, 0)
