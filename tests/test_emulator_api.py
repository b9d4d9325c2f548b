"""The emulator's /v1 API through the official stripe SDK: resources, lists, expansion,
idempotency, authentication and errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
import stripe

from tests.emulator_helpers import Emu, running_emu


@pytest.fixture(scope="module")
def emu() -> Iterator[Emu]:
    """One emulator for this module, shared: tests look only at the objects they made."""
    yield from running_emu()


def test_products_create_retrieve_update_and_list_by_active(emu: Emu):
    made = emu.stripe.v1.products.create(params={
        "name": "Necklace", "description": "Gold", "images": ["https://img.example/n.png"],
        "metadata": {"sku": "N-1"}})
    assert made.id.startswith("prod_") and len(made.id) > 14 and made.object == "product"
    assert (made.name, made.description, made.images, made.metadata.to_dict()) == (
        "Necklace", "Gold", ["https://img.example/n.png"], {"sku": "N-1"})
    assert made.livemode is False and made.active is True and abs(made.created - time.time()) < 5
    named = emu.stripe.v1.products.create(params={"id": "prod_custom_necklace", "name": "Named"})
    assert emu.stripe.v1.products.retrieve("prod_custom_necklace").name == "Named" == named.name
    updated = emu.stripe.v1.products.update(made.id, params={"active": False, "metadata": {"sku": ""}})
    assert updated.active is False and updated.metadata.to_dict() == {}
    inactive = [p.id for p in emu.stripe.v1.products.list(params={"active": False, "limit": 100}).data]
    active = [p.id for p in emu.stripe.v1.products.list(params={"active": True, "limit": 100}).data]
    assert made.id in inactive and made.id not in active and named.id in active


def test_prices_lookup_keys_are_unique_and_transfer(emu: Emu):
    product = emu.stripe.v1.products.create(params={"name": "Ring"})
    first = emu.stripe.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 3000,
                                                "lookup_key": "ring-std", "metadata": {"size": "7"}})
    assert (first.unit_amount, first.unit_amount_decimal, first.type, first.lookup_key) == (
        3000, Decimal("3000"), "one_time", "ring-std")
    with pytest.raises(stripe.InvalidRequestError) as taken:
        emu.stripe.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 1,
                                            "lookup_key": "ring-std"})
    assert taken.value.http_status == 400 and taken.value.param == "lookup_key"
    second = emu.stripe.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 3200,
                                                 "lookup_key": "ring-std", "transfer_lookup_key": True})
    assert emu.stripe.v1.prices.retrieve(first.id).lookup_key is None
    found = emu.stripe.v1.prices.list(params={"lookup_keys": ["ring-std"], "expand": ["data.product"]}).data
    assert [(p.id, p.product.name) for p in found] == [(second.id, "Ring")]
    emu.stripe.v1.prices.update(first.id, params={"active": False, "lookup_key": "ring-old"})
    by_product = emu.stripe.v1.prices.list(params={"product": product.id, "active": False}).data
    assert [(p.id, p.lookup_key) for p in by_product] == [(first.id, "ring-old")]
    inline = emu.stripe.v1.prices.create(params={"currency": "eur", "unit_amount": 500,
                                                 "product_data": {"name": "Inline"}})
    assert emu.stripe.v1.products.retrieve(inline.product).name == "Inline"


def test_products_prices_and_lookup_keys(emu: Emu):
    product = emu.stripe.v1.products.create(params={"name": "Necklace", "metadata": {"sku": "N-1"}})
    assert product.id.startswith("prod_") and product.object == "product" and product.livemode is False
    price = emu.stripe.v1.prices.create(params={"product": product.id, "currency": "usd",
                                                "unit_amount": 3000, "lookup_key": "N-1"})
    assert (price.unit_amount, price.currency, price.lookup_key, price.type) == (3000, "usd", "N-1", "one_time")
    with pytest.raises(stripe.InvalidRequestError) as taken:
        emu.stripe.v1.prices.create(params={"product": product.id, "currency": "usd",
                                            "unit_amount": 3100, "lookup_key": "N-1"})
    assert taken.value.param == "lookup_key"
    moved = emu.stripe.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 3100,
                                                "lookup_key": "N-1", "transfer_lookup_key": True})
    found = emu.stripe.v1.prices.list(params={"lookup_keys": ["N-1"], "expand": ["data.product"]}).data
    assert [(p.id, p.product.name) for p in found] == [(moved.id, "Necklace")]
    assert emu.stripe.v1.prices.retrieve(price.id).lookup_key is None
    updated = emu.stripe.v1.products.update(product.id, params={"name": "Necklace II", "active": False})
    assert (updated.name, updated.active) == ("Necklace II", False)


def test_customers_create_retrieve_update_and_list_by_email(emu: Emu):
    made = emu.stripe.v1.customers.create(params={"email": "cee@example.com", "name": "Cee",
                                                  "metadata": {"userId": "u1"}})
    assert made.id.startswith("cus_") and made.metadata["userId"] == "u1"
    emu.stripe.v1.customers.update(made.id, params={"name": "Cee Dee", "metadata": {"tier": "gold"}})
    got = emu.stripe.v1.customers.retrieve(made.id)
    assert got.name == "Cee Dee" and got.metadata.to_dict() == {"userId": "u1", "tier": "gold"}
    assert [c.id for c in emu.stripe.v1.customers.list(params={"email": "cee@example.com"}).data] == [made.id]


def test_coupons_by_amount_or_percent(emu: Emu):
    off = emu.stripe.v1.coupons.create(params={"amount_off": 500, "currency": "usd", "duration": "once",
                                               "name": "5 off"})
    assert off.object == "coupon" and off.amount_off == 500 and off.percent_off is None and off.valid
    percent = emu.stripe.v1.coupons.create(params={"id": "SPRING25", "percent_off": 25.5})
    assert percent.id == "SPRING25" and percent.percent_off == 25.5
    assert emu.stripe.v1.coupons.retrieve("SPRING25").duration == "once"
    with pytest.raises(stripe.InvalidRequestError):
        emu.stripe.v1.coupons.create(params={"amount_off": 500, "percent_off": 10, "currency": "usd"})


def test_auto_paging_iter_walks_25_objects_ten_at_a_time(emu: Emu):
    tag = f"page-{time.monotonic_ns()}"
    made = [emu.stripe.v1.customers.create(params={"email": f"{tag}@example.com"}).id for _ in range(25)]
    first = emu.stripe.v1.customers.list(params={"email": f"{tag}@example.com", "limit": 10})
    assert [c.id for c in first.data] == made[::-1][:10] and first.has_more is True
    assert first.url == "/v1/customers" and first["object"] == "list"
    walked = [c.id for c in first.auto_paging_iter()]
    assert walked == made[::-1]


def test_starting_after_and_ending_before(emu: Emu):
    tag = f"cursor-{time.monotonic_ns()}"
    made = [emu.stripe.v1.customers.create(params={"email": f"{tag}@example.com"}).id for _ in range(6)]
    newest_first = made[::-1]
    params = {"email": f"{tag}@example.com", "limit": 2}
    after = emu.stripe.v1.customers.list(params={**params, "starting_after": newest_first[1]})
    assert [c.id for c in after.data] == newest_first[2:4] and after.has_more is True
    before = emu.stripe.v1.customers.list(params={**params, "ending_before": newest_first[4]})
    assert [c.id for c in before.data] == newest_first[2:4] and before.has_more is True
    last = emu.stripe.v1.customers.list(params={**params, "starting_after": newest_first[3]})
    assert [c.id for c in last.data] == newest_first[4:] and last.has_more is False
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        emu.stripe.v1.customers.list(params={"starting_after": "cus_nope"})
    assert unknown.value.param == "starting_after"


def test_created_filters(emu: Emu):
    made = emu.stripe.v1.customers.create(params={"email": "created-filter@example.com"})
    email = "created-filter@example.com"
    exact = emu.stripe.v1.customers.list(params={"email": email, "created": made.created}).data
    assert [c.id for c in exact] == [made.id]
    assert emu.stripe.v1.customers.list(params={"email": email, "created": {"gt": made.created}}).data == []
    assert emu.stripe.v1.customers.list(params={"email": email, "created": {"lt": made.created}}).data == []
    window = {"gte": made.created, "lte": made.created}
    assert [c.id for c in emu.stripe.v1.customers.list(params={"email": email, "created": window}).data] == [made.id]


def test_list_limit_bounds(emu: Emu):
    for limit in ("0", "101", "ten"):
        response = emu.api("GET", f"/v1/customers?limit={limit}")
        assert response.status_code == 400 and response.json()["error"]["param"] == "limit"


def test_generic_expansion_of_dotted_paths(emu: Emu):
    charge = emu.paid_charge()
    got = emu.stripe.v1.charges.retrieve(charge.id, params={"expand": ["payment_intent"]})
    assert got.payment_intent.object == "payment_intent" and got.payment_intent.latest_charge == charge.id
    listed = emu.stripe.v1.charges.list(params={"payment_intent": got.payment_intent.id,
                                                "expand": ["data.payment_intent"]}).data
    assert listed[0].payment_intent.id == got.payment_intent.id
    with pytest.raises(stripe.InvalidRequestError) as bad:
        emu.stripe.v1.charges.retrieve(charge.id, params={"expand": ["currency"]})
    assert bad.value.param == "expand"


def test_idempotent_replay_returns_the_first_answer(emu: Emu):
    headers = {"Idempotency-Key": f"key-{time.monotonic_ns()}"}
    body = {"email": "idem@example.com"}
    first = emu.api("POST", "/v1/customers", data=body, headers=headers)
    again = emu.api("POST", "/v1/customers", data=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    other = emu.api("POST", "/v1/customers", data={"email": "other@example.com"}, headers=headers)
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    failed_key = {"Idempotency-Key": f"bad-{time.monotonic_ns()}"}
    bad = emu.api("POST", "/v1/customers", data={"nope": "1"}, headers=failed_key)
    replayed = emu.api("POST", "/v1/customers", data={"nope": "1"}, headers=failed_key)
    assert bad.status_code == replayed.status_code == 400 and replayed.content == bad.content


def test_idempotency_keys_replay_and_refuse_other_parameters(emu: Emu):
    key = {"idempotency_key": "idem-test-1"}
    first = emu.stripe.v1.customers.create(params={"email": "idem-sdk@example.com"}, options=key)
    again = emu.stripe.v1.customers.create(params={"email": "idem-sdk@example.com"}, options=key)
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    with pytest.raises(stripe.IdempotencyError):
        emu.stripe.v1.customers.create(params={"email": "other@example.com"}, options=key)
    assert len(emu.stripe.v1.customers.list(params={"email": "idem-sdk@example.com"}).data) == 1


def test_the_sdk_sees_idempotency_errors(emu: Emu):
    key = f"sdk-{time.monotonic_ns()}"
    made = emu.stripe.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": key})
    same = emu.stripe.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": key})
    assert same.id == made.id
    with pytest.raises(stripe.IdempotencyError):
        emu.stripe.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": key})


def test_concurrent_requests_with_one_key_get_409(emu: Emu):
    assert emu.control("faults", {"latency_ms": 400}).status_code == 200
    try:
        headers = {"Idempotency-Key": f"race-{time.monotonic_ns()}"}
        results: list[httpx.Response] = []
        first = threading.Thread(target=lambda: results.append(
            emu.api("POST", "/v1/customers", data={"email": "race@example.com"}, headers=headers)))
        first.start()
        time.sleep(0.15)
        second = emu.api("POST", "/v1/customers", data={"email": "race@example.com"}, headers=headers)
        first.join()
    finally:
        emu.control("faults", {"latency_ms": 0})
    assert results[0].status_code == 200
    assert second.status_code == 409 and second.json()["error"]["code"] == "idempotency_key_in_use"


@pytest.mark.parametrize("header", [None, "Bearer pk_test_publishable", "Bearer sk_live_real", "Basic abc"])
def test_only_secret_test_keys_are_accepted(emu: Emu, header: str | None):
    headers = {} if header is None else {"Authorization": header}
    response = httpx.get(f"{emu.url}/v1/customers", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error" and response.json()["error"]["message"]


@pytest.mark.parametrize("key", ["sk_live_123456789", "pk_test_123456789"])
def test_the_sdk_raises_authentication_error_for_other_keys(emu: Emu, key: str):
    client = stripe.StripeClient(key, base_addresses={"api": emu.url})
    with pytest.raises(stripe.AuthenticationError):
        client.v1.customers.list()


@pytest.mark.parametrize("key", [None, "sk_live_abcdefghijklmnop", "pk_test_abcdefghijkl", "rk_test_x"])
def test_restricted_live_and_publishable_keys_are_refused(emu: Emu, key: str | None):
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    response = httpx.get(f"{emu.url}/v1/customers", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(key or "sk_live_x", base_addresses={"api": emu.url}).v1.customers.list()


def test_errors_have_stripes_envelope(emu: Emu):
    missing = emu.api("GET", "/v1/customers/cus_nope")
    assert missing.status_code == 404
    assert missing.json()["error"] | {"doc_url": None} == {
        "type": "invalid_request_error", "code": "resource_missing", "param": "id",
        "message": "No such customer: 'cus_nope'", "doc_url": None}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        emu.stripe.v1.checkout.sessions.create(params={"mode": "subscription", "success_url": "https://x.example"})
    assert caught.value.param == "mode" and caught.value.http_status == 400
    unknown = emu.api("POST", "/v1/customers", data={"nonsense": "1"})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "nonsense"
    assert emu.api("GET", "/v1/nothing_here").status_code == 404


def test_errors_carry_stripes_envelope_and_headers(emu: Emu):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        emu.stripe.v1.customers.retrieve("cus_does_not_exist")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    assert missing.value.param == "id"
    unknown = emu.api("POST", "/v1/customers", data={"favourite_colour": "blue"})
    error = unknown.json()["error"]
    assert unknown.status_code == 400 and error["param"] == "favourite_colour"
    assert error["message"] == "Received unknown parameter: favourite_colour"
    ok = emu.api("GET", "/v1/customers", headers={"Stripe-Version": "2024-06-20"})
    assert ok.headers["Request-Id"].startswith("req_") and ok.headers["Stripe-Version"] == "2024-06-20"
    assert emu.api("GET", "/v1/nothing_here").status_code == 404


def test_a_declined_card_through_the_api_helper_is_a_402_card_error(emu: Emu):
    made = emu.session()
    response = emu.pay(made.id, card="4000000000000002")
    error = response.json()["error"]
    assert response.status_code == 402
    assert (error["type"], error["code"], error["decline_code"]) == ("card_error", "card_declined", "generic_decline")


@pytest.mark.parametrize("body", [
    "a[b=1", "name", "line_items[0]][price]=x", "metadata[a][b]=1&metadata[a]=2", "%ff%fe=1",
    "unit_amount=12.5", "unit_amount=-3", "unit_amount=99999999999999999999999", "unit_amount=١٢",
    "currency=dollars", "active=maybe", "images[0][x]=1",
])
def test_garbage_price_requests_are_400_not_500(emu: Emu, body: str):
    response = emu.api("POST", "/v1/prices", content=body.encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("body", [
    "a[b=1", "line_items[0][quantity]=abc&mode=payment&success_url=https://x.example",
    "mode=payment&success_url=https://x.example&line_items[0][quantity]=-1&line_items[0][price]=p",
    "mode=payment&success_url=https://x.example&line_items[0][quantity]=1&line_items[0][price_data][currency]=usd"
    "&line_items[0][price_data][unit_amount]=1e9&line_items[0][price_data][product_data][name]=x",
    "mode=payment&success_url=https://x.example&line_items=oops",
    "mode=payment&success_url=javascript:alert(1)&line_items[0][price]=x&line_items[0][quantity]=1",
    "mode=payment&success_url=https://x.example&metadata=5",
    "mode=payment&success_url=https://x.example&line_items[0][quantity]=99999999999999999999",
    "metadata[a][b]=1&metadata[a]=2",
    "\u0000=\u0000",
])
def test_garbage_session_requests_are_400_not_500(emu: Emu, body: str):
    response = emu.api("POST", "/v1/checkout/sessions", content=body.encode(),
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


INLINE = {"line_items[0][price_data][currency]": "usd", "line_items[0][price_data][unit_amount]": "100",
          "line_items[0][price_data][product_data][name]": "Thing", "line_items[0][quantity]": "1"}


@pytest.mark.parametrize("change", [
    {"line_items[0][quantity]": "-1"},
    {"line_items[0][quantity]": "1000000"},
    {"line_items[0][quantity]": "two"},
    {"line_items[0][price_data][unit_amount]": "1e3"},
    {"line_items[0][price_data][unit_amount]": "-100"},
    {"line_items[0][price_data][product_data][name]": None},
    {"line_items[0][price]": "price_missing"},
    {"line_items[0][colour]": "red"},
])
def test_garbage_line_items_are_400_with_the_param(emu: Emu, change: dict[str, str | None]):
    form = {"mode": "payment", "success_url": "https://shop.example/ok", **INLINE, **change}
    response = emu.api("POST", "/v1/checkout/sessions", data={k: v for k, v in form.items() if v is not None})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"].startswith("line_items[0]")


def test_huge_and_deep_inputs_are_refused_cleanly(emu: Emu):
    many = "&".join(f"metadata[k{n}]=v" for n in range(60))
    response = emu.api("POST", "/v1/customers", content=many.encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    long_name = emu.api("POST", "/v1/products", data={"name": "x" * 10_000})
    assert long_name.status_code == 400 and long_name.json()["error"]["param"] == "name"
    too_many = "&".join(f"expand[]=x{n}" for n in range(3000))
    assert emu.api("GET", f"/v1/customers?{too_many}").status_code == 400
    assert emu.api("POST", "/v1/customers", content=b"x" * 600_000).status_code == 413


def test_webhook_endpoints_are_created_listed_updated_and_deleted(emu: Emu):
    made = emu.stripe.v1.webhook_endpoints.create(params={
        "url": "https://shop.example/stripe/webhook",
        "enabled_events": ["checkout.session.completed", "charge.refunded"]})
    assert made.id.startswith("we_") and made.object == "webhook_endpoint" and made.status == "enabled"
    assert made.secret.startswith("whsec_")  # shown once, on creation
    listed = {e.id: e for e in emu.stripe.v1.webhook_endpoints.list(params={"limit": 100}).data}
    assert listed[made.id].enabled_events == ["checkout.session.completed", "charge.refunded"]
    assert "secret" not in listed[made.id]
    updated = emu.stripe.v1.webhook_endpoints.update(made.id, params={"enabled_events": ["*"], "disabled": True})
    assert updated.enabled_events == ["*"] and updated.status == "disabled"
    assert emu.stripe.v1.webhook_endpoints.delete(made.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        emu.stripe.v1.webhook_endpoints.retrieve(made.id)
    with pytest.raises(stripe.InvalidRequestError, match="enabled_events"):
        emu.stripe.v1.webhook_endpoints.create(params={"url": "https://x.example/hook"})


def test_the_emulators_own_delivery_urls_are_listed_as_endpoints_for_every_event():
    from stripe_emulator import Emulator

    emulator = Emulator(webhook_urls=["http://127.0.0.1:8000/stripe/webhook"])
    [endpoint] = emulator.state.webhook_endpoints.values()
    assert endpoint["url"] == "http://127.0.0.1:8000/stripe/webhook" and endpoint["enabled_events"] == ["*"]


# ---- what the gateway must handle, as Stripe does it ----------------------------------

def test_sessions_are_hosted_pages_as_the_api_version_says(emu: Emu):
    assert emu.session().ui_mode == "hosted_page"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        emu.session(ui_mode="embedded_page")
    assert refused.value.param == "ui_mode"


def test_sessions_list_by_the_customers_email(emu: Emu):
    mine = emu.session()
    emu.pay(mine.id)  # the pay form's email: buyer@example.com
    other = emu.session()
    listed = emu.stripe.v1.checkout.sessions.list(params={"customer_details": {"email": "buyer@example.com"},
                                                          "limit": 100})
    ids = {s.id for s in listed.data}
    assert mine.id in ids and other.id not in ids


def test_a_request_that_failed_validation_is_not_replayed_for_its_key(emu: Emu):
    key = "retry-after-fixing-it"
    with pytest.raises(stripe.InvalidRequestError):
        emu.stripe.v1.customers.create(params={"email": "fixed@example.com", "colour": "teal"},
                                       options={"idempotency_key": key})
    fixed = emu.stripe.v1.customers.create(params={"email": "fixed@example.com"}, options={"idempotency_key": key})
    assert fixed.email == "fixed@example.com"


@pytest.mark.parametrize("path", ["payment_intent.latest_charge.balance_transaction.source.x", "id", "object"])
def test_expand_takes_four_levels_of_expandable_fields_at_most(emu: Emu, path: str):
    made = emu.session()
    with pytest.raises(stripe.InvalidRequestError) as refused:
        emu.stripe.v1.checkout.sessions.retrieve(made.id, params={"expand": [path]})
    assert refused.value.param == "expand"


def test_a_charge_says_which_card_paid(emu: Emu):
    charge = emu.paid_charge()
    card = charge.payment_method_details.card
    assert (card.brand, card.last4, charge.payment_method_details.type) == ("visa", "4242", "card")
