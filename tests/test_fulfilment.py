"""The shop's side of an order through the real HTTP app, on both store engines, against
the emulator the gateway mounts with the real Stripe SDK: shipping and delivery
(fulfillOrder, markDelivered), refunds (refundOrder, cancelOrder) and the timeline
(Order.events). Webhooks are delivered by the tests (signed, over HTTP), so their order
and their duplicates are the test's to choose."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.live_gateway import engine_env, gateway_env, running_gateway
from tests.test_webhooks import WHSEC, deliver, event_of, new_session, orders_for, pay, refund

ORDER_FIELDS = """id status refunded { amount currency }
  fulfillment { status shippedAt deliveredAt cancelledAt carrier trackingNumber trackingUrl }
  events { kind at amount { amount currency } detail }"""
FULFILL = ("mutation($input: FulfillOrderInput!) { fulfillOrder(input: $input) { order { " + ORDER_FIELDS
           + " } userErrors { field code message } } }")
DELIVERED = ("mutation($id: ID!) { markDelivered(input: {orderId: $id}) { order { " + ORDER_FIELDS
             + " } userErrors { field code message } } }")
REFUND = ("mutation($input: RefundOrderInput!) { refundOrder(input: $input) { order { " + ORDER_FIELDS
          + " } refund { id amount { amount } status } userErrors { field code message } } }")
CANCEL = ("mutation($input: CancelOrderInput!) { cancelOrder(input: $input) { order { " + ORDER_FIELDS
          + " } refund { id amount { amount } status } userErrors { field code message } } }")
ORDER = "query($id: ID!) { order(id: $id) { " + ORDER_FIELDS + " } }"
ADMIN_ORDER = "query($id: ID!) { adminOrder(id: $id) { " + ORDER_FIELDS + " } }"
ADMIN_LIST = "{ adminOrders(first: 100) { edges { node { " + ORDER_FIELDS + " } } } }"
DASHBOARD = "{ viewer { orders(first: 100) { edges { node { " + ORDER_FIELDS + " } } } } }"
SYNC = "mutation($since: DateTime) { syncOrders(input: {since: $since}) { updated userErrors { code } } }"
TRACKING = {"carrier": "UPS", "trackingNumber": "1Z999AA10123456784",
            "trackingUrl": "https://www.ups.com/track?tracknum=1Z999AA10123456784"}
_shoppers = itertools.count()


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def shop(request, tmp_path_factory):
    # Emails wait in the outbox: these tests compare whole stores before and after a refusal.
    extra = {"STRIPE_WEBHOOK_SECRET": WHSEC, "STRIPE_SYNC_RATE": "100", "EMAIL_BACKGROUND_SEND": "false",
             **engine_env(request)}
    with running_gateway(gateway_env(tmp_path_factory.mktemp("shop"), **extra), request.param) as client:
        client.control("webhooks", {"mode": "off"})
        yield client


def admin(shop) -> str:
    return shop.token("shop-admin", admin=True)


def paid_order(shop, amount: int = 4000) -> tuple[str, str, str]:
    """A paid order of a shopper of its own: (order id, payment intent, the shopper's token)."""
    user = f"shopper-{next(_shoppers)}"
    session = new_session(shop, user_id=user, amount=amount)
    pay(shop, session.id)
    assert deliver(shop, event_of(shop, "checkout.session.completed", session.id)).status_code == 200
    pi = shop.stripe().v1.checkout.sessions.retrieve(session.id).payment_intent
    return session.id, pi, shop.token(user)


def call(shop, query: str, variables: dict, token: str | None = None) -> dict:
    body = shop.gql(query, variables, token if token is not None else admin(shop))
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def ship(shop, order_id: str, **change) -> dict:
    return call(shop, FULFILL, {"input": {"orderId": order_id, **TRACKING, **change}})


def stored(shop, order_id: str) -> list[dict]:
    """The order's item and its listing copy, straight from the engine."""
    return sorted(orders_for(shop, order_id) + [i for i in shop.all_items()
                                                if i["PK"] == f"ORDER#{order_id}" and i["SK"] == "METADATA"],
                  key=lambda i: i["PK"])


def stripe_refunds(shop, pi: str) -> list:
    return list(shop.stripe().v1.refunds.list(params={"payment_intent": pi, "limit": 100}).data)


def expire_refund_requests(shop, order_id: str) -> None:
    """Age the order's refund requests past their time, in the gateway's own store."""
    import asyncio

    from store.keys import EXPIRES_AT, key_of

    async def age() -> None:
        store = await shop.open_store()
        try:
            for item in shop.all_items():
                if item["PK"] == f"REFUND#{order_id}":
                    current = await store.get(key_of(item))
                    assert current is not None
                    await store.put({**current, EXPIRES_AT: int(time.time()) - 1})
        finally:
            await store.close()

    asyncio.run(age())


def kinds(order: dict) -> list[str]:
    return [e["kind"] for e in order["events"]]


# ---- shipping ----------------------------------------------------------------------

def test_a_shipped_order_shows_its_tracking_to_its_shopper_everywhere(shop):
    order_id, _, shopper = paid_order(shop)
    answer = ship(shop, order_id)
    assert answer["userErrors"] == []
    fulfillment = answer["order"]["fulfillment"]
    assert fulfillment["status"] == "SHIPPED" and fulfillment["shippedAt"] and fulfillment["deliveredAt"] is None
    assert (fulfillment["carrier"], fulfillment["trackingNumber"], fulfillment["trackingUrl"]) == (
        TRACKING["carrier"], TRACKING["trackingNumber"], TRACKING["trackingUrl"])
    one = call(shop, ORDER, {"id": order_id}, shopper)
    [listed] = [e["node"] for e in call(shop, DASHBOARD, {}, shopper)["orders"]["edges"]]
    assert one["fulfillment"] == listed["fulfillment"] == fulfillment
    assert kinds(one) == kinds(listed) == ["PLACED", "PAID", "SHIPPED"]
    assert one["events"][-1]["detail"] == f"UPS {TRACKING['trackingNumber']}"
    # both copies hold it: the order's item and its owner's listing
    assert [i["fulfillment"]["status"] for i in stored(shop, order_id)] == ["SHIPPED", "SHIPPED"]


def test_delivery_follows_shipping_and_nothing_moves_back(shop):
    order_id, _, shopper = paid_order(shop)
    early = call(shop, DELIVERED, {"id": order_id})
    assert [e["code"] for e in early["userErrors"]] == ["FULFILLMENT_NOT_ALLOWED"] and early["order"] is None
    first = ship(shop, order_id)["order"]["fulfillment"]
    # a corrected tracking number while SHIPPED: the details change, the shipping time stays
    corrected = ship(shop, order_id, trackingNumber="1Z999AA10123456785", trackingUrl=None)["order"]
    assert corrected["fulfillment"]["trackingNumber"] == "1Z999AA10123456785"
    assert corrected["fulfillment"]["trackingUrl"] is None
    assert corrected["fulfillment"]["shippedAt"] == first["shippedAt"]
    assert kinds(corrected).count("SHIPPED") == 1
    delivered = call(shop, DELIVERED, {"id": order_id})
    assert delivered["userErrors"] == [] and delivered["order"]["fulfillment"]["status"] == "DELIVERED"
    items = stored(shop, order_id)
    # again: no change, no write
    assert call(shop, DELIVERED, {"id": order_id})["order"]["fulfillment"] == delivered["order"]["fulfillment"]
    again = ship(shop, order_id)
    assert [e["code"] for e in again["userErrors"]] == ["FULFILLMENT_NOT_ALLOWED"] and again["order"] is None
    assert stored(shop, order_id) == items
    assert kinds(call(shop, ORDER, {"id": order_id}, shopper)) == ["PLACED", "PAID", "SHIPPED", "DELIVERED"]


def test_a_refunded_or_disputed_order_is_not_shipped_and_nothing_is_written(shop):
    refunded_id, pi, _ = paid_order(shop)
    refund(shop, pi)
    deliver(shop, event_of(shop, "charge.refunded", pi))
    disputed_id, pi2, _ = paid_order(shop)
    charge = shop.stripe().v1.payment_intents.retrieve(pi2).latest_charge
    dispute = shop.control(f"charges/{charge}/dispute", {})
    deliver(shop, event_of(shop, "charge.dispute.created", dispute["id"]))
    for order_id, status in ((refunded_id, "REFUNDED"), (disputed_id, "DISPUTED")):
        before = stored(shop, order_id)
        answer = ship(shop, order_id)
        assert answer["order"] is None
        [error] = answer["userErrors"]
        assert error["code"] == "ORDER_NOT_SHIPPABLE" and status in error["message"]
        assert stored(shop, order_id) == before


def test_a_partly_refunded_order_ships(shop):
    order_id, pi, _ = paid_order(shop)
    refund(shop, pi, 1000)
    deliver(shop, event_of(shop, "charge.refunded", pi))
    answer = ship(shop, order_id)
    assert answer["userErrors"] == [] and answer["order"]["status"] == "PARTIALLY_REFUNDED"


def test_a_refund_webhook_racing_fulfil_order_leaves_both(shop):
    """Payment facts and fulfilment are merged in versioned writes of the same item: a
    refund landing while the order ships is kept, and so is the shipment."""
    for _ in range(3):
        order_id, pi, shopper = paid_order(shop)
        refund(shop, pi, 700)
        event = event_of(shop, "charge.refunded", pi)
        with ThreadPoolExecutor(4) as pool:
            shipped = pool.submit(ship, shop, order_id)
            hooks = [pool.submit(deliver, shop, {**event, "id": f"{event['id']}_{n}"}) for n in range(3)]
            assert shipped.result()["userErrors"] == [] and all(h.result().status_code == 200 for h in hooks)
        for item in stored(shop, order_id):
            assert item["fulfillment"]["status"] == "SHIPPED" and int(item["refunded"]) == 700
            assert item["status"] == "PARTIALLY_REFUNDED"
        order = call(shop, ORDER, {"id": order_id}, shopper)
        assert sorted(kinds(order)) == ["PAID", "PLACED", "REFUNDED", "SHIPPED"]


def test_reconciliation_keeps_fulfilment(shop):
    order_id, pi, shopper = paid_order(shop)
    ship(shop, order_id)
    refund(shop, pi, 500)  # Stripe knows; no webhook arrives: reconciliation finds it
    since = "2020-01-01T00:00:00Z"
    assert call(shop, SYNC, {"since": since})["updated"] >= 1
    for item in stored(shop, order_id):
        assert item["fulfillment"]["status"] == "SHIPPED" and int(item["refunded"]) == 500
    order = call(shop, ORDER, {"id": order_id}, shopper)
    assert order["fulfillment"]["trackingNumber"] == TRACKING["trackingNumber"]
    assert order["status"] == "PARTIALLY_REFUNDED" and "REFUNDED" in kinds(order)


# ---- refunds -------------------------------------------------------------------------

def test_a_refund_from_the_shop_shows_at_once_and_its_webhook_adds_nothing(shop):
    order_id, pi, shopper = paid_order(shop)
    answer = call(shop, REFUND, {"input": {"orderId": order_id, "amount": 1500,
                                           "reason": "REQUESTED_BY_CUSTOMER"}})
    assert answer["userErrors"] == [] and answer["refund"]["amount"]["amount"] == 1500
    assert answer["order"]["status"] == "PARTIALLY_REFUNDED" and answer["order"]["refunded"]["amount"] == 1500
    [made] = stripe_refunds(shop, pi)
    assert made.id == answer["refund"]["id"] and made.reason == "requested_by_customer"
    assert made.metadata["orderId"] == order_id
    items = stored(shop, order_id)
    for type_ in ("refund.created", "charge.refunded"):
        assert deliver(shop, event_of(shop, type_, pi)).status_code == 200
    after = stored(shop, order_id)
    assert [int(i["refunded"]) for i in after] == [1500, 1500]
    assert [i["version"] for i in after] == [i["version"] for i in items]  # nothing new to write
    order = call(shop, ORDER, {"id": order_id}, shopper)
    assert kinds(order) == ["PLACED", "PAID", "REFUNDED"] and order["events"][-1]["amount"]["amount"] == 1500


def test_a_double_click_refunds_once_and_a_later_second_refund_is_made(shop):
    order_id, pi, _ = paid_order(shop, amount=5000)
    variables = {"input": {"orderId": order_id, "amount": 1000}}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: call(shop, REFUND, variables), range(4)))
    assert [a["userErrors"] for a in answers] == [[]] * 4
    assert len({a["refund"]["id"] for a in answers}) == 1
    assert len(stripe_refunds(shop, pi)) == 1
    # the same request again, after the first is known: still the same refund
    again = call(shop, REFUND, variables)
    assert again["refund"]["id"] == answers[0]["refund"]["id"] and again["order"]["refunded"]["amount"] == 1000
    assert len(stripe_refunds(shop, pi)) == 1
    # a second partial refund of another amount is a new refund
    other = call(shop, REFUND, {"input": {"orderId": order_id, "amount": 700}})
    assert other["userErrors"] == [] and other["order"]["refunded"]["amount"] == 1700
    # once the request has expired (REPEAT_SECONDS), the same amount again is a new refund
    expire_refund_requests(shop, order_id)
    later = call(shop, REFUND, variables)
    assert later["userErrors"] == [] and later["order"]["refunded"]["amount"] == 2700
    assert len(stripe_refunds(shop, pi)) == 3
    # with the client's key, a repeat refunds nothing more, whenever it comes
    keyed = {"input": {"orderId": order_id, "amount": 500, "idempotencyKey": "form-42"}}
    first, second = call(shop, REFUND, keyed), call(shop, REFUND, keyed)
    assert first["refund"]["id"] == second["refund"]["id"] and second["order"]["refunded"]["amount"] == 3200
    assert len(stripe_refunds(shop, pi)) == 4
    # the key for another amount is refused, not a refund
    reused = call(shop, REFUND, {"input": {**keyed["input"], "amount": 600}})
    assert [e["code"] for e in reused["userErrors"]] == ["REFUND_REFUSED"] and reused["order"] is None
    assert len(stripe_refunds(shop, pi)) == 4


