"""The shop's side of issue 18 end to end, as its "done when" says: a shopper buys twice
through the storefront's mutations and the emulator's pay page (webhooks delivered by the
emulator, signed); the shop, with an admin token, lists today's paid orders, ships one with
a tracking number and refunds the other; the shopper's dashboard shows the shipment, the
refund and both timelines; a real SMTP server holds exactly one confirmation per order, one
shipping notice and one refund notice."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.live_gateway import engine_env, gateway_env, running_gateway
from tests.smtp_server import SmtpServer

QUOTE = """mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 1}]}) {
  quote { signature total { amount } } userErrors { code } } }"""
CHECKOUT = """mutation($s: ID!) { createCheckoutSession(input: {quoteSignature: $s}) {
  checkoutSession { id } userErrors { code message } } }"""
TODAYS_PAID = """query($from: DateTime!) { adminOrders(filter: {status: PAID, createdFrom: $from}, first: 20) {
  totalCount edges { node { id orderNumber status total { amount } } } } }"""
SHIP = """mutation($id: ID!) { fulfillOrder(input: {orderId: $id, carrier: "USPS", trackingNumber: "9400111",
  trackingUrl: "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111"}) {
  order { fulfillment { status } } userErrors { code message } } }"""
REFUND = """mutation($id: ID!, $amount: Int!) { refundOrder(input: {orderId: $id, amount: $amount,
  reason: REQUESTED_BY_CUSTOMER}) { order { status } userErrors { code message } } }"""
DASHBOARD = """{ viewer { orders(first: 10) { edges { node {
  id orderNumber status refunded { amount }
  fulfillment { status carrier trackingNumber trackingUrl shippedAt }
  events { kind amount { amount } detail } } } } } }"""


@pytest.fixture(params=["sqlite", "dynamodb"])
def shop(request, tmp_path):
    smtp = SmtpServer().start()
    env = gateway_env(tmp_path, EMAIL_BACKGROUND_SEND="true", SMTP_URL=smtp.url,
                      EMAIL_FROM="The Babes Club <orders@shop.example>",
                      ORDER_URL_TEMPLATE="https://shop.example/orders/{orderId}", EMAIL_SEND_INTERVAL_SECONDS="1",
                      **engine_env(request))
    try:
        with running_gateway(env, request.param) as gateway:
            yield gateway, smtp
    finally:
        smtp.stop()


def buy(gateway, shopper: str) -> str:
    token = gateway.token(shopper, email=f"{shopper}@example.com", email_verified=True)
    quote = gateway.gql(QUOTE, token=token)["data"]["createCartQuote"]["quote"]
    made = gateway.gql(CHECKOUT, {"s": quote["signature"]}, token)["data"]["createCheckoutSession"]
    assert made["userErrors"] == [], made
    session_id = made["checkoutSession"]["id"]
    gateway.control(f"checkout/sessions/{session_id}/pay",
                    {"card_number": "4242424242424242", "email": f"{shopper}@example.com"})
    gateway.control("webhooks/flush")
    return session_id


def eventually(check, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_list_ship_refund_and_the_shopper_sees_it_with_one_email_of_each(shop):
    gateway, smtp = shop
    shipped_id, refunded_id = buy(gateway, "ada"), buy(gateway, "ada")
    admin = gateway.token("owner", admin=True)
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()

    listed = eventually(lambda: (lambda page: page if page["totalCount"] >= 2 else None)(
        gateway.gql(TODAYS_PAID, {"from": midnight}, admin)["data"]["adminOrders"]))
    assert listed, "today's paid orders never listed both"
    assert {shipped_id, refunded_id} <= {edge["node"]["id"] for edge in listed["edges"]}
    assert {edge["node"]["status"] for edge in listed["edges"]} == {"PAID"}

    shipped = gateway.gql(SHIP, {"id": shipped_id}, admin)["data"]["fulfillOrder"]
    assert shipped["userErrors"] == [] and shipped["order"]["fulfillment"]["status"] == "SHIPPED"
    refunded = gateway.gql(REFUND, {"id": refunded_id, "amount": 1000}, admin)["data"]["refundOrder"]
    assert refunded["userErrors"] == [], refunded
    gateway.control("webhooks/flush")  # Stripe's refund events arrive too: they change nothing more

    ada = gateway.token("ada", email="ada@example.com", email_verified=True)
    orders = {edge["node"]["id"]: edge["node"]
              for edge in gateway.gql(DASHBOARD, token=ada)["data"]["viewer"]["orders"]["edges"]}
    ship, back = orders[shipped_id], orders[refunded_id]
    assert ship["fulfillment"]["status"] == "SHIPPED" and ship["fulfillment"]["trackingNumber"] == "9400111"
    assert ship["fulfillment"]["trackingUrl"].startswith("https://tools.usps.com/")
    assert back["status"] == "PARTIALLY_REFUNDED" and back["refunded"]["amount"] == 1000
    assert back["fulfillment"]["status"] == "UNFULFILLED"
    assert [e["kind"] for e in ship["events"]][:2] == ["PLACED", "PAID"]
    assert "SHIPPED" in [e["kind"] for e in ship["events"]]
    assert [e["amount"]["amount"] for e in back["events"] if e["kind"] == "REFUNDED"] == [1000]

    def inbox() -> list[str]:
        return sorted(str(m["Subject"]) for m in smtp.inbox.messages)

    ship_number, back_number = ship["orderNumber"], back["orderNumber"]
    expected = sorted([f"Your order {ship_number} is confirmed", f"Your order {back_number} is confirmed",
                       f"Your order {ship_number} is on its way", f"A refund for your order {back_number}"])
    assert eventually(lambda: inbox() == expected), inbox()
    time.sleep(2)  # two more sender rounds: nothing doubles
    assert inbox() == expected
    notice = next(m for m in smtp.inbox.messages if "on its way" in str(m["Subject"]))
    assert "9400111" in notice.get_body(("plain",)).get_content()
    def emails_on_timelines() -> dict[str, list[str]]:
        edges = gateway.gql(DASHBOARD, token=ada)["data"]["viewer"]["orders"]["edges"]
        return {edge["node"]["id"]: sorted(e["detail"] for e in edge["node"]["events"] if e["kind"] == "EMAIL_SENT")
                for edge in edges}

    want = {shipped_id: ["confirmation", "shipping"], refunded_id: ["confirmation", "refund"]}
    assert eventually(lambda: emails_on_timelines() == want), emails_on_timelines()
