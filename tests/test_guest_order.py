"""guestOrder over HTTP: a guest finds an order with its number and email; a wrong email
and an unknown number get the same null at the same cost, rate limited per client IP."""

from __future__ import annotations

import pytest

from tests.admin_seed import email, make_order, seed
from tests.live_gateway import gateway_env, running_gateway

FIND = """query($n: String!, $e: String!) { guestOrder(orderNumber: $n, email: $e) {
  id orderNumber status email shippingAddress { line1 } total { amount } } }"""


GUESTS = [make_order(n) for n in range(0, 200, 5)]  # n % 5 == 0: guests


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    env = gateway_env(tmp_path_factory.mktemp("guest"), RATE_LIMIT_GUEST_ORDERS="1000")
    with running_gateway(env) as client:
        seed(client, [*GUESTS, make_order(1)], listing_copies=True)
        yield client


def costs(shop, number: str, address: str):
    store_before, stripe_before = shop.calls()
    body = shop.gql(FIND, {"n": number, "e": address})
    store_after, stripe_after = shop.calls()
    return body, store_after - store_before, stripe_after - stripe_before


def test_a_guest_finds_the_order_with_its_number_and_email_in_any_case(shop):
    order = GUESTS[3]
    body, _, stripe_calls = costs(shop, order.order_number.lower(), f"  {email(15).upper()} ")
    assert body["data"]["guestOrder"] == {"id": order.order_id, "orderNumber": order.order_number,
                                          "status": order.status, "email": None, "shippingAddress": None,
                                          "total": {"amount": 3000}}
    assert stripe_calls == 0


def test_a_wrong_email_and_an_unknown_number_get_the_same_null_at_the_same_cost(shop):
    order = GUESTS[3]
    wrong_email = costs(shop, order.order_number, email(16))  # another guest's email
    unknown = costs(shop, "BC-ZZZZZZZZ", email(15))
    nobody = costs(shop, order.order_number, "nobody@example.com")
    assert wrong_email[0] == unknown[0] == nobody[0] == {"data": {"guestOrder": None}}
    assert wrong_email[1:] == unknown[1:] == nobody[1:] == (2, 0)  # the rate count and one query


def test_a_signed_in_shoppers_order_is_not_found_as_a_guests(shop):
    signed_in = make_order(1)
    assert shop.gql(FIND, {"n": signed_in.order_number, "e": email(1)}) == {"data": {"guestOrder": None}}


@pytest.mark.parametrize(("number", "address"), [
    ("", "a@b.c"), ("BC-", "a@b.c"), ("BC-123", "a@b.c"), ("XX-12345678", "a@b.c"), ("BC-1234567890", "a@b.c"),
    ("BC-1234\u00e9678", "a@b.c"), ("BC-12345678", ""), ("BC-12345678", "no-at-sign"),
    ("BC-12345678", "x" * 400 + "@b.c"), ("B" * 10_000, "a@b.c"),
])
def test_garbage_is_bad_user_input_and_writes_nothing_but_the_rate_count(shop, number, address):
    before = len(shop.all_items())
    body = shop.gql(FIND, {"n": number, "e": address})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["data"] in (None, {"guestOrder": None})
    assert len(shop.all_items()) - before <= 1  # at most this minute's rate window, made once


def test_lookups_are_rate_limited_per_client_ip(tmp_path):
    with running_gateway(gateway_env(tmp_path, RATE_LIMIT_GUEST_ORDERS="3")) as client:
        answers = [client.gql(FIND, {"n": "BC-ZZZZZZZZ", "e": "a@b.c"}) for _ in range(5)]
    assert [a.get("data") for a in answers[:3]] == [{"guestOrder": None}] * 3
    assert all(a["errors"][0]["extensions"]["code"] == "RATE_LIMITED" for a in answers[3:])