def test_a_refund_retried_after_stripe_failed_is_made_once(shop):
    order_id, pi, _ = paid_order(shop, amount=3000)
    variables = {"input": {"orderId": order_id, "amount": 1200}}
    shop.control("faults", {"rate_500": 1.0})
    try:
        body = shop.gql(REFUND, variables, admin(shop))
    finally:
        shop.control("faults", {"rate_500": 0.0})
    assert body["errors"][0]["extensions"]["code"] == "PAYMENT_PROVIDER_UNAVAILABLE"
    assert stripe_refunds(shop, pi) == []
    retried = call(shop, REFUND, variables)
    assert retried["userErrors"] == [] and retried["order"]["refunded"]["amount"] == 1200
    assert call(shop, REFUND, variables)["refund"]["id"] == retried["refund"]["id"]
    assert len(stripe_refunds(shop, pi)) == 1


def test_more_than_is_refundable_is_refused(shop):
    order_id, pi, _ = paid_order(shop, amount=3000)
    call(shop, REFUND, {"input": {"orderId": order_id, "amount": 2000}})
    before = stored(shop, order_id)
    answer = call(shop, REFUND, {"input": {"orderId": order_id, "amount": 1001}})
    [error] = answer["userErrors"]
    assert error["code"] == "REFUND_TOO_LARGE" and error["field"] == ["input", "amount"] and "1000" in error["message"]
    assert len(stripe_refunds(shop, pi)) == 1 and stored(shop, order_id) == before
    # what is left, exactly, is refundable; then nothing is
    assert call(shop, REFUND, {"input": {"orderId": order_id, "amount": 1000}})["order"]["status"] == "REFUNDED"
    assert call(shop, REFUND, {"input": {"orderId": order_id, "amount": 1}})["userErrors"][0]["code"] \
        == "REFUND_TOO_LARGE"


