"""The Stripe emulator, driven by the official stripe SDK over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from tests.services import ServerThread
from stripe_emulator import Emulator



class Receiver:
    """A webhook endpoint that verifies every delivery with the SDK and can fail on demand."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: list[dict] = []
        self.bad_signatures = 0
        self.fail_next = 0
        self.lock = threading.Lock()
        self.server = ServerThread(Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])).start()
        self.url = f"{self.server.url}/hook"

    async def hook(self, request: Request) -> JSONResponse:
        payload = await request.body()
        try:
            event = stripe.Webhook.construct_event(payload, request.headers.get("stripe-signature"), self.secret)
        except stripe.SignatureVerificationError:
            self.bad_signatures += 1
            return JSONResponse({"error": "signature"}, status_code=400)
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": "try later"}, status_code=500)
            self.events.append(event.to_dict())
        return JSONResponse({"ok": True})

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


SECRET = "whsec_emulator_tests_0123456789"
STRIPE_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "stripe" / "fixtures.json"


@pytest.fixture(scope="module")
def emu():
    emulator = Emulator(webhook_secret=SECRET, delivery_retries=3, delivery_backoff=0.05)
    server = ServerThread(emulator.app).start()
    receiver = Receiver(SECRET)
    emulator.deliverer.config.urls = [receiver.url]
    client = stripe.StripeClient("sk_test_emulator_tests", base_addresses={"api": server.url})
    yield type("Emu", (), {"emulator": emulator, "url": server.url, "stripe": client, "receiver": receiver})
    server.stop()
    receiver.server.stop()


def control(emu, path: str, body: dict | None = None) -> httpx.Response:
    return httpx.post(f"{emu.url}/_emulator/{path}", json=body or {}, timeout=30)


def flush(emu) -> None:
    assert control(emu, "webhooks/flush").status_code == 200


def session(emu, **extra):
    params = {"mode": "payment", "success_url": "https://shop.example/ok?id={CHECKOUT_SESSION_ID}",
              "cancel_url": "https://shop.example/cancel",
              "line_items": [{"price_data": {"currency": "usd", "unit_amount": 1500, "tax_behavior": "exclusive",
                                             "product_data": {"name": "Hoops", "metadata": {"sku": "E-1"}}},
                              "quantity": 2}], **extra}
    return emu.stripe.v1.checkout.sessions.create(params=params)


def pay(emu, session_id: str, card: str = "4242424242424242", **form) -> httpx.Response:
    return control(emu, f"checkout/sessions/{session_id}/pay",
                   {"card_number": card, "email": "p@example.com", **form})


# ---- resources ------------------------------------------------------------------------------

def test_products_prices_and_lookup_keys(emu):
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


def test_customers_create_retrieve_update_and_list_by_email(emu):
    made = emu.stripe.v1.customers.create(params={"email": "c@example.com", "metadata": {"userId": "u1"}})
    assert made.id.startswith("cus_") and made.metadata["userId"] == "u1"
    emu.stripe.v1.customers.update(made.id, params={"name": "Cee"})
    assert emu.stripe.v1.customers.retrieve(made.id).name == "Cee"
    listed = emu.stripe.v1.customers.list(params={"email": "c@example.com"}).data
    assert [c.id for c in listed] == [made.id]


