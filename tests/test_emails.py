"""The outbox on both store engines: which messages an order owes, recorded once however
often it is written, and the sender delivering them to a real SMTP server (aiosmtpd on
loopback) exactly once, through outages, refusals and a second sender."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from commerce import emails
from commerce.email_content import Sender, money
from commerce.emails import messages_of, queue_due_messages, sent_messages
from jobs.emails import drain
from jobs.mail_transport import FileTransport, SmtpServer, SmtpTransport
from store import keys
from store.metered import MeteredStore, start_counting
from store.records import Facts, Movement, Order, OrderLine, OutboxMessage, ShippingAddress, put_record
from store.records.emails import FAILED, PENDING, SENT
from store.records.fulfillment import SHIPPED, Fulfillment
from telemetry.metrics import EMAIL_FAILURES, EMAILS_SENT, ORDERS_WITHOUT_EMAIL
from tests.smtp_server import SmtpServer as LoopbackSmtp

SENDER = Sender("The Babes Club <orders@shop.example>", "https://shop.example/orders/{orderId}")
LATER = 10**6  # seconds: past every backoff and lease


def an_order(n: int = 1, **changes) -> Order:
    now = int(time.time())
    order = Order(
        order_id=f"cs_test_emails{n:06d}", order_number=f"BC-EM{n:06d}", user_id="user-mail", guest=False,
        guest_email=None, status="PAID", facts=Facts(paid=True),
        items=(OrderLine("N-RED", "Red <script>alert(1)</script> Necklace", 2, 2500, 5000),
               OrderLine("E-MAG", "Magnetic earrings", 1, 1200, 1200)),
        currency="USD", subtotal=6200, discount=0, shipping=500, tax=0, total=6700, refunded=0, charged_back=0,
        email="buyer@example.com", shipping_address=ShippingAddress("Ada Buyer", "1 Road", None, "Town", None,
                                                                    "12345", "US"),
        stripe_session_id=None, stripe_payment_intent_id=None, quote_signature=None,
        created_at=now - 60, updated_at=now, version=1)
    return replace(order, **changes)


def smtp_transport(server: LoopbackSmtp) -> SmtpTransport:
    return SmtpTransport(SmtpServer("127.0.0.1", server.port, "none", *(server.credentials or (None, None))),
                         timeout=5)


@pytest.fixture
def smtp():
    server = LoopbackSmtp().start()
    try:
        yield server
    finally:
        server.stop()


async def stored(store, order: Order) -> Order:
    await put_record(store, order)
    return order


async def pending_pointers(store) -> list[dict]:
    return (await store.query(keys.OUTBOX, prefix=keys.OUTBOX_PREFIX, limit=1000)).items


# ---- recording ----------------------------------------------------------------------

async def test_a_paid_order_written_fifty_times_at_once_records_one_confirmation(store):
    order = await stored(store, an_order(1))
    recorded = await asyncio.gather(*(queue_due_messages(store, order) for _ in range(50)))
    assert sum(recorded) == 1
    [message] = await messages_of(store, order.order_id)
    assert (message.kind, message.ref, message.recipient, message.status) == (
        "confirmation", "confirmation", "buyer@example.com", PENDING)
    assert len(await pending_pointers(store)) == 1
    assert await queue_due_messages(store, order, fresh=True) == 0  # the fast path too


async def test_an_unpaid_order_a_review_and_an_order_without_email_owe_nothing(store):
    before = ORDERS_WITHOUT_EMAIL._value.get()
    for n, order in enumerate([an_order(2, facts=Facts(), status="PROCESSING"),
                               an_order(3, review=True, status="NEEDS_REVIEW"),
                               an_order(4, email=None)]):
        await stored(store, order)
        assert await queue_due_messages(store, order, fresh=n == 2) == 0
        assert await messages_of(store, order.order_id) == []
    assert ORDERS_WITHOUT_EMAIL._value.get() == before + 1
    assert await pending_pointers(store) == []


async def test_history_is_not_mailed_an_order_placed_long_ago_gets_no_confirmation(store):
    """Sync reading the shop's old table (or a backfill) sees orders paid months ago."""
    old = await stored(store, an_order(5, created_at=int(time.time()) - 4 * 86400))
    assert await queue_due_messages(store, old) == 0
    emails.configure(emails.Policy(max_age_seconds=5 * 86400))
    try:
        assert await queue_due_messages(store, old) == 1  # EMAIL_MAX_AGE_HOURS is the setting
    finally:
        emails.configure(emails.Policy())