def test_a_refund_stripe_knows_of_but_we_do_not_yet_is_read_afresh_and_says_what_is_left(shop):
    """Stripe refuses the refund (the Dashboard's took most of it; its webhook has not arrived):
    the gateway reads the charge again, the order shows that refund, and the answer is the
    one a refund asked second gets, REFUND_TOO_LARGE with what is left (a cancel racing a
    full refund lands here too)."""
    order_id, pi, _ = paid_order(shop, amount=3000)
    refund(shop, pi, 2500)  # made in the Dashboard; its webhook has not arrived
    answer = call(shop, REFUND, {"input": {"orderId": order_id, "amount": 1000}})
    assert [(e["code"], e["field"]) for e in answer["userErrors"]] == [("REFUND_TOO_LARGE", ["input", "amount"])]
    assert "At most 500" in answer["userErrors"][0]["message"]
    assert len(stripe_refunds(shop, pi)) == 1
    order = call(shop, ADMIN_ORDER, {"id": order_id})
    assert order["status"] == "PARTIALLY_REFUNDED" and order["refunded"]["amount"] == 2500
    # what is left is refundable, once
    assert call(shop, REFUND, {"input": {"orderId": order_id, "amount": 500}})["order"]["status"] == "REFUNDED"
    assert [r.amount for r in stripe_refunds(shop, pi)] == [500, 2500]


