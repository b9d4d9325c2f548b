"""Checkout sessions end to end: creation, totals (discounts, shipping, tax), the hosted pay
page, declined and delayed payments, expiry, refunds and disputes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import stripe

from tests.emulator_helpers import KEY, SUCCESS_URL, Emu, running_emu


@pytest.fixture(scope="module")
def emu() -> Iterator[Emu]:
    """One emulator for this module, shared: tests look only at the objects they made."""
    yield from running_emu()


def test_a_paid_session_expands_its_customer_payment_and_line_items(emu: Emu):
    customer = emu.stripe.v1.customers.create(params={"email": "buyer@example.com"})
    made = emu.session(customer=customer.id, client_reference_id="ref-1", metadata={"userId": "u9"},
                       payment_intent_data={"metadata": {"order": "o-1"}}, locale="fr")
    assert made.id.startswith("cs_test_") and made.object == "checkout.session" and made.status == "open"
    assert made.url.endswith(f"/pay/{made.id}") and made.payment_intent is None
    assert (made.amount_subtotal, made.amount_total, made.payment_status) == (3000, 3000, "unpaid")
    assert made.expires_at - made.created == 24 * 3600
    paid = emu.pay(made.id, name="Bea Buyer")
    assert paid.status_code == 200 and paid.json()["payment_status"] == "paid"
    got = emu.stripe.v1.checkout.sessions.retrieve(made.id, params={
        "expand": ["line_items", "customer", "payment_intent", "payment_intent.latest_charge"]})
    assert got.status == "complete" and got.url is None and got.customer.email == "buyer@example.com"
    assert got.customer_details.email == "buyer@example.com" and got.customer_details.name == "Bea Buyer"
    pi = got.payment_intent
    assert (pi.status, pi.amount, pi.currency, pi.customer, pi.metadata.to_dict()) == (
        "succeeded", 3000, "usd", customer.id, {"order": "o-1"})
    assert pi.latest_charge.paid and pi.latest_charge.captured and pi.latest_charge.status == "succeeded"
    assert [(li.quantity, li.amount_total, li.price.unit_amount, li.description)
            for li in got.line_items.data] == [(2, 3000, 1500, "Hoop earrings")]
    listed = emu.stripe.v1.checkout.sessions.list(params={"payment_intent": pi.id, "expand": ["data.line_items"]})
    assert [s.id for s in listed.data] == [made.id] and listed.data[0].line_items.data[0].quantity == 2
    assert [s.id for s in emu.stripe.v1.checkout.sessions.list(params={"customer": customer.id}).data] == [made.id]
    assert made.id in [s.id for s in emu.stripe.v1.checkout.sessions.list(params={"status": "complete"}).data]


def test_line_items_list_pages_in_order_and_expands_products(emu: Emu):
    items = [{"price_data": {"currency": "usd", "unit_amount": 100 * (n + 1),
                             "product_data": {"name": f"Item {n}", "metadata": {"n": str(n)}}}, "quantity": 1}
             for n in range(3)]
    made = emu.session(line_items=items)
    page = emu.stripe.v1.checkout.sessions.line_items.list(made.id, params={"limit": 2,
                                                                          "expand": ["data.price.product"]})
    assert [li.description for li in page.data] == ["Item 0", "Item 1"] and page.has_more
    assert page.data[0].object == "item" and page.data[0].id.startswith("li_")
    assert page.data[1].price.product.metadata["n"] == "1"
    everything = [li.description for li in page.auto_paging_iter()]
    assert everything == ["Item 0", "Item 1", "Item 2"]


def test_discount_shipping_and_tax_make_the_total(emu: Emu):
    coupon = emu.stripe.v1.coupons.create(params={"percent_off": 10, "duration": "once"})
    rate = emu.stripe.v1.shipping_rates.create(params={
        "display_name": "Courier", "type": "fixed_amount", "fixed_amount": {"amount": 900, "currency": "usd"},
        "tax_behavior": "exclusive"})
    made = emu.session(discounts=[{"coupon": coupon.id}], automatic_tax={"enabled": True},
                       shipping_address_collection={"allowed_countries": ["US", "GB"]},
                       shipping_options=[{"shipping_rate_data": {"display_name": "Post", "type": "fixed_amount",
                                                                 "tax_behavior": "exclusive",
                                                                 "fixed_amount": {"amount": 500, "currency": "usd"}}},
                                         {"shipping_rate": rate.id}])
    # 3000 - 300 (10 %) + 500 (first option by default) before the address is known.
    assert (made.amount_subtotal, made.total_details.amount_discount, made.amount_total) == (3000, 300, 3200)
    assert made.shipping_cost.amount_total == 500 and len(made.shipping_options) == 2
    paid = emu.pay(made.id, name="Gee Bee", line1="1 High St", city="London", postal_code="N1 1AA",
                   country="GB", shipping_rate=rate.id).json()
    # GB 20 % of (3000 - 300 + 900) = 720.
    assert paid["total_details"] == {"amount_discount": 300, "amount_shipping": 900, "amount_tax": 720}
    assert paid["amount_total"] == 3000 - 300 + 900 + 720
    assert paid["shipping_cost"]["shipping_rate"] == rate.id and paid["shipping_cost"]["amount_total"] == 900
    shipping = paid["collected_information"]["shipping_details"]
    assert shipping["address"]["country"] == "GB" and shipping["name"] == "Gee Bee"
    pi = emu.stripe.v1.payment_intents.retrieve(paid["payment_intent"])
    assert pi.amount == paid["amount_total"]
    expanded = emu.stripe.v1.checkout.sessions.retrieve(made.id, params={"expand": ["total_details.breakdown"]})
    breakdown = expanded.total_details.breakdown
    assert breakdown.discounts[0].amount == 300 and breakdown.discounts[0].discount.object == "discount"
    assert breakdown.taxes[0].amount == 720


def test_discounts_shipping_and_tax(emu: Emu):
    coupon = emu.stripe.v1.coupons.create(params={"amount_off": 500, "currency": "usd", "duration": "once"})
    rate = emu.stripe.v1.shipping_rates.create(params={
        "display_name": "Express", "type": "fixed_amount", "fixed_amount": {"amount": 1200, "currency": "usd"},
        "tax_behavior": "exclusive"})
    made = emu.session(discounts=[{"coupon": coupon.id}], automatic_tax={"enabled": True},
                       shipping_address_collection={"allowed_countries": ["US", "DE"]},
                       shipping_options=[{"shipping_rate_data": {"display_name": "Standard", "type": "fixed_amount",
                                                                 "tax_behavior": "exclusive",
                                                                 "fixed_amount": {"amount": 500, "currency": "usd"}}},
                                         {"shipping_rate": rate.id}])
    assert made.total_details.amount_discount == 500
    emu.pay(made.id, shipping_rate=rate.id, line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")
    paid = emu.stripe.v1.checkout.sessions.retrieve(made.id)
    base = 3000 - 500 + 1200
    assert paid.total_details.amount_shipping == 1200
    assert paid.total_details.amount_tax == (base * 1900 + 5000) // 10000
    assert paid.amount_total == base + paid.total_details.amount_tax
    assert paid.collected_information.shipping_details.address.country == "DE"
    assert paid.shipping_cost.shipping_rate == rate.id
    assert emu.pay(emu.session(shipping_address_collection={"allowed_countries": ["US"]}).id,
                   line1="x", city="y", postal_code="1", country="FR").status_code == 400


@pytest.mark.parametrize(("country", "tax"), [("US", 240), ("DE", 570), ("CA", 390), ("AU", 300), ("JP", 0)])
def test_tax_by_billing_country_rounds_half_up(emu: Emu, country: str, tax: int):
    made = emu.session(automatic_tax={"enabled": True})
    paid = emu.pay(made.id, billing_country=country).json()
    assert paid["total_details"]["amount_tax"] == tax and paid["amount_total"] == 3000 + tax


def test_tax_rounds_half_up_on_odd_amounts(emu: Emu):
    made = emu.session(automatic_tax={"enabled": True}, line_items=[{"price_data": {
        "currency": "usd", "tax_behavior": "exclusive", "unit_amount": 1006, "product_data": {"name": "Odd"}},
        "quantity": 1}])
    # 1006 * 8 % = 80.48 -> 80; 1006.25 would be needed for .5, so check a .5 case too.
    assert emu.pay(made.id).json()["total_details"]["amount_tax"] == 80
    half = emu.session(automatic_tax={"enabled": True}, line_items=[{"price_data": {
        "currency": "usd", "tax_behavior": "exclusive", "unit_amount": 1025, "product_data": {"name": "Half"}},
        "quantity": 1}])
    assert emu.pay(half.id, billing_country="GB").json()["total_details"]["amount_tax"] == 205  # 205.0
    quarter = emu.session(automatic_tax={"enabled": True}, line_items=[{"price_data": {
        "currency": "usd", "tax_behavior": "exclusive", "unit_amount": 1025, "product_data": {"name": "Quarter"}},
        "quantity": 1}])
    assert emu.pay(quarter.id, billing_country="CA").json()["total_details"]["amount_tax"] == 133  # 133.25


@pytest.mark.parametrize(("params", "param"), [
    ({"mode": "subscription"}, "mode"),
    ({"customer_email": "x@example.com", "customer": "cus_x"}, "customer_email"),
    ({"expires_at": 60}, "expires_at"),
    ({"success_url": None}, "success_url"),
    ({"line_items": [{"price_data": {"currency": "usd", "unit_amount": 1, "product_data": {"name": "a"}},
                      "quantity": 1},
                     {"price_data": {"currency": "eur", "unit_amount": 1, "product_data": {"name": "b"}},
                      "quantity": 1}]}, "line_items"),
    ({"discounts": [{"coupon": "NOPE"}]}, "discounts[0][coupon]"),
    ({"shipping_options": [{"shipping_rate": "shr_nope"}]}, "shipping_options[0][shipping_rate]"),
])
def test_bad_session_parameters_name_the_param(emu: Emu, params: dict, param: str):
    full = {"mode": "payment", "success_url": SUCCESS_URL, "line_items": [{"price_data": {
        "currency": "usd", "unit_amount": 100, "product_data": {"name": "x"}}, "quantity": 1}], **params}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        emu.stripe.v1.checkout.sessions.create(params={k: v for k, v in full.items() if v is not None})
    assert caught.value.http_status == 400 and caught.value.param == param


def test_expires_at_inside_the_window_is_kept(emu: Emu):
    at = int(time.time()) + 3600
    assert emu.session(expires_at=at).expires_at == at


def test_the_pay_page_in_a_browser(emu: Emu):
    made = emu.session()
    page = httpx.get(made.url)
    assert page.status_code == 200 and "card_number" in page.text and "Hoop earrings" in page.text
    declined = httpx.post(made.url, data={"email": "b@example.com", "card_number": "4000000000000002"})
    assert declined.status_code == 402 and "declined" in declined.text
    paid = httpx.post(made.url, data={"email": "b@example.com", "card_number": "4242 4242 4242 4242"})
    assert paid.status_code == 303
    assert paid.headers["location"] == SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", made.id)
    assert "already paid" in httpx.get(made.url).text
    fresh = emu.session()
    for garbage in (b"\xff\xfe", b"card_number=" + b"4" * 20000, b"card_number=1234"):
        assert httpx.post(fresh.url, content=garbage,
                          headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 400
    assert httpx.get(f"{emu.url}/pay/cs_test_nope").status_code == 404


def test_the_pay_page_shows_the_session_and_pays_by_form(emu: Emu):
    made = emu.session(customer_email="form@example.com",
                       shipping_address_collection={"allowed_countries": ["US", "FR"]},
                       shipping_options=[{"shipping_rate_data": {"display_name": "Post", "type": "fixed_amount",
                                                                 "fixed_amount": {"amount": 500, "currency": "usd"}}}])
    page = httpx.get(made.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in ("Hoop earrings", "form@example.com", "card_number", "name=country", "Post",
                 "billing_country", "4242424242424242"):
        assert text in page.text
    assert "<script" not in page.text and "http" not in page.text.split("<form")[0].replace(made.url, "")
    form = {"email": "form@example.com", "name": "Eff", "card_number": "4242 4242 4242 4242", "line1": "1 Rue",
            "city": "Paris", "postal_code": "75001", "country": "FR", "billing_country": "FR"}
    paid = httpx.post(made.url, data=form)
    assert paid.status_code == 303
    assert paid.headers["location"] == SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", made.id)
    got = emu.stripe.v1.checkout.sessions.retrieve(made.id)
    assert (got.status, got.payment_status, got.customer_details.email) == ("complete", "paid", "form@example.com")
    again = httpx.get(made.url)
    assert again.status_code == 200 and "already paid" in again.text
    twice = httpx.post(made.url, data=form)
    assert twice.status_code == 200 and "already paid" in twice.text
    assert len(emu.stripe.v1.payment_intents.list(params={"limit": 100}).data) >= 1


def test_the_pay_page_declines_and_refuses_unknown_cards(emu: Emu):
    made = emu.session()
    declined = httpx.post(made.url, data={"email": "d@example.com", "card_number": "4000000000000002"})
    assert declined.status_code == 402 and "Your card was declined." in declined.text
    other = httpx.post(made.url, data={"email": "d@example.com", "card_number": "1234"})
    assert other.status_code == 400 and "test card" in other.text
    garbage = httpx.post(made.url, content=b"%%%&&&=\xff",
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert garbage.status_code == 400
    assert emu.stripe.v1.checkout.sessions.retrieve(made.id).status == "open"
    assert httpx.get(made.url.replace(made.id, "cs_test_nope")).status_code == 404


def test_declined_and_delayed_payments(emu: Emu):
    declined = emu.session()
    answer = emu.pay(declined.id, card="4000000000000002")
    assert answer.status_code == 402 and answer.json()["error"]["code"] == "card_declined"
    assert emu.stripe.v1.checkout.sessions.retrieve(declined.id).status == "open"
    delayed = emu.session()
    emu.pay(delayed.id, card="4000000000001000")
    got = emu.stripe.v1.checkout.sessions.retrieve(delayed.id, params={"expand": ["payment_intent"]})
    assert (got.status, got.payment_status, got.payment_intent.status) == ("complete", "unpaid", "processing")
    assert emu.control(f"checkout/sessions/{delayed.id}/async_payment", {"outcome": "succeeded"}).status_code == 200
    assert emu.stripe.v1.checkout.sessions.retrieve(delayed.id).payment_status == "paid"
    failing = emu.session()
    emu.pay(failing.id, card="4000000000001000")
    emu.control(f"checkout/sessions/{failing.id}/async_payment", {"outcome": "failed"})
    types = [e.type for e in emu.stripe.v1.events.list(params={"limit": 100}).data
             if e.data.object["id"] == failing.id]
    assert "checkout.session.async_payment_failed" in types


def test_a_delayed_payment_settles_later(emu: Emu):
    made = emu.session()
    paid = httpx.post(made.url, data={"email": "slow@example.com", "card_number": "4000000000001000"})
    assert paid.status_code == 303
    got = emu.stripe.v1.checkout.sessions.retrieve(made.id, params={"expand": ["payment_intent"]})
    assert (got.status, got.payment_status, got.payment_intent.status) == ("complete", "unpaid", "processing")
    settled = emu.control(f"checkout/sessions/{made.id}/async_payment", {"outcome": "succeeded"})
    assert settled.status_code == 200 and settled.json()["payment_status"] == "paid"
    assert emu.stripe.v1.payment_intents.retrieve(got.payment_intent.id).status == "succeeded"
    assert emu.control(f"checkout/sessions/{made.id}/async_payment", {"outcome": "succeeded"}).status_code == 400

    failing = emu.session()
    emu.pay(failing.id, card="4000000000001000")
    failed = emu.control(f"checkout/sessions/{failing.id}/async_payment", {"outcome": "failed"})
    assert failed.status_code == 200 and failed.json()["payment_status"] == "unpaid"
    pi = emu.stripe.v1.payment_intents.retrieve(failed.json()["payment_intent"])
    assert pi.status == "requires_payment_method" and pi.latest_charge is None
    assert emu.control(f"checkout/sessions/{failing.id}/async_payment", {"outcome": "maybe"}).status_code == 400


def test_sessions_expire_by_request(emu: Emu):
    made = emu.session()
    expired = emu.stripe.v1.checkout.sessions.expire(made.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError):
        emu.stripe.v1.checkout.sessions.expire(made.id)
    page = httpx.get(made.url)
    assert page.status_code == 410 and "expired" in page.text
    assert emu.pay(made.id).status_code == 400
    events = emu.stripe.v1.events.list(params={"type": "checkout.session.expired", "limit": 100}).data
    assert made.id in [e.data.object.id for e in events]


def test_expiry(emu: Emu):
    made = emu.session()
    expired = emu.stripe.v1.checkout.sessions.expire(made.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError):
        emu.stripe.v1.checkout.sessions.expire(made.id)
    assert httpx.get(made.url).status_code == 410
    types = [e.type for e in emu.stripe.v1.events.list(params={"type": "checkout.session.expired", "limit": 100}).data
             if e.data.object["id"] == made.id]
    assert types == ["checkout.session.expired"]
    for bad in (int(time.time()) + 60, int(time.time()) + 2 * 86400):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            emu.session(expires_at=bad)
        assert caught.value.param == "expires_at"


def test_refunds_partial_then_full(emu: Emu):
    charge = emu.paid_charge()
    part = emu.stripe.v1.refunds.create(params={"charge": charge.id, "amount": 1000, "reason": "requested_by_customer",
                                                "metadata": {"why": "size"}})
    assert part.id.startswith("re_") and (part.amount, part.status, part.charge) == (1000, "succeeded", charge.id)
    after = emu.stripe.v1.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (1000, False) and after.refunds.data[0].id == part.id
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        emu.stripe.v1.refunds.create(params={"charge": charge.id, "amount": 5000})
    assert too_much.value.param == "amount"
    rest = emu.stripe.v1.refunds.create(params={"payment_intent": charge.payment_intent})
    assert rest.amount == 2000
    full = emu.stripe.v1.charges.retrieve(charge.id)
    assert (full.amount_refunded, full.refunded) == (3000, True)
    listed = emu.stripe.v1.refunds.list(params={"charge": charge.id}).data
    assert [r.id for r in listed] == [rest.id, part.id]
    assert emu.stripe.v1.refunds.retrieve(part.id).metadata["why"] == "size"
    updated = emu.stripe.v1.refunds.update(part.id, params={"metadata": {"note": "ok"}})
    assert updated.metadata.to_dict() == {"why": "size", "note": "ok"}


def test_refunds_partial_and_full(emu: Emu):
    made = emu.session()
    emu.pay(made.id)
    pi = emu.stripe.v1.checkout.sessions.retrieve(made.id).payment_intent
    first = emu.stripe.v1.refunds.create(params={"payment_intent": pi, "amount": 1000})
    assert first.id.startswith("re_") and first.amount == 1000 and first.status == "succeeded"
    charge = emu.stripe.v1.charges.retrieve(first.charge)
    assert (charge.amount_refunded, charge.refunded) == (1000, False)
    emu.stripe.v1.refunds.create(params={"charge": charge.id})
    charge = emu.stripe.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (3000, True)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        emu.stripe.v1.refunds.create(params={"charge": charge.id, "amount": 1})
    assert caught.value.code == "amount_too_large"
    assert len(emu.stripe.v1.refunds.list(params={"charge": charge.id}).data) == 2


def test_disputes_open_close_and_list(emu: Emu):
    charge = emu.paid_charge()
    opened = emu.control(f"charges/{charge.id}/dispute", {"amount": 1000, "reason": "product_not_received"})
    dispute = opened.json()
    assert opened.status_code == 200 and dispute["id"].startswith("dp_")
    assert (dispute["status"], dispute["amount"], dispute["charge"]) == ("needs_response", 1000, charge.id)
    assert emu.stripe.v1.charges.retrieve(charge.id).disputed is True
    assert [d.id for d in emu.stripe.v1.disputes.list(params={"charge": charge.id}).data] == [dispute["id"]]
    won = emu.control(f"disputes/{dispute['id']}/close", {"outcome": "won"})
    assert won.json()["status"] == "won"
    assert emu.control(f"disputes/{dispute['id']}/close", {"outcome": "lost"}).status_code == 400

    second = emu.paid_charge()
    opened = emu.control(f"charges/{second.id}/dispute").json()
    assert emu.stripe.v1.disputes.close(opened["id"]).status == "lost"
    assert emu.stripe.v1.disputes.retrieve(opened["id"]).status == "lost"
    assert emu.control("charges/ch_nope/dispute").status_code == 404


async def test_the_async_sdk_methods_work_over_httpx(emu: Emu):
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(KEY, base_addresses={"api": emu.url}, http_client=http_client)
    try:
        await _shop_asynchronously(client)
    finally:
        await http_client.close_async()


async def _shop_asynchronously(client: stripe.StripeClient) -> None:
    made = await client.v1.checkout.sessions.create_async(params={
        "mode": "payment", "success_url": SUCCESS_URL,
        "line_items": [{"price_data": {"currency": "gbp", "unit_amount": 250, "product_data": {"name": "Pin"}},
                        "quantity": 4}]})
    assert made.amount_total == 1000 and made.currency == "gbp"
    got = await client.v1.checkout.sessions.retrieve_async(made.id, params={"expand": ["line_items"]})
    assert got.line_items.data[0].quantity == 4
    listed = await client.v1.checkout.sessions.line_items.list_async(made.id)
    assert [li.amount_total async for li in listed.auto_paging_iter()] == [1000]
