"""adminOrders / adminOrder over HTTP, on both engines, with 10,000 orders in the table:
a page costs a bounded number of store calls whatever the table holds (call budgets),
pages neither repeat nor skip, every filter, the role, and garbage in every argument."""

from __future__ import annotations

import httpx
import pytest

from tests.admin_seed import START, email, make_order, order_id, seed
from tests.live_gateway import engine_env, gateway_env, running_gateway

TOTAL = 10_000
LIST = """query($filter: AdminOrdersFilter, $first: Int, $after: String) {
  adminOrders(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id status createdAt } } pageInfo { hasNextPage endCursor } } }"""
COUNT = "query($filter: AdminOrdersFilter) { adminOrders(filter: $filter, first: 1) { totalCount } }"
ONE = "query($id: ID!) { adminOrder(id: $id) { id orderNumber status email total { amount } } }"
ORDERS = [make_order(n) for n in range(TOTAL)]


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def shop(request, tmp_path_factory):
    env = gateway_env(tmp_path_factory.mktemp("admin"), **engine_env(request))
    with running_gateway(env, request.param) as client:
        seed(client, ORDERS)
        yield client


def admin(shop) -> str:
    return shop.token("owner", admin=True)


def ids(body) -> list[str]:
    return [e["node"]["id"] for e in body["data"]["adminOrders"]["edges"]]


def newest_first(orders) -> list[str]:
    return [o.order_id for o in sorted(orders, key=lambda o: (o.created_at, o.order_id), reverse=True)]


def measured(shop, query, variables):
    store_before, stripe_before = shop.calls()
    # A count on DynamoDB Local reads 1,632 of these entries a request, ~0.6 s each (it sizes
    # pages by the item, not the index entry): 10,000 orders take seconds there.
    response = shop.http.post("/graphql", json={"query": query, "variables": variables or {}},
                              headers={"authorization": f"Bearer {admin(shop)}"}, timeout=120)
    body = response.json()
    assert "errors" not in body, body
    store_after, stripe_after = shop.calls()
    return body, store_after - store_before, stripe_after - stripe_before


@pytest.mark.parametrize(("listing_filter", "budget"), [
    (None, 2),  # one index query, one batch read
    ({"status": "PAID", "fulfillmentStatus": "SHIPPED"}, 2),
    ({"status": "PAID"}, 5),  # one query per fulfilment status, one batch read
    ({"fulfillmentStatus": "DELIVERED"}, 10),  # one per status (8, OUT_OF_STOCK among them, and OTHER), one batch read
    ({"email": "shopper7@example.com", "status": "PAID"}, 2),
    ({"createdFrom": "2023-11-15T00:00:00Z", "createdTo": "2023-11-20T00:00:00Z"}, 2),
])
def test_a_page_costs_a_bounded_number_of_store_calls_at_any_depth(shop, listing_filter, budget):
    variables = {"filter": listing_filter, "first": 100}
    body, store_calls, stripe_calls = measured(shop, LIST, variables)
    assert store_calls <= budget and stripe_calls == 0
    for _ in range(5):  # deeper pages cost the same
        end = body["data"]["adminOrders"]["pageInfo"]["endCursor"]
        if end is None:
            break
        body, deeper, stripe_calls = measured(shop, LIST, {**variables, "after": end})
        assert deeper <= budget and stripe_calls == 0


def test_the_first_page_is_the_newest_orders_of_all_ten_thousand(shop):
    body, store_calls, _ = measured(shop, LIST, {"first": 20})
    assert ids(body) == newest_first(ORDERS)[:20]
    assert store_calls == 2
    assert body["data"]["adminOrders"]["pageInfo"]["hasNextPage"] is True


def test_total_count_is_one_count_per_partition(shop):
    body, store_calls, _ = measured(shop, COUNT, {})
    assert body["data"]["adminOrders"]["totalCount"] == TOTAL
    assert store_calls == 3  # the page's two, and one count
    body, store_calls, _ = measured(shop, COUNT, {"filter": {"status": "PAID"}})
    assert body["data"]["adminOrders"]["totalCount"] == sum(o.status == "PAID" for o in ORDERS)
    assert store_calls == 4 + 1 + 4


FILTERS = [
    ({"status": "REFUNDED"}, lambda o: o.status == "REFUNDED"),
    ({"fulfillmentStatus": "SHIPPED"}, lambda o: o.fulfillment.status == "SHIPPED"),
    ({"status": "PAID", "fulfillmentStatus": "UNFULFILLED"},
     lambda o: o.status == "PAID" and o.fulfillment.status == "UNFULFILLED"),
    ({"email": "SHOPPER3@example.com"}, lambda o: o.email == "shopper3@example.com"),
    ({"email": "shopper3@example.com", "fulfillmentStatus": "DELIVERED", "status": "PAID"},
     lambda o: o.email == "shopper3@example.com" and o.fulfillment.status == "DELIVERED" and o.status == "PAID"),
    ({"createdFrom": "2023-11-15T00:00:00Z"}, lambda o: o.created_at >= 1700006400),
    ({"createdTo": "2023-11-15T00:00:00+00:00", "status": "DISPUTED"},
     lambda o: o.created_at < 1700006400 and o.status == "DISPUTED"),
    ({"createdFrom": "2023-11-14T22:13:20Z", "createdTo": "2023-11-14T22:30:00Z"},
     lambda o: START <= o.created_at < START + 1000),
]