# ---- cancelling ----------------------------------------------------------------------

def test_cancelling_an_unshipped_order_refunds_it_in_full_once(shop):
    order_id, pi, shopper = paid_order(shop, amount=4200)
    call(shop, REFUND, {"input": {"orderId": order_id, "amount": 200}})
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: call(shop, CANCEL, {"input": {"orderId": order_id,
                                                                        "reason": "FRAUDULENT"}}), range(3)))
    assert all(a["userErrors"] == [] for a in answers)
    final = answers[-1]["order"]
    assert final["fulfillment"]["status"] == "CANCELLED" and final["fulfillment"]["cancelledAt"]
    refunds = stripe_refunds(shop, pi)
    assert sorted(r.amount for r in refunds) == [200, 4000]  # the rest, once
    order = call(shop, ORDER, {"id": order_id}, shopper)
    assert order["status"] == "REFUNDED" and order["refunded"]["amount"] == 4200
    assert kinds(order) == ["PLACED", "PAID", "REFUNDED", "CANCELLED", "REFUNDED"]
    assert all(e["detail"] is None for e in order["events"] if e["kind"] == "CANCELLED")  # the reason is the shop's
    # a cancelled order never ships
    assert ship(shop, order_id)["userErrors"][0]["code"] == "FULFILLMENT_NOT_ALLOWED"


