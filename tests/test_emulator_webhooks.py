"""Events and their delivery: Stripe's signature (checked by the SDK on a second server),
retries, the delivery modes for tests, delivery_success, and injected faults."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
import stripe
from stripe._api_version import _ApiVersion

from tests.emulator_helpers import Emu, running_emu


@pytest.fixture(scope="module")
def emu() -> Iterator[Emu]:
    """One emulator for this module, shared: tests look only at the objects they made."""
    yield from running_emu()


@pytest.fixture
def fresh_emu() -> Iterator[Emu]:
    """An emulator of its own, for tests that change delivery settings or count events."""
    yield from running_emu()


PAID_TYPES = {"checkout.session.completed", "payment_intent.succeeded", "charge.succeeded"}


def test_events_are_signed_as_stripe_signs_and_shaped_as_stripes(fresh_emu: Emu):
    fresh_emu.stripe.v1.products.create(params={"name": "Signed"})
    made = fresh_emu.session()
    fresh_emu.pay(made.id)
    fresh_emu.flush()
    receiver = fresh_emu.receiver
    assert receiver.bad_signatures == 0
    assert PAID_TYPES | {"product.created"} <= {e["type"] for e in receiver.events}
    completed = next(e for e in receiver.events if e["type"] == "checkout.session.completed")
    assert completed["data"]["object"]["id"] == made.id and completed["data"]["object"]["payment_status"] == "paid"
    assert completed["id"].startswith("evt_") and completed["object"] == "event"
    assert completed["api_version"] == _ApiVersion.CURRENT and completed["livemode"] is False
    assert completed["request"]["id"] is None  # paid through a test helper, not an API request
    created = next(e for e in receiver.events if e["type"] == "product.created")
    assert created["request"]["id"].startswith("req_")
    stored = fresh_emu.stripe.v1.events.retrieve(completed["id"])
    assert stored.type == "checkout.session.completed" and stored.pending_webhooks == 0
    assert stored.id in [e.id for e in fresh_emu.stripe.v1.events.list(params={"delivery_success": True,
                                                                               "limit": 100}).data]


def test_a_wrong_secret_fails_verification(fresh_emu: Emu):
    fresh_emu.receiver.secret = "whsec_someone_else"
    fresh_emu.stripe.v1.customers.create(params={"email": "x@example.com"})
    fresh_emu.flush()
    assert fresh_emu.receiver.bad_signatures == 4 and fresh_emu.receiver.events == []  # 1 try + 3 retries
    undelivered = fresh_emu.stripe.v1.events.list(params={"delivery_success": False}).data
    assert [e.type for e in undelivered] == ["customer.created"] and undelivered[0].pending_webhooks == 1


def test_deliveries_are_retried_after_the_receiver_fails_twice(fresh_emu: Emu):
    fresh_emu.receiver.fail_next = 2
    customer = fresh_emu.stripe.v1.customers.create(params={"email": "retry@example.com"})
    fresh_emu.flush()
    assert fresh_emu.receiver.attempts == 3 and fresh_emu.receiver.types(customer.id) == ["customer.created"]
    assert fresh_emu.stripe.v1.events.list(params={"delivery_success": False}).data == []


def test_mode_off_records_events_without_delivering(fresh_emu: Emu):
    assert fresh_emu.control("webhooks", {"mode": "off"}).json()["mode"] == "off"
    customer = fresh_emu.stripe.v1.customers.create(params={"email": "off@example.com"})
    fresh_emu.flush()
    assert fresh_emu.receiver.events == []
    undelivered = fresh_emu.stripe.v1.events.list(params={"delivery_success": False}).data
    assert [e.data.object.id for e in undelivered] == [customer.id]


def test_paused_deliveries_wait_for_a_flush_and_can_be_reordered(fresh_emu: Emu):
    settings = fresh_emu.control("webhooks", {"mode": "paused", "reorder": True, "seed": 7}).json()
    assert settings["mode"] == "paused" and settings["reorder"] is True
    made = [fresh_emu.stripe.v1.customers.create(params={"email": f"p{n}@example.com"}).id for n in range(8)]
    assert httpx.get(f"{fresh_emu.url}/_emulator/webhooks").json()["mode"] == "paused"
    assert fresh_emu.receiver.events == []
    assert fresh_emu.control("webhooks/flush").json() == {"flushed": 8}
    arrived = [e["data"]["object"]["id"] for e in fresh_emu.receiver.events]
    assert sorted(arrived) == sorted(made) and arrived != made


def test_paused_without_reorder_flushes_in_order(fresh_emu: Emu):
    fresh_emu.control("webhooks", {"mode": "paused"})
    made = [fresh_emu.stripe.v1.customers.create(params={"email": f"o{n}@example.com"}).id for n in range(5)]
    fresh_emu.flush()
    assert [e["data"]["object"]["id"] for e in fresh_emu.receiver.events] == made


def test_duplicate_sends_extra_copies(fresh_emu: Emu):
    fresh_emu.control("webhooks", {"duplicate": 2})
    customer = fresh_emu.stripe.v1.customers.create(params={"email": "dup@example.com"})
    fresh_emu.flush()
    copies = [e for e in fresh_emu.receiver.events if e["data"]["object"]["id"] == customer.id]
    assert len(copies) == 3 and len({e["id"] for e in copies}) == 1


def test_undelivered_rate_drops_a_fraction_for_good(fresh_emu: Emu):
    fresh_emu.control("webhooks", {"undelivered_rate": 0.5, "seed": 1})
    made = [fresh_emu.stripe.v1.customers.create(params={"email": f"u{n}@example.com"}).id for n in range(20)]
    fresh_emu.flush()
    arrived = {e["data"]["object"]["id"] for e in fresh_emu.receiver.events}
    undelivered = {e.data.object.id for e in fresh_emu.stripe.v1.events.list(
        params={"delivery_success": False, "limit": 100}).data}
    assert 0 < len(arrived) < 20 and arrived | undelivered == set(made) and not arrived & undelivered


def test_delivery_off_paused_duplicated_and_undelivered(fresh_emu: Emu):
    fresh_emu.control("webhooks", {"mode": "off"})
    silent = fresh_emu.stripe.v1.customers.create(params={"email": "off@example.com"})
    undelivered = [e.data.object["id"] for e in fresh_emu.stripe.v1.events.list(
        params={"delivery_success": False, "type": "customer.created"}).data]
    assert silent.id in undelivered
    fresh_emu.control("webhooks", {"mode": "paused", "duplicate": 1, "reorder": True, "seed": 3})
    held = [fresh_emu.stripe.v1.customers.create(params={"email": f"held{n}@example.com"}).id for n in range(5)]
    assert not any(e["data"]["object"]["id"] in held for e in fresh_emu.receiver.events)
    fresh_emu.flush()
    counts = {cid: sum(e["data"]["object"]["id"] == cid for e in fresh_emu.receiver.events) for cid in held}
    assert counts == {cid: 2 for cid in held}
    fresh_emu.control("webhooks", {"mode": "deliver", "duplicate": 0, "reorder": False, "undelivered_rate": 1.0})
    dropped = fresh_emu.stripe.v1.customers.create(params={"email": "dropped@example.com"})
    fresh_emu.flush()
    assert not any(e["data"]["object"]["id"] == dropped.id for e in fresh_emu.receiver.events)


def test_events_filter_by_type_and_types(emu: Emu):
    charge = emu.paid_charge()
    emu.stripe.v1.refunds.create(params={"charge": charge.id, "amount": 100})
    refunded = emu.stripe.v1.events.list(params={"type": "charge.refunded"}).data
    assert refunded[0].data.object.id == charge.id
    assert refunded[0].data.previous_attributes.to_dict() == {"amount_refunded": 0, "refunded": False}
    both = emu.stripe.v1.events.list(params={"types": ["refund.created", "charge.refunded"], "limit": 2}).data
    assert [e.type for e in both] == ["charge.refunded", "refund.created"]
    wildcard = {e.type for e in emu.stripe.v1.events.list(params={"type": "charge.*", "limit": 100}).data}
    assert {"charge.succeeded", "charge.refunded"} <= wildcard and all(t.startswith("charge.") for t in wildcard)


def test_every_documented_event_type_is_emitted(fresh_emu: Emu):
    fresh_emu.stripe.v1.prices.create(params={"currency": "usd", "unit_amount": 5, "product_data": {"name": "P"}})
    charge = fresh_emu.paid_charge()
    refund = fresh_emu.stripe.v1.refunds.create(params={"charge": charge.id, "amount": 10})
    fresh_emu.stripe.v1.refunds.update(refund.id, params={"metadata": {"a": "b"}})
    dispute = fresh_emu.control(f"charges/{charge.id}/dispute").json()
    fresh_emu.control(f"disputes/{dispute['id']}/close", {"outcome": "lost"})
    for outcome in ("succeeded", "failed"):
        delayed = fresh_emu.session()
        fresh_emu.pay(delayed.id, card="4000000000001000")
        fresh_emu.control(f"checkout/sessions/{delayed.id}/async_payment", {"outcome": outcome})
    fresh_emu.stripe.v1.checkout.sessions.expire(fresh_emu.session().id)
    fresh_emu.stripe.v1.customers.create(params={"email": "e@example.com"})
    fresh_emu.flush()
    expected = {
        "product.created", "price.created", "customer.created", "checkout.session.completed",
        "checkout.session.expired", "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed", "payment_intent.succeeded", "payment_intent.processing",
        "payment_intent.payment_failed", "charge.succeeded", "charge.refunded", "refund.created",
        "refund.updated", "charge.dispute.created", "charge.dispute.closed"}
    assert expected <= set(fresh_emu.receiver.types())
    assert fresh_emu.receiver.bad_signatures == 0


@pytest.mark.parametrize("body", [
    {"mode": "sometimes"}, {"duplicate": -1}, {"duplicate": "many"}, {"undelivered_rate": 2},
    {"undelivered_rate": "half"}, {"urls": "http://x"}, {"urls": ["ftp://x"]}, {"reorder": "yes"},
    {"colour": "red"}, {"seed": 1.5}, {"urls": "x"}, {"what": 1},
])
def test_bad_webhook_settings_are_400(emu: Emu, body: dict):
    response = emu.control("webhooks", body)
    assert response.status_code == 400 and response.json()["error"]["message"]


@pytest.mark.parametrize(("path", "body"), [
    ("faults", {"rate_429": 1.5}), ("faults", {"latency_ms": -5}), ("faults", {"rate_500": 0.6, "rate_429": 0.6}),
    ("faults", {"nope": 1}), ("checkout/sessions/cs_test_nope/pay", {"card_number": "4242424242424242"}),
    ("charges/ch_nope/dispute", {}), ("disputes/dp_nope/close", {"outcome": "won"}), ("faults", {"rate_500": 7}),
])
def test_bad_control_input_is_400_or_404_never_500(emu: Emu, path: str, body: dict):
    assert emu.control(path, body).status_code in (400, 404)


def test_bad_control_bodies_are_400(emu: Emu):
    made = emu.session()
    for content, kind in ((b"{not json", "application/json"), (b"[1, 2]", "application/json"),
                          (b"\xff\xfe", "application/json"), (b"a[b=1", "application/x-www-form-urlencoded")):
        response = httpx.post(f"{emu.url}/_emulator/checkout/sessions/{made.id}/pay", content=content,
                              headers={"content-type": kind})
        assert response.status_code == 400, content
    assert emu.control(f"checkout/sessions/{made.id}/pay", {"card_number": 4242}).status_code == 400
    assert emu.control(f"checkout/sessions/{made.id}/pay", {"card_number": "4242424242424242",
                                                             "country": ["US"]}).status_code == 400
    assert emu.stripe.v1.checkout.sessions.retrieve(made.id).status == "open"


def test_faults_reach_the_sdk_as_typed_errors(fresh_emu: Emu, caplog: pytest.LogCaptureFixture):
    control = fresh_emu.control
    assert control("faults", {"rate_429": 1}).json()["rate_429"] == 1
    with pytest.raises(stripe.RateLimitError):
        fresh_emu.stripe.v1.customers.list()
    control("faults", {"rate_429": 0, "rate_500": 1})
    with pytest.raises(stripe.APIError) as server_error:
        fresh_emu.stripe.v1.customers.list()
    assert server_error.value.http_status == 500
    assert control("webhooks", {}).status_code == 200  # controls are never faulted
    control("faults", {"rate_500": 0, "rate_drop": 1})
    with caplog.at_level(logging.CRITICAL, logger="uvicorn.error"), pytest.raises(stripe.APIConnectionError):
        fresh_emu.stripe.v1.customers.list()
    control("faults", {"rate_drop": 0, "rate_429": 0.5, "seed": 3})
    outcomes = []
    for _ in range(20):
        try:
            fresh_emu.stripe.v1.customers.list()
            outcomes.append("ok")
        except stripe.RateLimitError:
            outcomes.append("429")
    assert 0 < outcomes.count("429") < 20
    control("faults", {"rate_429": 0})
    assert fresh_emu.stripe.v1.customers.list().data == []


def test_the_sdk_retries_through_injected_faults(fresh_emu: Emu):
    fresh_emu.control("faults", {"rate_500": 0.5, "seed": 11})
    client = stripe.StripeClient("sk_test_retrying", base_addresses={"api": fresh_emu.url}, max_network_retries=8)
    made = [client.v1.customers.create(params={"email": f"r{n}@example.com"}).id for n in range(5)]
    fresh_emu.control("faults", {"rate_500": 0})
    assert len(made) == 5


def test_reset_forgets_everything(fresh_emu: Emu):
    customer = fresh_emu.stripe.v1.customers.create(params={"email": "gone@example.com"})
    assert fresh_emu.control("reset").json() == {"reset": True}
    with pytest.raises(stripe.InvalidRequestError):
        fresh_emu.stripe.v1.customers.retrieve(customer.id)
    assert fresh_emu.stripe.v1.events.list().data == []