async def test_each_counted_refund_gets_one_notice_and_a_failed_one_none(store):
    refunds = {"re_a": Movement(1000, "succeeded"), "re_b": Movement(500, "pending"),
               "re_c": Movement(700, "failed")}
    order = await stored(store, an_order(6, facts=Facts(paid=True, refunds=refunds), refunded=1500))
    for _ in range(3):
        await queue_due_messages(store, order)
    kinds = sorted((m.kind, m.ref) for m in await messages_of(store, order.order_id))
    assert kinds == [("confirmation", "confirmation"), ("refund", "re_a"), ("refund", "re_b")]


async def test_a_shipped_order_gets_one_shipping_notice(store):
    now = int(time.time())
    shipped = Fulfillment(SHIPPED, shipped_at=now, carrier="UPS", tracking_number="1Z999",
                          tracking_url="https://track.example/1Z999")
    order = await stored(store, an_order(7, fulfillment=shipped))
    await queue_due_messages(store, order)
    await queue_due_messages(store, order)
    assert sorted(m.kind for m in await messages_of(store, order.order_id)) == ["confirmation", "shipping"]


async def test_a_crash_between_the_message_and_its_pointer_is_repaired_by_the_next_write(store):
    order = await stored(store, an_order(8))
    message = OutboxMessage(order.order_id, "confirmation", "confirmation", "buyer@example.com",
                            int(time.time()))
    await put_record(store, message, if_absent=True)  # ... and the process died here
    assert await pending_pointers(store) == []
    assert await queue_due_messages(store, order) == 0  # nothing new recorded, the pointer written
    assert len(await pending_pointers(store)) == 1


# ---- sending --------------------------------------------------------------------------

async def test_the_sender_delivers_each_message_once_and_marks_it_sent(store, smtp):
    orders = [await stored(store, an_order(10 + n)) for n in range(3)]
    for order in orders:
        await queue_due_messages(store, order)
    sent_before = EMAILS_SENT.labels("confirmation")._value.get()
    report = await drain(store, smtp_transport(smtp), SENDER)
    assert (report.sent, report.pending) == (3, 0)
    again = await drain(store, smtp_transport(smtp), SENDER, now=int(time.time()) + LATER)
    assert again.sent == 0
    assert sorted(str(m["To"]) for m in smtp.inbox.messages) == ["buyer@example.com"] * 3
    assert EMAILS_SENT.labels("confirmation")._value.get() == sent_before + 3
    [message] = await sent_messages(store, orders[0].order_id)
    assert message.status == SENT and message.sent_at and message.attempts == 0
    assert await pending_pointers(store) == []


async def test_the_confirmation_says_what_was_bought_in_text_and_html(store, smtp):
    order = await stored(store, an_order(20))
    await queue_due_messages(store, order)
    await drain(store, smtp_transport(smtp), SENDER)
    [mail] = smtp.inbox.messages
    assert str(mail["Subject"]) == "Your order BC-EM000020 is confirmed"
    assert str(mail["From"]) == "The Babes Club <orders@shop.example>"
    assert str(mail["Message-ID"]) == f"<confirmation.confirmation.{order.order_id}@shop.example>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for body in (text, html):
        assert "BC-EM000020" in body and "Ada Buyer" in body
        assert "$50.00" in body and "$12.00" in body and "$62.00" in body and "$5.00" in body
        assert "$67.00" in body  # the total
        assert f"https://shop.example/orders/{order.order_id}" in body
    assert "2 x Red <script>alert(1)</script> Necklace" in text  # plain text is shown as it is
    assert "<script>" not in html and "Red &lt;script&gt;alert(1)&lt;/script&gt; Necklace" in html