def test_a_cancel_racing_a_full_refund_stands_with_one_refund_and_says_so(shop):
    """A refund of everything made at the same moment leaves the cancel nothing to refund:
    the cancel succeeds (it was not refused after writing CANCELLED), one Stripe refund."""
    for _ in range(3):
        order_id, pi, _ = paid_order(shop, amount=3000)
        with ThreadPoolExecutor(2) as pool:
            cancel = pool.submit(call, shop, CANCEL, {"input": {"orderId": order_id, "reason": "DUPLICATE"}})
            refund = pool.submit(call, shop, REFUND, {"input": {"orderId": order_id, "amount": 3000}})
            cancelled, refunded = cancel.result(), refund.result()
        assert [r.amount for r in stripe_refunds(shop, pi)] == [3000]
        assert cancelled["userErrors"] == [] and cancelled["order"]["fulfillment"]["status"] == "CANCELLED", cancelled
        assert refunded["userErrors"] == [] or [e["code"] for e in refunded["userErrors"]] == ["REFUND_TOO_LARGE"]
        order = call(shop, ADMIN_ORDER, {"id": order_id})
        assert order["status"] == "REFUNDED" and order["refunded"]["amount"] == 3000


def test_a_shipped_order_is_not_cancelled(shop):
    order_id, pi, _ = paid_order(shop)
    ship(shop, order_id)
    before = stored(shop, order_id)
    answer = call(shop, CANCEL, {"input": {"orderId": order_id}})
    assert [e["code"] for e in answer["userErrors"]] == ["ORDER_ALREADY_SHIPPED"] and answer["order"] is None
    assert stripe_refunds(shop, pi) == [] and stored(shop, order_id) == before


# ---- the timeline --------------------------------------------------------------------

def test_the_timeline_has_each_event_once_whatever_order_webhooks_arrive_in(shop):
    user = f"shopper-{next(_shoppers)}"
    session = new_session(shop, user_id=user, amount=6000)
    pay(shop, session.id)
    pi = shop.stripe().v1.checkout.sessions.retrieve(session.id).payment_intent
    refund(shop, pi, 1000)
    charge = shop.stripe().v1.payment_intents.retrieve(pi).latest_charge
    dispute = shop.control(f"charges/{charge}/dispute", {})
    shop.control(f"disputes/{dispute['id']}/close", {"outcome": "lost"})
    events = [event_of(shop, "charge.dispute.closed", dispute["id"]), event_of(shop, "charge.refunded", pi),
              event_of(shop, "checkout.session.completed", session.id),
              event_of(shop, "charge.dispute.created", dispute["id"]), event_of(shop, "refund.created", pi)]
    for n, event in enumerate(events + events[::-1]):  # reordered, then each again
        assert deliver(shop, {**event, "id": f"{event['id']}_{n}"}).status_code == 200
    staff = call(shop, "query($id: ID!) { order(id: $id) { events { kind amount { amount } } } }",
                 {"id": session.id}, shop.token(user))
    assert kinds(staff) == ["PLACED", "PAID", "REFUNDED"]  # disputes are the shop's business
    refund(shop, pi, 500)
    deliver(shop, event_of(shop, "charge.refunded", pi))
    shown = call(shop, ORDER, {"id": session.id}, shop.token(user))
    assert kinds(shown) == ["PLACED", "PAID", "REFUNDED", "REFUNDED"]
    times = [e["at"] for e in shown["events"]]
    assert times == sorted(times)
    [item, _] = stored(shop, session.id)
    keys = set(item["events"])
    assert {"placed", "paid", f"dispute:{dispute['id']}", f"dispute:{dispute['id']}:lost"} <= keys
    assert sum(k.startswith("refund:") for k in keys) == 2