def test_a_session_pays_and_expands(emu):
    customer = emu.stripe.v1.customers.create(params={"email": "buyer@example.com"})
    made = session(emu, customer=customer.id, client_reference_id="ref-1", metadata={"userId": "u9"})
    assert made.id.startswith("cs_test_") and made.status == "open" and made.url.endswith(f"/pay/{made.id}")
    assert (made.amount_subtotal, made.amount_total, made.payment_status) == (3000, 3000, "unpaid")
    assert made.payment_intent is None
    paid = pay(emu, made.id)
    assert paid.status_code == 200 and paid.json()["payment_status"] == "paid"
    got = emu.stripe.v1.checkout.sessions.retrieve(made.id, params={
        "expand": ["line_items", "customer", "payment_intent", "payment_intent.latest_charge"]})
    assert got.status == "complete" and got.url is None
    assert got.customer.email == "buyer@example.com"
    assert got.payment_intent.status == "succeeded" and got.payment_intent.latest_charge.paid is True
    assert [(li.quantity, li.amount_total, li.price.unit_amount) for li in got.line_items.data] == [(2, 3000, 1500)]
    items = emu.stripe.v1.checkout.sessions.line_items.list(made.id, params={"expand": ["data.price.product"]})
    assert items.data[0].price.product.metadata["sku"] == "E-1"
    listed = emu.stripe.v1.checkout.sessions.list(params={"payment_intent": got.payment_intent.id,
                                                          "expand": ["data.line_items"]}).data
    assert [s.id for s in listed] == [made.id] and listed[0].line_items.data[0].quantity == 2
    assert [s.id for s in emu.stripe.v1.checkout.sessions.list(params={"customer": customer.id}).data] == [made.id]