async def test_the_shipping_notice_links_the_tracking_page_and_the_refund_notice_says_how_much(store, smtp):
    now = int(time.time())
    order = await stored(store, an_order(21, fulfillment=Fulfillment(
        SHIPPED, shipped_at=now, carrier="DHL", tracking_number="JD0123", tracking_url="https://dhl.example/t/JD0123"),
        facts=Facts(paid=True, refunds={"re_x": Movement(1200, "succeeded")}), refunded=1200))
    await queue_due_messages(store, order)
    await drain(store, smtp_transport(smtp), SENDER)
    by_subject = {str(m["Subject"]): m for m in smtp.inbox.messages}
    assert set(by_subject) == {"Your order BC-EM000021 is confirmed", "Your order BC-EM000021 is on its way",
                               "A refund for your order BC-EM000021"}
    shipping = by_subject["Your order BC-EM000021 is on its way"]
    html = shipping.get_body(("html",)).get_content()
    assert 'href="https://dhl.example/t/JD0123"' in html and "JD0123" in html and "DHL" in html
    assert "https://dhl.example/t/JD0123" in shipping.get_body(("plain",)).get_content()
    refund = by_subject["A refund for your order BC-EM000021"].get_body(("plain",)).get_content()
    assert "refunded $12.00" in refund and "$12.00 of $67.00" in refund


def test_money_is_formatted_from_minor_units_for_every_kind_of_currency():
    assert money(123456, "USD") == "$1,234.56"
    assert money(1500, "JPY") == "¥1,500"  # zero-decimal: 1500 is ¥1,500, not ¥15.00
    assert money(5, "EUR") == "€0.05"
    assert money(1250, "KWD") == "1.250 KWD"
    assert money(99, "KRW") == "99 KRW" and money(100, "CHF") == "1.00 CHF"


async def test_a_mail_server_that_is_down_then_returns_gets_every_message_once(store):
    server = LoopbackSmtp()  # not started: the port is closed
    orders = [await stored(store, an_order(30 + n)) for n in range(4)]
    for order in orders:
        await queue_due_messages(store, order)
    now = int(time.time())
    down = await drain(store, smtp_transport(server), SENDER, now=now)
    assert (down.sent, down.retrying, down.pending) == (0, 4, 4)
    [message, *_] = await messages_of(store, orders[0].order_id)
    assert message.attempts == 1 and message.next_attempt_at >= now + 24 and "Connect" in (message.last_error or "")
    assert (await drain(store, smtp_transport(server), SENDER, now=now + 1)).retrying == 0  # backing off
    server.start()
    try:
        back = await drain(store, smtp_transport(server), SENDER, now=now + 3600)
        assert (back.sent, back.pending) == (4, 0)
        await drain(store, smtp_transport(server), SENDER, now=now + LATER)
        assert sorted(str(m["Subject"]) for m in server.inbox.messages) == sorted(
            f"Your order {o.order_number} is confirmed" for o in orders)
    finally:
        server.stop()


async def test_a_server_answering_4xx_is_retried_and_a_5xx_for_the_recipient_gives_up(store, smtp):
    order = await stored(store, an_order(40))
    await queue_due_messages(store, order)
    smtp.inbox.refuse_data = "451 4.3.0 Try again later"
    now = int(time.time())
    assert (await drain(store, smtp_transport(smtp), SENDER, now=now)).retrying == 1
    smtp.inbox.refuse_data = None
    assert (await drain(store, smtp_transport(smtp), SENDER, now=now + 3600)).sent == 1
    assert len(smtp.inbox.messages) == 1

    refused = await stored(store, an_order(41, email="nobody@example.com"))
    await queue_due_messages(store, refused)
    smtp.inbox.refuse_rcpt = "550 5.1.1 No such mailbox"
    given_up = EMAIL_FAILURES.labels("confirmation", "given_up")._value.get()
    report = await drain(store, smtp_transport(smtp), SENDER, now=now + 7200)
    assert (report.given_up, report.pending) == (1, 0)
    [message] = await messages_of(store, refused.order_id)
    assert message.status == FAILED and "550" in (message.last_error or "")
    assert EMAIL_FAILURES.labels("confirmation", "given_up")._value.get() == given_up + 1


async def test_two_senders_at_once_deliver_each_message_once(store, smtp):
    orders = [await stored(store, an_order(50 + n)) for n in range(12)]
    for order in orders:
        await queue_due_messages(store, order)
    reports = await asyncio.gather(*(drain(store, smtp_transport(smtp), SENDER) for _ in range(3)))
    assert sum(r.sent for r in reports) == 12
    received = sorted(str(m["Subject"]) for m in smtp.inbox.messages)
    assert received == sorted(f"Your order {o.order_number} is confirmed" for o in orders)