def test_an_order_written_before_timelines_gets_sensible_events_and_keeps_them(shop):
    import asyncio

    from store.keys import key_of

    order_id, _, shopper = paid_order(shop)

    async def forget_events() -> None:  # as an earlier version wrote it
        store = await shop.open_store()
        try:
            for item in stored(shop, order_id):
                current = await store.get(key_of(item))
                assert current is not None
                await store.put({k: v for k, v in current.items() if k != "events"})
        finally:
            await store.close()

    asyncio.run(forget_events())
    [item, _] = stored(shop, order_id)
    assert "events" not in item
    shown = call(shop, ORDER, {"id": order_id}, shopper)
    created = shown["events"][0]["at"]
    assert kinds(shown) == ["PLACED", "PAID"] and shown["events"][1]["at"] == created
    shipped = ship(shop, order_id)["order"]
    assert kinds(shipped) == ["PLACED", "PAID", "SHIPPED"] and shipped["events"][1]["at"] == created
    assert {"placed", "paid", "shipped"} <= set(stored(shop, order_id)[0]["events"])


def test_staff_see_every_event_in_the_admin_queries_too(shop):
    order_id, pi, shopper = paid_order(shop)
    charge = shop.stripe().v1.payment_intents.retrieve(pi).latest_charge
    dispute = shop.control(f"charges/{charge}/dispute", {})
    deliver(shop, event_of(shop, "charge.dispute.created", dispute["id"]))
    staff = call(shop, ADMIN_ORDER, {"id": order_id})
    listed = call(shop, ADMIN_LIST, {})
    [node] = [e["node"] for e in listed["edges"] if e["node"]["id"] == order_id]
    assert kinds(staff) == kinds(node) == ["PLACED", "PAID", "DISPUTE_OPENED"]
    assert kinds(call(shop, ORDER, {"id": order_id}, shopper)) == ["PLACED", "PAID"]  # the shopper's view


def test_staff_see_every_event_in_mutation_answers(shop):
    order_id, pi, _ = paid_order(shop)
    charge = shop.stripe().v1.payment_intents.retrieve(pi).latest_charge
    dispute = shop.control(f"charges/{charge}/dispute", {})
    deliver(shop, event_of(shop, "charge.dispute.created", dispute["id"]))
    shop.control(f"disputes/{dispute['id']}/close", {"outcome": "won"})
    deliver(shop, event_of(shop, "charge.dispute.closed", dispute["id"]))
    answer = ship(shop, order_id)
    assert kinds(answer["order"]) == ["PLACED", "PAID", "DISPUTE_OPENED", "DISPUTE_WON", "SHIPPED"]


# ---- who may, and garbage ------------------------------------------------------------

