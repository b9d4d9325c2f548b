"""Typed records read and write the table's items unchanged: what the gateway wrote comes
back as it was, attributes a record does not know are kept, and the replaced system's
shapes read as ours."""

from __future__ import annotations

import pytest

from store import keys
from store.records import (
    CheckoutRecord,
    DeadLetter,
    Fulfillment,
    Order,
    Profile,
    QuoteSession,
    SyncCheckpoint,
    Unreadable,
    readable,
)
from store.records.order_index import INDEX_ATTRIBUTES

ORDER = {
    "PK": "ORDER#cs_test_a1", "SK": "METADATA", "entity": "Order", "orderId": "cs_test_a1",
    "orderNumber": "BC-TEST_A1", "userId": "u1", "guest": False, "status": "PAID",
    "facts": {"paid": True, "paymentFailed": False, "refunded": 500, "dispute": "none",
              "refunds": {"re_1": {"amount": 500, "status": "succeeded"}}},
    "items": [{"sku": "N-RED", "name": "Red Necklace", "quantity": 2, "unitPrice": 3000, "total": 6000}],
    "currency": "USD", "subtotal": 6000, "discount": 0, "shipping": 500, "tax": 0, "total": 6500,
    "refunded": 500, "chargedBack": 0, "email": "u1@example.com",
    "shippingAddress": {"name": "U One", "line1": "1 Main St", "line2": None, "city": "Austin", "state": "TX",
                        "postalCode": "78701", "country": "US"},
    "stripeSessionId": "cs_test_a1", "stripePaymentIntentId": "pi_1", "quoteSignature": "q" * 43,
    "createdAt": 1_700_000_000, "updatedAt": 1_700_000_100, "version": 3, "stripeCustomerId": "cus_1",
    # Where the order's own item is listed (store/records/order_index.py); not on listing copies.
    "ordersAll": "ALL", "orderState": "PAID#UNFULFILLED", "orderListedAt": "01700000000#cs_test_a1",
    "orderEmail": "u1@example.com",
}
LISTING = {k: v for k, v in ORDER.items() if k not in INDEX_ATTRIBUTES}


def test_an_order_the_gateway_wrote_comes_back_unchanged():
    assert Order.from_item(ORDER).to_item() == ORDER


def test_a_listing_copy_is_the_order_under_its_owners_key():
    order = Order.from_item(ORDER)
    assert order.listing_key == keys.order("u1", 1_700_000_000, "cs_test_a1")
    assert order.to_item(order.listing_key) == {**LISTING, "PK": "USER#u1", "SK": "ORDER#1700000000#cs_test_a1"}


def test_attributes_a_record_does_not_know_are_kept():
    item = {**ORDER, "packedBy": "sam", "status": "SHIPPED", "orderState": "OTHER#UNFULFILLED"}
    order = Order.from_item(item)
    assert order.set_by_hand and order.to_item() == item


def test_an_order_of_the_replaced_lambdas_reads_as_ours():
    order = Order.from_item({
        "PK": "USER#u9", "SK": "ORDER#1700000000#cs_test_old", "orderId": "cs_test_old", "status": "refunded",
        "amount": 4200, "currency": "usd", "customerEmail": "old@example.com", "createdAt": "2023-11-14T22:13:20Z",
        "items": [{"name": "Ring", "quantity": 1, "unitPrice": 4200, "sku": "R-SIL"}]})
    assert (order.user_id, order.status, order.total, order.refunded, order.currency, order.email, order.created_at) \
        == ("u9", "REFUNDED", 4200, 4200, "USD", "old@example.com", 1_700_000_000)
    assert order.legacy and order.items[0].total == 4200 and order.facts.paid


@pytest.mark.parametrize("change", [{"total": "6500"}, {"items": "none"}, {"facts": {"paid": "yes"}},
                                    {"currency": "dollars"}, {"createdAt": "yesterday"}])
def test_an_order_that_cannot_be_read_says_why_and_reads_as_none(change):
    with pytest.raises(Unreadable):
        Order.from_item({**ORDER, **change})
    assert readable({**ORDER, **change}) is None


SHIPPED = {"status": "SHIPPED", "shippedAt": 1_700_000_200, "deliveredAt": None, "cancelledAt": None,
           "carrier": "UPS", "trackingNumber": "1Z999", "trackingUrl": "https://ups.example/1Z999"}


def test_an_order_without_fulfilment_reads_as_unfulfilled_and_is_written_without_it():
    order = Order.from_item(ORDER)
    assert order.fulfillment == Fulfillment() and order.fulfillment.status == "UNFULFILLED"
    assert "fulfillment" not in order.to_item()


def test_a_shipped_order_comes_back_unchanged_in_both_copies():
    item = {**ORDER, "fulfillment": SHIPPED, "orderState": "PAID#SHIPPED"}
    order = Order.from_item(item)
    assert order.fulfillment == Fulfillment("SHIPPED", 1_700_000_200, None, "UPS", "1Z999",
                                            "https://ups.example/1Z999")
    assert order.extra == {} and order.to_item() == item
    assert order.to_item(order.listing_key)["fulfillment"] == SHIPPED


@pytest.mark.parametrize("fulfillment", ["SHIPPED", {**SHIPPED, "status": "LOST"}, {**SHIPPED, "shippedAt": "now"},
                                         {**SHIPPED, "shippedAt": True}, {**SHIPPED, "carrier": 7},
                                         {**SHIPPED, "trackingUrl": "x" * 5000}])
