"""The emulator's objects carry the fields of Stripe's own examples (fixtures.json), with
the same JSON types and nesting; and the app works mounted under a prefix and in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from stripe_emulator import Emulator
from tests.emulator_helpers import FIXTURES, KEY, SECRET, SUCCESS_URL, Emu, running_emu
from tests.services import ROOT, ServerThread, free_port, wait_for_port


@pytest.fixture(scope="module")
def emu() -> Iterator[Emu]:
    """One emulator for this module, shared: tests look only at the objects they made."""
    yield from running_emu()

# Fields of Stripe's examples this emulator leaves out on purpose, by object and dotted path.
OMITTED: dict[str, dict[str, str]] = {
    "event": {"data.object": "the example's object is a plan; ours are the objects of each event"},
}
# Nested objects whose shape depends on what they hold (a union in Stripe's API), by path.
VARIANT = {"item.price", "checkout.session.payment_method_options"}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def differences(name: str, ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Fields in Stripe's example missing from ours, and values whose JSON types differ,
    for values that are non-null in both, recursively."""
    if ours is None or theirs is None:
        return []
    if json_type(ours) != json_type(theirs):
        return [f"{name}.{path}: {json_type(ours)} here, {json_type(theirs)} in Stripe's example"]
    found = []
    if isinstance(theirs, dict) and f"{name}.{path}".rstrip(".") not in VARIANT:
        for key, value in theirs.items():
            where = f"{path}.{key}" if path else key
            if where in OMITTED.get(name, {}):
                continue
            if key not in ours:
                found.append(f"{name}.{where} is missing")
            else:
                found += differences(name, ours[key], value, where)
    if isinstance(theirs, list) and theirs and ours and isinstance(theirs[0], dict):
        found += differences(name, ours[0], theirs[0], path + "[0]")
    return found


def raw(emu: Emu, path: str) -> dict[str, Any]:
    response = httpx.get(f"{emu.url}{path}", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    return response.json()


def examples_from_the_emulator(emu: Emu) -> dict[str, dict[str, Any]]:
    """One object of each kind fixtures.json holds, fully populated where we can."""
    product = emu.stripe.v1.products.create(params={"name": "Fidelity", "images": ["https://img.example/f.png"]})
    price = emu.stripe.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 2000,
                                                "lookup_key": f"fidelity-{product.id}", "tax_behavior": "exclusive"})
    customer = emu.stripe.v1.customers.create(params={"email": "fidelity@example.com", "name": "Fi Del"})
    coupon = emu.stripe.v1.coupons.create(params={"percent_off": 25.5, "duration": "once", "name": "25.5% off"})
    made = emu.session(customer=customer.id, line_items=[{"price": price.id, "quantity": 1}],
                       discounts=[{"coupon": coupon.id}], automatic_tax={"enabled": True},
                       shipping_address_collection={"allowed_countries": ["US"]},
                       shipping_options=[{"shipping_rate_data": {
                           "display_name": "Post", "type": "fixed_amount", "tax_behavior": "exclusive",
                           "fixed_amount": {"amount": 500, "currency": "usd"}}}])
    emu.pay(made.id, name="Fi Del", line1="1 Main St", city="Springfield", postal_code="12345", country="US")
    session = raw(emu, f"/v1/checkout/sessions/{made.id}?expand[]=total_details.breakdown")
    charge = raw(emu, f"/v1/charges?payment_intent={session['payment_intent']}")["data"][0]
    refund = emu.stripe.v1.refunds.create(params={"charge": charge["id"], "amount": 100})
    dispute = emu.control(f"charges/{charge['id']}/dispute").json()
    return {
        "checkout.session": session,
        "item": raw(emu, f"/v1/checkout/sessions/{made.id}/line_items")["data"][0],
        "price": raw(emu, f"/v1/prices/{price.id}"), "product": raw(emu, f"/v1/products/{product.id}"),
        "customer": raw(emu, f"/v1/customers/{customer.id}"), "coupon": raw(emu, f"/v1/coupons/{coupon.id}"),
        "discount": session["total_details"]["breakdown"]["discounts"][0]["discount"],
        "event": raw(emu, "/v1/events?type=checkout.session.completed&limit=1")["data"][0],
        "payment_intent": raw(emu, f"/v1/payment_intents/{session['payment_intent']}"),
        "charge": raw(emu, f"/v1/charges/{charge['id']}"), "refund": raw(emu, f"/v1/refunds/{refund.id}"),
        "dispute": raw(emu, f"/v1/disputes/{dispute['id']}"),
    }


@pytest.mark.skipif(not FIXTURES.exists(), reason="no shared/ checkout beside the repo")
def test_objects_carry_the_fields_and_types_of_stripes_examples(emu: Emu):
    fixtures = json.loads(FIXTURES.read_text())["resources"]
    ours = examples_from_the_emulator(emu)
    assert set(ours) == set(fixtures), "every resource in fixtures.json is emulated"
    problems = [p for name in fixtures for p in differences(name, ours[name], fixtures[name])]
    assert problems == []
    for name, obj in ours.items():
        assert obj["object"] == fixtures[name]["object"]
        if "livemode" in fixtures[name]:
            assert obj["livemode"] is False