@pytest.mark.parametrize("query, variables", [
    (FULFILL, {"input": {"orderId": "cs_test_x", **TRACKING}}),
    (DELIVERED, {"id": "cs_test_x"}),
    (REFUND, {"input": {"orderId": "cs_test_x", "amount": 100}}),
    (CANCEL, {"input": {"orderId": "cs_test_x"}}),
])
def test_only_admins_change_orders(shop, query, variables):
    body = shop.gql(query, variables, shop.token("a-shopper"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN" and body["data"] is None
    assert shop.gql(query, variables)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("change, field, code", [
    ({"carrier": ""}, "carrier", "INVALID_INPUT"),
    ({"carrier": "   "}, "carrier", "INVALID_INPUT"),
    ({"carrier": "x" * 101}, "carrier", "INVALID_INPUT"),
    ({"carrier": "UPS\n\x00"}, "carrier", "INVALID_INPUT"),
    ({"trackingNumber": ""}, "trackingNumber", "INVALID_INPUT"),
    ({"trackingNumber": "9" * 5000}, "trackingNumber", "INVALID_INPUT"),
    ({"trackingUrl": "javascript:alert(1)"}, "trackingUrl", "INVALID_INPUT"),
    ({"trackingUrl": "ftp://ups.example/1"}, "trackingUrl", "INVALID_INPUT"),
    ({"trackingUrl": "https://"}, "trackingUrl", "INVALID_INPUT"),
    ({"trackingUrl": "https://ups.example:99999/x"}, "trackingUrl", "INVALID_INPUT"),
    ({"trackingUrl": "https://ups.example/a b"}, "trackingUrl", "INVALID_INPUT"),
    ({"trackingUrl": "https://ups.example/" + "a" * 3000}, "trackingUrl", "INVALID_INPUT"),
    ({"orderId": "ORDER#1"}, "orderId", "INVALID_INPUT"),
    ({"orderId": "cs_test_" + "z" * 40}, "orderId", "ORDER_NOT_FOUND"),
])
def test_garbage_shipping_is_refused_and_nothing_written(shop, change, field, code):
    order_id, _, _ = paid_order(shop)
    before = shop.all_items()
    answer = call(shop, FULFILL, {"input": {"orderId": order_id, **TRACKING, **change}})
    assert answer["order"] is None
    assert [(e["field"], e["code"]) for e in answer["userErrors"]][:1] == [(["input", field], code)]
    assert sorted(map(str, shop.all_items())) == sorted(map(str, before))


@pytest.mark.parametrize("change, field, code", [
    ({"amount": 0}, "amount", "INVALID_INPUT"),
    ({"amount": -5}, "amount", "INVALID_INPUT"),
    ({"amount": 2**31 - 1}, "amount", "REFUND_TOO_LARGE"),
    ({"idempotencyKey": ""}, "idempotencyKey", "INVALID_INPUT"),
    ({"idempotencyKey": "k" * 201}, "idempotencyKey", "INVALID_INPUT"),
    ({"idempotencyKey": "k\x07"}, "idempotencyKey", "INVALID_INPUT"),
    ({"orderId": ""}, "orderId", "INVALID_INPUT"),
    ({"orderId": "cs_test_" + "q" * 40}, "orderId", "ORDER_NOT_FOUND"),
])
def test_garbage_refunds_are_refused_and_nothing_written(shop, change, field, code):
    order_id, pi, _ = paid_order(shop)
    before = shop.all_items()
    answer = call(shop, REFUND, {"input": {"orderId": order_id, "amount": 100, **change}})
    assert answer["order"] is None and answer["refund"] is None
    assert [(e["field"], e["code"]) for e in answer["userErrors"]] == [(["input", field], code)]
    assert sorted(map(str, shop.all_items())) == sorted(map(str, before)) and stripe_refunds(shop, pi) == []


@pytest.mark.parametrize("variables", [
    {"input": {"orderId": "cs_test_x", "amount": 1.5}},
    {"input": {"orderId": "cs_test_x", "amount": "100"}},
    {"input": {"orderId": "cs_test_x", "amount": 100, "reason": "because"}},
    {"input": {"orderId": "cs_test_x", "amount": 2**40}},
])
def test_inputs_graphql_refuses_are_bad_user_input(shop, variables):
    body = shop.gql(REFUND, variables, admin(shop))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_unpaid_orders_are_neither_refunded_nor_cancelled(shop):
    user = f"shopper-{next(_shoppers)}"
    session = new_session(shop, user_id=user)
    pay(shop, session.id, card="4000000000001000")  # a delayed payment: PROCESSING
    deliver(shop, event_of(shop, "checkout.session.completed", session.id))
    for query, input_ in ((REFUND, {"orderId": session.id, "amount": 100}), (CANCEL, {"orderId": session.id})):
        answer = call(shop, query, {"input": input_})
        assert [e["code"] for e in answer["userErrors"]] == ["ORDER_NOT_REFUNDABLE"]
    assert ship(shop, session.id)["userErrors"][0]["code"] == "ORDER_NOT_SHIPPABLE"