@pytest.mark.parametrize(("listing_filter", "matches"), FILTERS)
def test_every_filter_lists_exactly_its_orders_newest_first(shop, listing_filter, matches):
    expected = newest_first([o for o in ORDERS if matches(o)])
    seen: list[str] = []
    after = None
    while len(seen) < 250:
        body = shop.gql(LIST, {"filter": listing_filter, "first": 100, "after": after}, admin(shop))
        assert "errors" not in body, body
        seen += ids(body)
        info = body["data"]["adminOrders"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == expected[:len(seen)] and len(seen) >= min(len(expected), 250)
    count = measured(shop, COUNT, {"filter": listing_filter})[0]["data"]["adminOrders"]["totalCount"]
    assert count == len(expected)


def test_pages_neither_repeat_nor_skip_when_orders_arrive_between_them(shop):
    listing_filter = {"createdTo": "2023-11-15T10:00:00Z"}
    expected = newest_first([o for o in ORDERS if o.created_at < 1700042400])
    first = shop.gql(LIST, {"filter": listing_filter, "first": 50}, admin(shop))["data"]["adminOrders"]
    seen = ids({"data": {"adminOrders": first}})
    # A new order made now, and one backdated into the part already listed.
    seed(shop, [make_order(TOTAL + 1, created=1700042000), make_order(TOTAL + 2, created=2_000_000_000)])
    after = first["pageInfo"]["endCursor"]
    for _ in range(3):
        page = shop.gql(LIST, {"filter": listing_filter, "first": 50, "after": after}, admin(shop))
        seen += ids(page)
        after = page["data"]["adminOrders"]["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 200
    assert seen == expected[:200]


def test_admin_order_returns_the_full_record(shop):
    body = shop.gql(ONE, {"id": order_id(42)}, admin(shop))
    assert body["data"]["adminOrder"] == {"id": order_id(42), "orderNumber": "BC-" + order_id(42)[-8:].upper(),
                                          "status": ORDERS[42].status, "email": email(42), "total": {"amount": 3000}}
    assert shop.gql(ONE, {"id": "cs_test_nosuchorder000"}, admin(shop)) == {"data": {"adminOrder": None}}


def without_request_id(body: dict) -> dict:
    for error in body.get("errors", []):
        error["extensions"].pop("requestId", None)
    return body


def test_shoppers_get_forbidden_and_the_same_answer_for_real_and_missing_orders(shop):
    shopper = shop.token("user-7", email="shopper7@example.com")
    real = shop.post({"query": ONE, "variables": {"id": order_id(7)}}, shopper)
    fake = shop.post({"query": ONE, "variables": {"id": "cs_test_nosuchorder000"}}, shopper)
    assert real.status_code == fake.status_code == 200
    assert without_request_id(real.json()) == without_request_id(fake.json())
    # Byte for byte, but for the request id every error carries.
    assert real.content.replace(real.json()["errors"][0]["extensions"]["requestId"].encode(), b"") == \
        fake.content.replace(fake.json()["errors"][0]["extensions"]["requestId"].encode(), b"")
    assert real.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listing = shop.gql(LIST, {}, shopper)
    assert listing["data"] is None and listing["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = shop.gql(LIST, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert shop.gql(ONE, {"id": order_id(7)})["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


GARBAGE = [
    {"first": 0}, {"first": 101}, {"first": -1}, {"first": 2**31},
    {"after": "not-a-cursor"}, {"after": ""}, {"after": "A" * 5000}, {"after": "\u0000\u00ff\U0001f600"},
    {"filter": {"createdFrom": "yesterday"}}, {"filter": {"createdFrom": "2026-12-03T00:00:00"}},
    {"filter": {"createdFrom": "2026-12-03T00:00:00Z", "createdTo": "2026-12-02T00:00:00Z"}},
    {"filter": {"createdFrom": "9999-12-31T23:59:59Z"}},
    {"filter": {"status": "SHIPPED"}}, {"filter": {"fulfillmentStatus": "LOST"}},
    {"filter": {"email": "x" * 400 + "@example.com"}}, {"filter": {"email": ""}}, {"filter": {"email": 7}},
    {"filter": "PAID"}, {"filter": {"orderId": "x"}},
]


@pytest.mark.parametrize("variables", GARBAGE)
def test_garbage_arguments_are_bad_user_input_not_a_500(shop, variables):
    response = shop.post({"query": LIST, "variables": variables}, admin(shop))
    assert response.status_code in (200, 400), response.text
    errors = response.json()["errors"]
    assert errors and all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in errors), errors


def test_a_cursor_from_a_shoppers_own_list_is_refused(shop):
    shopper = shop.token("user-1", email="shopper1@example.com")
    mine = shop.gql("{ viewer { orders(first: 1) { pageInfo { endCursor } } } }", token=shopper)
    cursor = mine["data"]["viewer"]["orders"]["pageInfo"]["endCursor"] or "x"
    body = shop.gql(LIST, {"after": cursor}, admin(shop))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_the_listing_answers_over_plain_http_with_an_admin_token_only(shop):
    response = httpx.post(f"{shop.url}/graphql", json={"query": "{ adminOrders { pageInfo { hasNextPage } } }"},
                          headers={"authorization": f"Bearer {admin(shop)}"})
    assert response.status_code == 200 and response.json()["data"]["adminOrders"]["pageInfo"]["hasNextPage"]
