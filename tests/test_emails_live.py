"""Emails end to end: the gateway under uvicorn with the emulator it mounts, real signed
webhooks, the success page's query, reconciliation, `gateway send-emails` in another
process, and a real SMTP server (aiosmtpd on loopback) receiving what is sent."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.live_gateway import engine_env, gateway_env, running_gateway
from tests.services import command_env, free_port, run_gateway
from tests.smtp_server import SmtpServer
from tests.test_webhooks import WHSEC, deliver, event_of, new_session, pay, refund, sign

SUCCESS_PAGE = """query($id: ID!) { checkoutSession(id: $id) { status order { id status } } }"""
SYNC = "mutation { syncOrders(input: {}) { scanned created updated userErrors { code } } }"


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def mailing(request, tmp_path_factory, smtp):
    env = gateway_env(tmp_path_factory.mktemp("mail"), STRIPE_WEBHOOK_SECRET=WHSEC, EMAIL_BACKGROUND_SEND="true",
                      SMTP_URL=smtp.url,
                      EMAIL_FROM="The Babes Club <orders@shop.example>",
                      ORDER_URL_TEMPLATE="https://shop.example/orders/{orderId}", **engine_env(request))
    with running_gateway(env, request.param) as client:
        client.control("webhooks", {"mode": "off"})  # the test delivers events itself
        yield client, env


def received_for(smtp: SmtpServer, number: str) -> list[str]:
    return sorted(str(m["Subject"]) for m in smtp.inbox.messages if number in str(m["Subject"]))


def settle(smtp: SmtpServer, seconds: float = 1.0) -> None:
    """Wait until nothing more arrives for `seconds`."""
    count, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < seconds:
        if len(smtp.inbox.messages) != count:
            count, quiet_since = len(smtp.inbox.messages), time.monotonic()
        time.sleep(0.05)


def test_a_storm_of_webhooks_the_success_page_and_sync_send_one_confirmation(mailing, smtp):
    mailing, env = mailing
    session = new_session(mailing, user_id="user-mail", amount=2500, quantity=2)
    pay(mailing, session.id)
    event = event_of(mailing, "checkout.session.completed", session.id)
    copy = {**event, "id": event["id"] + "copy"}  # the same news under another event id

    async def storm():
        async with httpx.AsyncClient(base_url=mailing.url, timeout=30) as client:
            posts = []
            for body in [event] * 20 + [copy] * 10:
                payload = json.dumps(body).encode()
                posts.append(client.post("/stripe/webhook", content=payload,
                                         headers={"stripe-signature": sign(payload)}))
            pages = [client.post("/graphql", json={"query": SUCCESS_PAGE, "variables": {"id": session.id}},
                                 headers={"authorization": f"Bearer {mailing.token('user-mail')}"})
                     for _ in range(10)]
            return await asyncio.gather(*posts, *pages)

    assert {r.status_code for r in asyncio.run(storm())} == {200}
    synced = mailing.gql(SYNC, {}, mailing.token("ops", email="ops@example.com", admin=True))
    assert synced["data"]["syncOrders"]["userErrors"] == []
    # another sender, in another process, at the same time as serve's own
    cli = run_gateway("send-emails", env={**command_env(mailing.settings.gateway_db.parent), **env})
    assert cli.returncode == 0, cli.stderr
    number = "BC-" + session.id[-8:].upper()
    smtp.inbox.wait_for(1)
    settle(smtp)
    assert received_for(smtp, number) == [f"Your order {number} is confirmed"]
    [mail] = [m for m in smtp.inbox.messages if number in str(m["Subject"])]
    assert str(mail["To"]) == "Buyer@Example.com"
    text = mail.get_body(("plain",)).get_content()
    assert "2 x Necklace" in text and "$50.00" in text and f"https://shop.example/orders/{session.id}" in text


def test_each_refund_gets_one_notice_however_often_stripe_says_so(mailing, smtp):
    mailing, _ = mailing
    session = new_session(mailing, user_id="user-mail", amount=4000)
    pay(mailing, session.id)
    deliver(mailing, event_of(mailing, "checkout.session.completed", session.id))
    pi = mailing.stripe().v1.checkout.sessions.retrieve(session.id).payment_intent
    refund(mailing, pi, 1500)
    refunded = event_of(mailing, "charge.refunded", pi)
    for n in range(3):
        deliver(mailing, {**refunded, "id": f"{refunded['id']}r{n}"})
    number = "BC-" + session.id[-8:].upper()
    deadline = time.monotonic() + 15
    while len(received_for(smtp, number)) < 2:
        assert time.monotonic() < deadline, received_for(smtp, number)
        time.sleep(0.05)
    settle(smtp)
    assert received_for(smtp, number) == [f"A refund for your order {number}", f"Your order {number} is confirmed"]
    [notice] = [m for m in smtp.inbox.messages if str(m["Subject"]) == f"A refund for your order {number}"]
    assert "refunded $15.00" in notice.get_body(("plain",)).get_content()


def test_a_mail_server_that_is_down_fails_no_webhook(tmp_path):
    down = SmtpServer()  # nothing listens on its port
    env = gateway_env(tmp_path, STRIPE_WEBHOOK_SECRET=WHSEC, EMAIL_BACKGROUND_SEND="true",
                      SMTP_URL=down.url, EMAIL_FROM="orders@shop.example",
                      EMAIL_SEND_INTERVAL_SECONDS="1")
    with running_gateway(env) as gateway:
        gateway.control("webhooks", {"mode": "off"})
        session = new_session(gateway, user_id="user-down")
        pay(gateway, session.id)
        response = deliver(gateway, event_of(gateway, "checkout.session.completed", session.id))
        assert response.status_code == 200 and response.json()["outcome"] == "applied"
        deadline = time.monotonic() + 10
        while not (found := [i for i in gateway.all_items()
                             if i["PK"] == f"EMAIL#{session.id}" and i["attempts"] >= 1]):
            assert time.monotonic() < deadline, "no delivery attempt"
            time.sleep(0.05)
        [message] = found
        assert message["status"] == "PENDING" and "Connect" in message["lastError"]
        metrics = gateway.http.get("/metrics").text
        assert 'gateway_email_failures_total{kind="confirmation",outcome="retrying"}' in metrics


def test_without_smtp_development_writes_eml_files_and_lists_them(tmp_path):
    with running_gateway(gateway_env(tmp_path, STRIPE_WEBHOOK_SECRET=WHSEC, EMAIL_BACKGROUND_SEND="true")) as gateway:
        gateway.control("webhooks", {"mode": "off"})
        session = new_session(gateway, user_id="user-dev")
        pay(gateway, session.id)
        deliver(gateway, event_of(gateway, "checkout.session.completed", session.id))
        outbox = tmp_path / "outbox"
        deadline = time.monotonic() + 10
        while not list(outbox.glob("*.eml")):
            assert time.monotonic() < deadline, "no .eml file"
            time.sleep(0.05)
        [eml] = list(outbox.glob("*.eml"))
        number = "BC-" + session.id[-8:].upper()
        page = gateway.http.get("/_dev/outbox")
        assert page.status_code == 200 and eml.name in page.text and f"Your order {number} is confirmed" in page.text
        raw = gateway.http.get(f"/_dev/outbox/{eml.name}")
        assert raw.status_code == 200 and f"Subject: Your order {number} is confirmed" in raw.text
        assert gateway.http.get("/_dev/outbox/..%2Fgateway.db").status_code == 404
        assert gateway.http.get("/_dev/outbox/nothing.eml").status_code == 404


@pytest.mark.parametrize(("name", "value"), [("SMTP_URL", "nonsense"), ("SMTP_URL", "smtp+starttls://u:p@:587"),
                                             ("EMAIL_FROM", "not an address"),
                                             ("ORDER_URL_TEMPLATE", "https://shop.example/orders")])
def test_garbage_email_settings_stop_the_start_naming_the_variable(tmp_path, name, value):
    env = {**command_env(tmp_path), "SMTP_URL": "smtp://127.0.0.1:2525", "EMAIL_FROM": "orders@shop.example",
           name: value}
    for command in (["send-emails"], ["serve", "--port", str(free_port())]):
        result = run_gateway(*command, env=env, timeout=60)
        assert result.returncode == 2 and f"{name}:" in result.stderr, result.stderr
        assert "u:p" not in result.stderr  # SMTP_URL holds a password: never echoed


def test_sync_records_a_confirmation_a_crash_left_unrecorded(mailing, smtp):
    """The state a crash between the order's write and its message's leaves (the order,
    no message): the next reconciliation records the message, and it is sent."""
    mailing, _ = mailing
    session = new_session(mailing, user_id="user-crash")
    pay(mailing, session.id)
    deliver(mailing, event_of(mailing, "checkout.session.completed", session.id))
    number = "BC-" + session.id[-8:].upper()
    deadline = time.monotonic() + 15
    while not received_for(smtp, number):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    async def forget_the_message() -> None:
        from store import keys

        store = await mailing.open_store()
        try:
            await store.delete(keys.email(session.id, "confirmation", "confirmation"))
        finally:
            await store.close()

    asyncio.run(forget_the_message())
    synced = mailing.gql(SYNC, {}, mailing.token("ops", email="ops@example.com", admin=True))
    assert synced["data"]["syncOrders"]["userErrors"] == []
    deadline = time.monotonic() + 15
    while len(received_for(smtp, number)) < 2:
        assert time.monotonic() < deadline, "sync did not record the missing confirmation"
        time.sleep(0.05)