def test_ids_are_prefixed_long_and_random(emu: Emu):
    ours = examples_from_the_emulator(emu)
    prefixes = {"checkout.session": "cs_test_", "item": "li_", "price": "price_", "product": "prod_",
                "customer": "cus_", "event": "evt_", "payment_intent": "pi_", "charge": "ch_", "refund": "re_",
                "dispute": "dp_", "discount": "di_"}
    for name, prefix in prefixes.items():
        assert ours[name]["id"].startswith(prefix) and len(ours[name]["id"]) >= len(prefix) + 14, name
    again = examples_from_the_emulator(emu)
    assert all(ours[name]["id"] != again[name]["id"] for name in prefixes)


def test_mounted_under_a_prefix_the_pay_page_url_carries_it():
    emulator = Emulator(webhook_secret=SECRET)
    outer = Starlette(routes=[Mount("/_stripe", app=emulator.app)])
    server = ServerThread(outer).start()
    try:
        client = stripe.StripeClient(KEY, base_addresses={"api": f"{server.url}/_stripe"})
        made = client.v1.checkout.sessions.create(params={
            "mode": "payment", "success_url": SUCCESS_URL,
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 700, "product_data": {"name": "M"}},
                            "quantity": 1}]})
        assert made.url == f"{server.url}/_stripe/pay/{made.id}"
        assert httpx.get(made.url).status_code == 200
        paid = httpx.post(made.url, data={"email": "m@example.com", "card_number": "4242424242424242"})
        assert paid.status_code == 303
        assert client.v1.checkout.sessions.retrieve(made.id).payment_status == "paid"
        flushed = httpx.post(f"{server.url}/_stripe/_emulator/webhooks/flush")
        assert flushed.status_code == 200
    finally:
        server.stop()


def test_public_url_sets_the_pay_page_base():
    emulator = Emulator(public_url="https://shop.example/_stripe/")
    with_public = ServerThread(emulator.app).start()
    try:
        made = stripe.StripeClient(KEY, base_addresses={"api": with_public.url}).v1.checkout.sessions.create(params={
            "mode": "payment", "success_url": SUCCESS_URL,
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 100, "product_data": {"name": "P"}},
                            "quantity": 1}]})
        assert made.url == f"https://shop.example/_stripe/pay/{made.id}"
    finally:
        with_public.stop()


async def test_in_process_through_asgi_transports_without_lifespan():
    """The gateway's development setup: the SDK reaches the emulator, and the emulator
    delivers webhooks, through httpx.ASGITransport, with no server and no lifespan."""
    received: list[str] = []

    async def hook(request: Request) -> JSONResponse:
        event = stripe.Webhook.construct_event(await request.body(), request.headers["stripe-signature"], SECRET)
        received.append(event.type)
        return JSONResponse({"ok": True})

    receiver = Starlette(routes=[Route("/stripe/webhook", hook, methods=["POST"])])
    emulator = Emulator(webhook_urls=["http://gateway.test/stripe/webhook"], webhook_secret=SECRET,
                        public_url="http://gateway.test/_stripe", webhook_transport=httpx.ASGITransport(app=receiver))
    http_client = stripe.HTTPXClient()
    await http_client._client_async.aclose()
    http_client._client_async = httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app))
    client = stripe.StripeClient(KEY, base_addresses={"api": "http://emulator.test"}, http_client=http_client)
    try:
        customer = await client.v1.customers.create_async(params={"email": "in@example.com"})
        made = await client.v1.checkout.sessions.create_async(params={
            "mode": "payment", "success_url": SUCCESS_URL, "customer": customer.id,
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 300, "product_data": {"name": "I"}},
                            "quantity": 1}]})
        assert made.url == f"http://gateway.test/_stripe/pay/{made.id}"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app), base_url="http://e.test") as web:
            assert (await web.post(f"/_emulator/checkout/sessions/{made.id}/pay",
                                   json={"card_number": "4242424242424242"})).status_code == 200
        await emulator.drain()
        assert {"customer.created", "checkout.session.completed", "charge.succeeded"} <= set(received)
    finally:
        await http_client.close_async()
        await emulator.aclose()


def test_serve_prints_the_base_url_and_secret_first_then_answers():
    port = free_port()
    code = f"from stripe_emulator import serve; serve('127.0.0.1', {port}, [], 'whsec_served')"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}"
        assert proc.stdout.readline().strip() == "whsec_served"
        wait_for_port(port, proc)
        client = stripe.StripeClient(KEY, base_addresses={"api": f"http://127.0.0.1:{port}"})
        assert client.v1.customers.list().data == []
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
