"""Holds given back (issue 19): by the expired event with the emulator's clock moved, by
the sweep when no event comes, a late `completed` flagged and never oversold, and a storm
of duplicate, out-of-order events leaving the counts consistent."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.emulator_helpers import wait_until
from tests.live_gateway import engine_env, gateway_env, running_gateway
from tests.stock_helpers import CHECKOUT, checkout, counted_catalog, levels, order_status, pay, quote, set_stock


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def shop(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("expiry")
    env = gateway_env(directory, CATALOG_PATH=str(counted_catalog(directory)), **engine_env(request))
    with running_gateway(env, request.param) as client:
        yield client
        client.control("clock", {"set": int(time.time())})


def counts(gateway, sku: str) -> tuple[int, int, int, int]:
    level = levels(gateway)[sku]
    return level["onHand"], level["reserved"], level["available"], level["sold"]


def hold_one(gateway, sku: str, email: str) -> dict:
    made = checkout(gateway.url, quote(gateway, [{"sku": sku, "quantity": 1}]), email)
    assert made["userErrors"] == [], made
    return made["checkoutSession"]


def expires_at(gateway, session_id: str) -> int:
    return gateway.stripe().v1.checkout.sessions.retrieve(session_id).expires_at


def deliver(gateway, event: dict) -> dict:
    """An event signed as the mounted emulator signs its deliveries."""
    payload = json.dumps(event).encode()
    t = int(time.time())
    secret = gateway.app.state.emulator.webhook_secret
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    response = gateway.http.post("/stripe/webhook", content=payload, headers={
        "stripe-signature": f"t={t},v1={mac}", "content-type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def event(type_: str, session_id: str, n: int | str = 0) -> dict:
    return {"id": f"evt_stock_{session_id[-12:]}_{type_.rsplit('.', 1)[-1]}_{n}", "object": "event",
            "type": type_, "data": {"object": {"id": session_id, "object": "checkout.session"}}}


def sweep(gateway, now: int):
    from jobs.stock_sweep import sweep_stock
    from payments import Payments

    async def run():
        store = await gateway.open_store()
        payments = Payments("sk_test_sweep", api_base=f"{gateway.url}/_stripe")
        try:
            return await sweep_stock(store, payments, now=now)
        finally:
            await payments.close()
            await store.close()

    return asyncio.run(run())


def test_moving_the_emulator_clock_expires_the_session_and_its_event_returns_the_stock(shop):
    set_stock(shop, "N-RED", 1)
    first = hold_one(shop, "N-RED", "first@example.com")
    refused = checkout(shop.url, quote(shop, [{"sku": "N-RED", "quantity": 1}]), "second@example.com")
    assert [e["code"] for e in refused["userErrors"]] == ["OUT_OF_STOCK"]
    moved = shop.control("clock", {"advance": expires_at(shop, first["id"]) - int(time.time()) + 5})
    try:
        assert moved["expired"] >= 1
        wait_until(lambda: counts(shop, "N-RED") == (1, 0, 1, 0), timeout=10)
    finally:
        shop.control("clock", {"set": int(time.time())})
    assert pay(shop, first["id"]).status_code == 400  # expired: cannot be paid
    assert hold_one(shop, "N-RED", "second@example.com")["status"] == "OPEN"
    assert counts(shop, "N-RED") == (1, 1, 0, 0)


def test_without_the_event_the_sweep_expires_the_session_and_returns_the_stock(shop):
    set_stock(shop, "N-ORG", 1)
    shop.control("webhooks", {"mode": "off"})
    try:
        held = hold_one(shop, "N-ORG", "swept@example.com")
        early = sweep(shop, now=int(time.time()))
        assert counts(shop, "N-ORG") == (1, 1, 0, 0) and early.released == 0
        report = sweep(shop, now=expires_at(shop, held["id"]) + 120)
        assert report.released >= 1
        assert counts(shop, "N-ORG") == (1, 0, 1, 0)
        assert shop.stripe().v1.checkout.sessions.retrieve(held["id"]).status == "expired"  # never payable now
        assert pay(shop, held["id"]).status_code == 400
        again = sweep(shop, now=expires_at(shop, held["id"]) + 120)
        assert again.released == 0 and counts(shop, "N-ORG") == (1, 0, 1, 0)
    finally:
        shop.control("webhooks", {"mode": "deliver"})


def test_a_late_completed_for_a_released_hold_is_flagged_not_oversold(shop, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="gateway.access")
    set_stock(shop, "N-BLU", 1)
    late = hold_one(shop, "N-BLU", "late@example.com")
    # the expired event processed first (out of order, or a session Stripe let be paid at the wire)
    assert deliver(shop, event("checkout.session.expired", late["id"]))["outcome"] == "applied"
    assert counts(shop, "N-BLU") == (1, 0, 1, 0)
    other = hold_one(shop, "N-BLU", "other@example.com")
    assert pay(shop, late["id"]).status_code == 200
    wait_until(lambda: order_status(shop, late["id"]) == "OUT_OF_STOCK", timeout=10)
    assert counts(shop, "N-BLU") == (1, 1, 0, 0)  # the other shopper's hold intact: nothing oversold
    from telemetry.logs import JsonLines
    from tests.cloudwatch_filters import matches
    from tests.test_lambda import template_filters

    flagged = [JsonLines().format(r) for r in caplog.records
               if getattr(r, "kind", None) == "order_out_of_stock" and r.orderId == late["id"]]
    assert len(flagged) == 1 and matches(template_filters()["OrdersOutOfStock"], flagged[0])  # the alarm's
    metrics = shop.http.get("/metrics").text
    assert "gateway_orders_out_of_stock_total" in metrics
    pay(shop, other["id"])
    wait_until(lambda: order_status(shop, other["id"]) == "PAID", timeout=10)
    assert counts(shop, "N-BLU") == (0, 0, 0, 1)


def test_a_late_completed_with_stock_still_free_is_sold(shop):
    set_stock(shop, "E-MAG-GLD", 2)
    late = hold_one(shop, "E-MAG-GLD", "free@example.com")
    deliver(shop, event("checkout.session.expired", late["id"]))
    assert counts(shop, "E-MAG-GLD") == (2, 0, 2, 0)
    pay(shop, late["id"])
    wait_until(lambda: order_status(shop, late["id"]) == "PAID", timeout=10)
    assert counts(shop, "E-MAG-GLD") == (1, 0, 1, 1)


def test_a_failed_delayed_payment_returns_the_stock_and_a_settled_one_sells(shop):
    set_stock(shop, "BR-RESIN-BANGLE", 2)
    failing, settling = (hold_one(shop, "BR-RESIN-BANGLE", f"{n}@example.com") for n in ("fails", "settles"))
    for held in (failing, settling):
        assert pay(shop, held["id"], card="4000000000001000").status_code == 200
    wait_until(lambda: order_status(shop, settling["id"]) == "PROCESSING", timeout=10)
    assert sweep(shop, now=expires_at(shop, failing["id"]) + 120).kept >= 2  # payments settling: kept
    assert counts(shop, "BR-RESIN-BANGLE") == (2, 2, 0, 0)
    shop.control(f"checkout/sessions/{failing['id']}/async_payment", {"outcome": "failed"})
    shop.control(f"checkout/sessions/{settling['id']}/async_payment", {"outcome": "succeeded"})
    wait_until(lambda: counts(shop, "BR-RESIN-BANGLE") == (1, 0, 1, 1), timeout=10)
    assert order_status(shop, settling["id"]) == "PAID" and order_status(shop, failing["id"]) == "PAYMENT_FAILED"


def test_a_storm_of_duplicate_and_out_of_order_events_keeps_the_counts_consistent(shop):
    """4 on hand; three shoppers hold one each: one pays, one expires, one stays open. Every
    event about them, under fresh ids (so receipts do not dedupe them), five times over,
    shuffled and concurrent, with sweeps in between: on hand = 4 - sold, reserved = the open
    session's one."""
    shop.control("webhooks", {"mode": "off"})
    try:
        set_stock(shop, "E-PEARL-STUD", 4)
        paid, expired, still_open = (hold_one(shop, "E-PEARL-STUD", f"storm{n}@example.com") for n in range(3))
        pay(shop, paid["id"])
        shop.stripe().v1.checkout.sessions.expire(expired["id"])
        kinds = [(f"checkout.session.{kind}", session["id"]) for session in (paid, expired)
                 for kind in ("completed", "async_payment_succeeded", "async_payment_failed", "expired")]
        storm = [event(type_, session_id, n) for n in range(5) for type_, session_id in kinds]
        random.Random(19).shuffle(storm)
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(lambda e: deliver(shop, e)["outcome"], storm))
        sweep(shop, now=int(time.time()))
        assert "applied" in outcomes
        assert counts(shop, "E-PEARL-STUD") == (3, 1, 2, 1)
        assert order_status(shop, paid["id"]) == "PAID" and order_status(shop, still_open["id"]) is None
    finally:
        shop.control("webhooks", {"mode": "deliver"})


def test_a_checkout_stripe_refuses_is_a_coded_error_and_holds_nothing(shop):
    """With the emulator's clock a day ahead, Stripe refuses the session's expires_at (out of
    its 30 minutes to 24 hours): a PAYMENT_PROVIDER_REFUSED error, not an internal one, and
    the piece's hold is given back."""
    sku = "N-PEARL-CHOKER"
    before = counts(shop, sku)
    signature = quote(shop, [{"sku": sku, "quantity": 1}])
    shop.control("clock", {"advance": 90_000})
    try:
        response = shop.post({"query": CHECKOUT, "variables": {"sig": signature, "email": "c@example.com"}})
        assert response.status_code == 200, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "PAYMENT_PROVIDER_REFUSED", error
    finally:
        shop.control("clock", {"set": int(time.time())})
    assert counts(shop, sku) == before