def test_discounts_shipping_and_tax(emu):
    coupon = emu.stripe.v1.coupons.create(params={"amount_off": 500, "currency": "usd", "duration": "once"})
    rate = emu.stripe.v1.shipping_rates.create(params={
        "display_name": "Express", "type": "fixed_amount", "fixed_amount": {"amount": 1200, "currency": "usd"},
        "tax_behavior": "exclusive"})
    made = session(emu, discounts=[{"coupon": coupon.id}], automatic_tax={"enabled": True},
                   shipping_address_collection={"allowed_countries": ["US", "DE"]},
                   shipping_options=[{"shipping_rate_data": {"display_name": "Standard", "type": "fixed_amount",
                                                             "tax_behavior": "exclusive",
                                                             "fixed_amount": {"amount": 500, "currency": "usd"}}},
                                     {"shipping_rate": rate.id}])
    assert made.total_details.amount_discount == 500
    pay(emu, made.id, shipping_rate=rate.id, line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")
    paid = emu.stripe.v1.checkout.sessions.retrieve(made.id)
    base = 3000 - 500 + 1200
    assert paid.total_details.amount_shipping == 1200
    assert paid.total_details.amount_tax == (base * 1900 + 5000) // 10000
    assert paid.amount_total == base + paid.total_details.amount_tax
    assert paid.collected_information.shipping_details.address.country == "DE"
    assert paid.shipping_cost.shipping_rate == rate.id
    assert pay(emu, session(emu, shipping_address_collection={"allowed_countries": ["US"]}).id,
               line1="x", city="y", postal_code="1", country="FR").status_code == 400


def test_declined_and_delayed_payments(emu):
    declined = session(emu)
    answer = pay(emu, declined.id, card="4000000000000002")
    assert answer.status_code == 402 and answer.json()["error"]["code"] == "card_declined"
    assert emu.stripe.v1.checkout.sessions.retrieve(declined.id).status == "open"
    delayed = session(emu)
    pay(emu, delayed.id, card="4000000000001000")
    got = emu.stripe.v1.checkout.sessions.retrieve(delayed.id, params={"expand": ["payment_intent"]})
    assert (got.status, got.payment_status, got.payment_intent.status) == ("complete", "unpaid", "processing")
    assert control(emu, f"checkout/sessions/{delayed.id}/async_payment", {"outcome": "succeeded"}).status_code == 200
    assert emu.stripe.v1.checkout.sessions.retrieve(delayed.id).payment_status == "paid"
    failing = session(emu)
    pay(emu, failing.id, card="4000000000001000")
    control(emu, f"checkout/sessions/{failing.id}/async_payment", {"outcome": "failed"})
    types = [e.type for e in emu.stripe.v1.events.list(params={"limit": 100}).data
             if e.data.object["id"] == failing.id]
    assert "checkout.session.async_payment_failed" in types


def test_the_pay_page_in_a_browser(emu):
    made = session(emu)
    page = httpx.get(made.url)
    assert page.status_code == 200 and "card_number" in page.text and "Hoops" in page.text
    declined = httpx.post(made.url, data={"email": "b@example.com", "card_number": "4000000000000002"})
    assert declined.status_code == 402 and "declined" in declined.text
    paid = httpx.post(made.url, data={"email": "b@example.com", "card_number": "4242 4242 4242 4242"})
    assert paid.status_code == 303 and paid.headers["location"] == f"https://shop.example/ok?id={made.id}"
    assert "already paid" in httpx.get(made.url).text
    fresh = session(emu)
    for garbage in (b"\xff\xfe", b"card_number=" + b"4" * 20000, b"card_number=1234"):
        assert httpx.post(fresh.url, content=garbage,
                          headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 400
    assert httpx.get(f"{emu.url}/pay/cs_test_nope").status_code == 404


def test_expiry(emu):
    made = session(emu)
    expired = emu.stripe.v1.checkout.sessions.expire(made.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError):
        emu.stripe.v1.checkout.sessions.expire(made.id)
    assert httpx.get(made.url).status_code == 410
    types = [e.type for e in emu.stripe.v1.events.list(params={"type": "checkout.session.expired"}).data
             if e.data.object["id"] == made.id]
    assert types == ["checkout.session.expired"]
    for bad in (int(time.time()) + 60, int(time.time()) + 2 * 86400):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            session(emu, expires_at=bad)
        assert caught.value.param == "expires_at"


def test_refunds_partial_and_full(emu):
    made = session(emu)
    pay(emu, made.id)
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


def test_disputes_open_and_close(emu):
    made = session(emu)
    pay(emu, made.id)
    charge = emu.stripe.v1.charges.list(params={"payment_intent": emu.stripe.v1.checkout.sessions.retrieve(
        made.id).payment_intent}).data[0]
    opened = control(emu, f"charges/{charge.id}/dispute", {"reason": "fraudulent"}).json()
    assert opened["status"] == "needs_response" and emu.stripe.v1.charges.retrieve(charge.id).disputed
    assert control(emu, f"disputes/{opened['id']}/close", {"outcome": "won"}).json()["status"] == "won"
    second = control(emu, f"charges/{charge.id}/dispute", {}).json()
    assert emu.stripe.v1.disputes.close(second["id"]).status == "lost"


# ---- lists ---------------------------------------------------------------------------------

def test_pagination_both_ways_and_auto_paging(emu):
    made = [emu.stripe.v1.customers.create(params={"email": "page@example.com", "name": str(n)}) for n in range(25)]
    newest_first = [c.id for c in made[::-1]]
    everything = [c.id for c in emu.stripe.v1.customers.list(
        params={"email": "page@example.com", "limit": 10}).auto_paging_iter()]
    assert everything == newest_first
    page = emu.stripe.v1.customers.list(params={"email": "page@example.com", "limit": 10,
                                                "starting_after": newest_first[9]})
    assert [c.id for c in page.data] == newest_first[10:20] and page.has_more
    back = emu.stripe.v1.customers.list(params={"email": "page@example.com", "limit": 5,
                                                "ending_before": newest_first[10]})
    assert [c.id for c in back.data] == newest_first[5:10]
    created = made[0].created
    assert all(c.created >= created for c in emu.stripe.v1.customers.list(
        params={"created": {"gte": created}, "limit": 100}).data)
    assert emu.stripe.v1.customers.list(params={"created": {"gt": created + 3600}}).data == []


# ---- protocol: auth, errors, idempotency ------------------------------------------------------

def raw(emu, method: str, path: str, key: str | None = "sk_test_x", **kwargs) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return httpx.request(method, f"{emu.url}{path}", headers=headers, **kwargs)


@pytest.mark.parametrize("key", [None, "sk_live_abcdefghijklmnop", "pk_test_abcdefghijkl", "rk_test_x"])
def test_only_test_secret_keys_are_accepted(emu, key):
    response = raw(emu, "GET", "/v1/customers", key=key)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(key or "sk_live_x", base_addresses={"api": emu.url}).v1.customers.list()


def test_errors_have_stripes_envelope(emu):
    missing = raw(emu, "GET", "/v1/customers/cus_nope")
    assert missing.status_code == 404
    assert missing.json()["error"] | {"doc_url": None} == {
        "type": "invalid_request_error", "code": "resource_missing", "param": "id",
        "message": "No such customer: 'cus_nope'", "doc_url": None}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        emu.stripe.v1.checkout.sessions.create(params={"mode": "subscription", "success_url": "https://x.example"})
    assert caught.value.param == "mode" and caught.value.http_status == 400
    unknown = raw(emu, "POST", "/v1/customers", data={"nonsense": "1"})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "nonsense"
    assert raw(emu, "GET", "/v1/nothing_here").status_code == 404


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
def test_garbage_requests_are_400_not_500(emu, body):
    response = raw(emu, "POST", "/v1/checkout/sessions", content=body.encode(),
                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_idempotency_keys_replay_and_refuse_other_parameters(emu):
    key = {"idempotency_key": "idem-test-1"}
    first = emu.stripe.v1.customers.create(params={"email": "idem@example.com"}, options=key)
    again = emu.stripe.v1.customers.create(params={"email": "idem@example.com"}, options=key)
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    with pytest.raises(stripe.IdempotencyError):
        emu.stripe.v1.customers.create(params={"email": "other@example.com"}, options=key)
    assert len(emu.stripe.v1.customers.list(params={"email": "idem@example.com"}).data) == 1


# ---- webhooks -----------------------------------------------------------------------------------

def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_events_are_delivered_signed_and_verifiable(emu):
    made = session(emu)
    pay(emu, made.id)
    wait_for(lambda: any(e["type"] == "checkout.session.completed" and e["data"]["object"]["id"] == made.id
                         for e in emu.receiver.events))
    assert emu.receiver.bad_signatures == 0
    event = next(e for e in emu.receiver.events if e["data"]["object"]["id"] == made.id)
    assert event["id"].startswith("evt_") and event["object"] == "event" and event["livemode"] is False
    fetched = emu.stripe.v1.events.retrieve(event["id"])
    assert fetched.type == "checkout.session.completed"


def test_failed_deliveries_are_retried(emu):
    emu.receiver.fail_next = 2
    customer = emu.stripe.v1.customers.create(params={"email": "retry@example.com"})
    wait_for(lambda: any(e["data"]["object"]["id"] == customer.id for e in emu.receiver.events))
    assert emu.receiver.fail_next == 0


def test_delivery_off_paused_duplicated_and_undelivered(emu):
    control(emu, "webhooks", {"mode": "off"})
    silent = emu.stripe.v1.customers.create(params={"email": "off@example.com"})
    undelivered = [e.data.object["id"] for e in emu.stripe.v1.events.list(
        params={"delivery_success": False, "type": "customer.created"}).data]
    assert silent.id in undelivered
    control(emu, "webhooks", {"mode": "paused", "duplicate": 1, "reorder": True, "seed": 3})
    held = [emu.stripe.v1.customers.create(params={"email": f"held{n}@example.com"}).id for n in range(5)]
    assert not any(e["data"]["object"]["id"] in held for e in emu.receiver.events)
    flush(emu)
    counts = {cid: sum(e["data"]["object"]["id"] == cid for e in emu.receiver.events) for cid in held}
    assert counts == {cid: 2 for cid in held}
    control(emu, "webhooks", {"mode": "deliver", "duplicate": 0, "reorder": False, "undelivered_rate": 1.0})
    dropped = emu.stripe.v1.customers.create(params={"email": "dropped@example.com"})
    flush(emu)
    assert not any(e["data"]["object"]["id"] == dropped.id for e in emu.receiver.events)
    control(emu, "webhooks", {"undelivered_rate": 0.0})


@pytest.mark.parametrize("body", [{"mode": "sometimes"}, {"duplicate": -1}, {"urls": "x"},
                                  {"undelivered_rate": 2}, {"what": 1}, {"reorder": "yes"}])
def test_bad_control_input_is_400(emu, body):
    assert control(emu, "webhooks", body).status_code == 400


def test_faults_reach_the_sdk_as_typed_errors(emu):
    no_retries = stripe.StripeClient("sk_test_faults", base_addresses={"api": emu.url}, max_network_retries=0)
    control(emu, "faults", {"rate_429": 1.0})
    try:
        with pytest.raises(stripe.RateLimitError):
            no_retries.v1.customers.list()
    finally:
        control(emu, "faults", {"rate_429": 0.0})
    control(emu, "faults", {"rate_500": 1.0})
    try:
        with pytest.raises(stripe.APIError):
            no_retries.v1.customers.list()
    finally:
        control(emu, "faults", {"rate_500": 0.0})
    assert no_retries.v1.customers.list().object == "list"
    assert control(emu, "faults", {"rate_500": 7}).status_code == 400


# ---- fidelity ------------------------------------------------------------------------------------

OMITTED = {  # fields of Stripe's examples we leave out, and why
    "checkout.session": set(),
    "customer": set(),
}


@pytest.mark.skipif(not STRIPE_FIXTURES.exists(), reason="no shared/ checkout beside the repo")
def test_objects_carry_stripes_fields(emu):
    fixtures = json.loads(STRIPE_FIXTURES.read_text())["resources"]
    made = session(emu)
    pay(emu, made.id)
    got = emu.stripe.v1.checkout.sessions.retrieve(made.id, params={"expand": ["payment_intent"]}).to_dict()
    pi = got.pop("payment_intent")
    charge = emu.stripe.v1.charges.retrieve(pi["latest_charge"]).to_dict()
    refund = emu.stripe.v1.refunds.create(params={"charge": charge["id"], "amount": 100}).to_dict()
    dispute = control(emu, f"charges/{charge['id']}/dispute", {}).json()
    ours = {
        "checkout.session": {**got, "payment_intent": pi["id"]}, "payment_intent": pi, "charge": charge,
        "refund": refund, "dispute": dispute,
        "item": emu.stripe.v1.checkout.sessions.line_items.list(made.id).data[0].to_dict(),
        "customer": emu.stripe.v1.customers.create(params={"email": "f@example.com"}).to_dict(),
        "product": emu.stripe.v1.products.create(params={"name": "F"}).to_dict(),
        "coupon": emu.stripe.v1.coupons.create(params={"percent_off": "10"}).to_dict(),
        "event": emu.stripe.v1.events.list(params={"limit": 1}).data[0].to_dict(),
    }
    ours["price"] = emu.stripe.v1.prices.create(params={"product": ours["product"]["id"], "currency": "usd",
                                                        "unit_amount": 5}).to_dict()
    problems = []
    for name, obj in ours.items():
        theirs = fixtures[name]
        missing = set(theirs) - set(obj) - OMITTED.get(name, set())
        problems += [f"{name}.{field} missing" for field in sorted(missing)]
        for field, value in theirs.items():
            mine = obj.get(field)
            if value is not None and mine is not None and type(value) is not type(mine) \
                    and not (isinstance(value, (int, float)) and isinstance(mine, (int, float))) \
                    and not (isinstance(value, str) and type(mine).__name__ == "Decimal"):  # SDK coerces
                problems.append(f"{name}.{field}: {type(mine).__name__}, Stripe has {type(value).__name__}")
    assert problems == []


def test_mounted_under_a_prefix(emu):
    inner = Emulator(public_url=None)
    outer = ServerThread(Starlette(routes=[Mount("/_stripe", app=inner.app)])).start()
    try:
        client = stripe.StripeClient("sk_test_mount", base_addresses={"api": f"{outer.url}/_stripe"})
        made = client.v1.checkout.sessions.create(params={
            "mode": "payment", "success_url": "https://x.example/ok",
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 100,
                                           "product_data": {"name": "x"}}, "quantity": 1}]})
        assert made.url == f"{outer.url}/_stripe/pay/{made.id}"
        assert httpx.get(made.url).status_code == 200
    finally:
        outer.stop()