async def test_a_drain_reads_what_is_pending_not_what_was_sent(store, smtp):
    """O(pending): with 30 messages sent, a drain with nothing pending is one query."""
    for n in range(30):
        order = await stored(store, an_order(60 + n))
        await queue_due_messages(store, order)
    await drain(store, smtp_transport(smtp), SENDER)
    metered = MeteredStore(store)
    calls = start_counting()
    report = await drain(metered, smtp_transport(smtp), SENDER)
    assert report.sent == 0 and sum(calls.values()) == 1  # the OUTBOX query, empty


async def test_smtp_login_and_development_files(store, tmp_path):
    server = LoopbackSmtp(credentials=("shop", "s3cret")).start()
    try:
        order = await stored(store, an_order(70))
        await queue_due_messages(store, order)
        assert (await drain(store, smtp_transport(server), SENDER)).sent == 1
        assert server.inbox.logins == ["shop"]
    finally:
        server.stop()
    other = await stored(store, an_order(71))
    await queue_due_messages(store, other)
    outbox = tmp_path / "outbox"
    assert (await drain(store, FileTransport(outbox), SENDER)).sent == 1
    [eml] = list(outbox.glob("*.eml"))
    assert "BC-EM000071" in eml.name and b"Subject: Your order BC-EM000071 is confirmed" in eml.read_bytes()


async def test_a_later_write_of_a_shipped_order_records_its_shipping_notice(store, smtp):
    """How the fulfilment functions reach the outbox: their write of the order, then
    queue_due_messages (apply_facts here, with nothing new, does the same)."""
    from commerce.orders import apply_facts
    from store.records import update_record

    order = await stored(store, an_order(80))
    await queue_due_messages(store, order)
    shipped = await update_record(store, order, lambda current: replace(current, fulfillment=Fulfillment(
        SHIPPED, shipped_at=int(time.time()), carrier="UPS", tracking_number="1Z80",
        tracking_url="https://ups.example/1Z80")))
    await apply_facts(store, shipped, Facts())
    await drain(store, smtp_transport(smtp), SENDER)
    assert sorted(str(m["Subject"]) for m in smtp.inbox.messages) == [
        "Your order BC-EM000080 is confirmed", "Your order BC-EM000080 is on its way"]


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp+starttls://AKIA%2Fx:p%40ss%3Aw@email-smtp.us-east-1.amazonaws.com:587",
     ("email-smtp.us-east-1.amazonaws.com", 587, "starttls", "AKIA/x", "p@ss:w")),
    ("smtps://tok:tok@smtp.postmarkapp.com", ("smtp.postmarkapp.com", 465, "tls", "tok", "tok")),
    ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, "none", None, None)),
])
def test_smtp_urls_of_each_scheme_are_read(url, expected):
    from settings import SmtpUrl

    parsed = SmtpUrl.parse(url)
    assert (parsed.host, parsed.port, parsed.security, parsed.username, parsed.password) == expected


async def test_the_backlog_alarm_filter_reads_the_drain_line(store, caplog):
    """deploy/template.yaml's email filters match the line a drain writes when messages wait,
    and its value is the oldest one's age."""
    import json
    import logging

    from telemetry.logs import JsonLines
    from tests.cloudwatch_filters import matches
    from tests.test_lambda import template_filters

    caplog.set_level(logging.INFO, logger="gateway.access")
    order = await stored(store, an_order(90, created_at=int(time.time()) - 600))
    await queue_due_messages(store, order)
    down = LoopbackSmtp()  # closed port
    await drain(store, smtp_transport(down), SENDER, now=int(time.time()) + 1200)
    lines = [JsonLines().format(r) for r in caplog.records if r.name == "gateway.access"]
    filters = template_filters()
    [backlog] = [json.loads(line) for line in lines if matches(filters["EmailOldestPendingSeconds"], line)]
    assert backlog["pending"] == 1 and backlog["oldestPendingSeconds"] >= 1200
    assert sum(matches(filters["EmailsPending"], line) for line in lines) == 1
    assert sum(matches(filters["EmailsGivenUp"], line) for line in lines) == 0