def test_a_fulfilment_that_cannot_be_read_says_why(fulfillment):
    with pytest.raises(Unreadable, match="fulfillment"):
        Order.from_item({**ORDER, "fulfillment": fulfillment})


def test_a_profile_comes_back_unchanged_and_one_of_the_replaced_system_reads():
    item = {"PK": "USER#u1", "SK": "PROFILE", "entity": "Profile", "userId": "u1", "email": "u1@example.com",
            "displayName": "U", "shippingAddress": {"line1": "1 Main St", "line2": None, "city": "Austin",
                                                    "state": "TX", "postalCode": "78701", "country": "US"},
            "guestClaims": ["u1@example.com"], "guestClaimed": {"u1@example.com": 2}, "createdAt": 1,
            "updatedAt": 2, "version": 4, "stripeCustomerId": "cus_1"}
    assert Profile.from_item(item).to_item() == item
    old = Profile.from_item({"PK": "USER#u2", "SK": "PROFILE", "displayName": "Two", "tier": "gold"})
    assert (old.user_id, old.display_name, old.version, old.extra) == ("u2", "Two", 0, {"tier": "gold"})


def test_checkout_records_of_this_gateway_and_of_the_replaced_system():
    record = {"PK": "SESSION#cs_test_a1", "SK": "METADATA", "entity": "SessionPointer", "quoteSignature": "q" * 43,
              "stripeSessionId": "cs_test_a1", "userId": None, "guestEmail": "g@example.com",
              "owner": "guest:g@example.com", "createdAt": 5,
              "expected": {"currency": "USD", "subtotal": 6000, "lines": [[3000, 2]], "saving": 0}}
    assert CheckoutRecord.from_item(record).to_item() == record
    old = CheckoutRecord.from_item({"PK": "SESSION#cs_test_b", "SK": "METADATA", "quoteSignature": "s",
                                    "stripeSessionId": "cs_test_b"})
    assert old.expected is None and old.user_id is None
    session = QuoteSession.from_item({"PK": "QUOTE#s", "SK": "SESSION#cs_test_b", "stripeSessionId": "cs_test_b",
                                      "status": "open", "checkoutUrl": "https://x"})
    assert (session.generation, session.signature) == (0, "s")


def test_a_dead_letter_keeps_the_event_as_text_and_reads_the_older_object_form():
    letter = DeadLetter.from_item({"PK": "DEADLETTER", "SK": "EVENT#evt_1", "eventId": "evt_1", "eventType": "x",
                                   "eventJson": '{"id": "evt_1", "rate": 1.5}', "error": "e", "attempts": 5,
                                   "deadAt": 9})
    assert letter.event == {"id": "evt_1", "rate": 1.5}
    older = DeadLetter.from_item({"PK": "DEADLETTER", "SK": "EVENT#evt_2", "event": {"id": "evt_2"}})
    assert older.event == {"id": "evt_2"} and older.to_item()["event"] == {"id": "evt_2"}


def test_the_sync_checkpoint_keeps_what_the_replaced_system_wrote():
    item = {"PK": "SYSTEM", "SK": "STRIPE_SYNC", "lastSyncAt": "2024-01-01T00:00:00Z", "lastSyncCount": 3}
    assert SyncCheckpoint.from_item(item).to_item() == {**item, "entity": "SyncCheckpoint", "run": None}


def test_an_orders_timeline_comes_back_unchanged_and_entries_that_cannot_be_read_are_left_out():
    from store.records import OrderEvent

    events = {"placed": {"kind": "PLACED", "at": 1_700_000_000, "seq": 0},
              "refund:re_1": {"kind": "REFUNDED", "at": 1_700_000_100, "seq": 1, "amount": 500}}
    order = Order.from_item({**ORDER, "events": events})
    assert order.events["refund:re_1"] == OrderEvent("REFUNDED", 1_700_000_100, 500, None, 1)
    assert order.to_item()["events"] == events and "events" not in Order.from_item(ORDER).to_item()
    odd = {**events, "later": {"kind": "TELEPORTED", "at": 1}, "bad": {"kind": "PAID", "at": "noon"}, "x": 7}
    assert set(Order.from_item({**ORDER, "events": odd}).events) == {"placed", "refund:re_1"}
    with pytest.raises(Unreadable, match="events"):
        Order.from_item({**ORDER, "events": ["placed"]})


def test_an_order_written_before_timelines_shows_what_its_facts_imply():
    from commerce.timeline import timeline

    facts: dict = ORDER["facts"]  # type: ignore[assignment]
    order = Order.from_item({**ORDER, "facts": {**facts, "disputes": {
        "dp_1": {"amount": 6500, "status": "lost"}}}})
    shopper = [(e.kind, e.at, e.amount) for e in timeline(order)]
    assert shopper == [("PLACED", 1_700_000_000, None), ("PAID", 1_700_000_000, None),
                       ("REFUNDED", 1_700_000_100, 500)]
    staff = [e.kind for e in timeline(order, staff=True)]
    assert staff == ["PLACED", "PAID", "REFUNDED", "DISPUTE_OPENED", "DISPUTE_LOST"]


def test_a_refund_request_comes_back_unchanged():
    from store.records import RefundRequest

    request = RefundRequest("cs_test_a1", "d" * 40, "gw-refund-" + "k" * 64, 500, None, 1_700_000_120)
    item = request.to_item()
    assert (item["PK"], item["SK"]) == ("REFUND#cs_test_a1", "REQUEST#" + "d" * 40)
    assert RefundRequest.from_item(item) == request
    with pytest.raises(Unreadable):
        RefundRequest.from_item({**item, "amount": "500"})
