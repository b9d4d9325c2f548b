"""Reconciliation finds and repairs what the webhooks missed, on both engines."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from telemetry.logs import JsonLines
from tests.live_gateway import engine_env, gateway_env, record_sessions, running_gateway

ROOT = Path(__file__).resolve().parent.parent
SYNC = ("mutation($since: DateTime) { syncOrders(input: {since: $since}) "
        "{ scanned created updated ignored events userErrors { code message } } }")


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def recon(request, tmp_path_factory):
    # Emails wait in the outbox: a test edits order items by hand, as the shop does, between writes.
    env = gateway_env(tmp_path_factory.mktemp("recon"), STRIPE_SYNC_RATE="100", EMAIL_BACKGROUND_SEND="false",
                      **engine_env(request))
    with running_gateway(env, request.param) as client:
        yield client



def paid_sessions(gateway, count: int, tag: str, card: str = "4242424242424242") -> list[str]:
    stripe = gateway.stripe()
    ids, records = [], []
    for n in range(count):
        metadata = {"source": "commerce-gateway", "userId": f"{tag}-{n % 5}", "quoteSignature": "q" * 43}
        session = stripe.v1.checkout.sessions.create(params={
            "mode": "payment", "success_url": "https://shop.example/ok", "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 1000 + n,
                                           "product_data": {"name": "Cuff", "metadata": {"sku": "BR-CUFF"}}},
                            "quantity": 1}]})
        records.append({"id": session.id, "userId": f"{tag}-{n % 5}", "lines": [(1000 + n, 1)]})
        ids.append(session.id)
    record_sessions(gateway, records)  # as checkout writes them, before anyone pays
    for n, session_id in enumerate(ids):
        gateway.control(f"checkout/sessions/{session_id}/pay",
                {"card_number": card, "email": f"{tag}{n}@example.com"})
    gateway.control("webhooks/flush")
    return ids


def orders(gateway, ids: list[str]) -> dict[str, dict]:
    wanted = set(ids)
    found: dict[str, dict] = {}
    for item in gateway.all_items():
        if item["PK"].startswith("ORDER#") and item["orderId"] in wanted:
            found[item["orderId"]] = item
    listings = [i for i in gateway.all_items() if str(i["SK"]).startswith("ORDER#") and i["orderId"] in wanted]
    assert len(listings) == len(found), "an order listed twice or not at all"
    return found


def admin(gateway) -> str:
    return gateway.token("ops", email="ops@example.com", admin=True)


async def corrupt(gateway, order_ids: list[str], status: str) -> None:
    from store import keys
    from store.records import Order

    store = await gateway.open_store()
    for order_id in order_ids:
        order = await store.get(keys.order_pointer(order_id))
        await store.put({**order, "status": status})
        key = Order.from_item(order).listing_key
        await store.put({**order, "status": status, "PK": key.pk, "SK": key.sk})
    await store.close()


def test_one_run_repairs_missed_webhooks_and_corrupted_statuses_and_a_second_changes_nothing(recon):
    recon.control("webhooks", {"mode": "deliver", "undelivered_rate": 0.05, "seed": 11})
    try:
        ids = paid_sessions(recon, 200, f"rep-{recon.engine}")
    finally:
        recon.control("webhooks", {"undelivered_rate": 0.0})
    before = orders(recon, ids)
    missing = len(ids) - len(before)
    assert 0 < missing < 30, missing  # about 5 % never delivered
    corrupted = sorted(before)[:2]
    asyncio.run(corrupt(recon, corrupted, "REFUNDED"))

    first = recon.gql(SYNC, {}, admin(recon))["data"]["syncOrders"]
    assert first["userErrors"] == []
    assert first["scanned"] >= 200 and first["created"] == missing and first["updated"] == 2
    after = orders(recon, ids)
    assert len(after) == 200 and {o["status"] for o in after.values()} == {"PAID"}

    second = recon.gql(SYNC, {}, admin(recon))["data"]["syncOrders"]
    assert (second["created"], second["updated"]) == (0, 0)
    print(f"\nreconcile on {recon.engine}: {missing} missed webhooks and 2 corrupted statuses "
          f"repaired in one run of {first['scanned']} sessions")


def test_a_run_after_every_webhook_was_missed_reads_each_session_once(recon, caplog):
    """With all deliveries lost, each session is in the listing and has an undelivered
    `checkout.session.completed`: the run reads it once (its line items), not twice."""
    caplog.set_level(logging.INFO, logger="gateway.access")
    recon.control("webhooks", {"mode": "off"})
    try:
        ids = paid_sessions(recon, 30, f"once-{recon.engine}")
    finally:
        recon.control("webhooks", {"mode": "deliver"})
    request_id = f"sync-once-{recon.engine}"
    answer = recon.post({"query": SYNC, "variables": {"since": None}}, admin(recon), **{"x-request-id": request_id})
    result = answer.json()["data"]["syncOrders"]
    assert result["created"] >= 30 and result["events"] >= 30 and result["userErrors"] == []
    assert set(orders(recon, ids)) == set(ids)
    lines = [json.loads(JsonLines().format(r)) for r in caplog.records if r.name == "gateway.access"]
    [line] = [line for line in lines if line.get("requestId") == request_id and line["kind"] == "request"]
    # a listing page, one line-items read per new order, the event pages: no session twice
    assert result["created"] < line["stripeCalls"] <= result["created"] + 5, line


def test_a_run_killed_mid_way_resumes_without_duplicates(recon):
    from jobs.reconcile import sync_orders
    from payments import Payments

    recon.control("webhooks", {"mode": "off"})
    try:
        ids = paid_sessions(recon, 150, f"kill-{recon.engine}")
    finally:
        recon.control("webhooks", {"mode": "deliver"})
    assert orders(recon, ids) == {}

    class Killed(Exception):
        pass

    def kill_after_first_page(report) -> None:
        if report.pages == 1:
            raise Killed

    async def run(hook):
        store = await recon.open_store()
        payments = Payments("sk_test_sync", api_base=f"{recon.url}/_stripe")
        try:
            return await sync_orders(store, payments, since=0, on_page=hook, per_second=100)
        finally:
            await payments.close()
            await store.close()

    with pytest.raises(Killed):
        asyncio.run(run(kill_after_first_page))
    partial = orders(recon, ids)
    assert len(partial) == 100  # the first page, newest first, was processed and recorded

    async def resume():
        store = await recon.open_store()
        payments = Payments("sk_test_sync", api_base=f"{recon.url}/_stripe")
        try:
            return await sync_orders(store, payments, per_second=100)  # resumes from the checkpoint
        finally:
            await payments.close()
            await store.close()

    report = asyncio.run(resume())
    assert len(orders(recon, ids)) == 150
    assert report.created == 150 - len(partial)


def test_only_admins_may_reconcile(recon):
    body = recon.gql(SYNC, {}, recon.token("shopper", email="s@example.com"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert recon.gql(SYNC, {})["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_second_run_while_one_holds_the_lease_is_told_so(recon):
    from store import keys
    from store.base import now_epoch

    async def lease(expires_in: int) -> None:
        store = await recon.open_store()
        await store.put({"PK": keys.SYNC_LEASE.pk, "SK": keys.SYNC_LEASE.sk, "holder": "someone-else",
                         "expiresAt": now_epoch() + expires_in})
        await store.close()

    asyncio.run(lease(300))
    busy = recon.gql(SYNC, {}, admin(recon))["data"]["syncOrders"]
    assert [e["code"] for e in busy["userErrors"]] == ["SYNC_IN_PROGRESS"]
    asyncio.run(lease(-1))  # a run that died: its lease has expired
    assert recon.gql(SYNC, {}, admin(recon))["data"]["syncOrders"]["userErrors"] == []


def test_the_command_line(recon):
    paid_sessions(recon, 2, f"cli-{recon.engine}")  # its own: a dry run must find something to scan
    env = {**os.environ, "STRIPE_SECRET": "sk_test_cli", "STRIPE_API_BASE": f"{recon.url}/_stripe",
           "GATEWAY_DB": str(recon.settings.gateway_db), "COMMERCE_TABLE": recon.settings.commerce_table or ""}

    def sync(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "cli.py"), "sync-orders", *args], env=env,
                              capture_output=True, text=True, timeout=120, cwd=ROOT)

    dry = sync("--dry-run", "--json", "--since", "2026-01-01T00:00:00Z")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["scanned"] > 0
    plain = sync()
    assert plain.returncode == 0 and "scanned" in plain.stdout
    for bad in (["--since", "yesterday"], ["--since", "2026-13-01"], ["--frobnicate"]):
        result = sync(*bad)
        assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("since", ["1969-12-31T23:59:59Z", "2999-01-01T00:00:00Z", "2026-01-01T00:00:00"])
def test_a_bad_since_is_a_user_error(recon, since):
    result = recon.gql(SYNC, {"since": since}, admin(recon))["data"]["syncOrders"]
    assert [(e["code"]) for e in result["userErrors"]] == ["INVALID_INPUT"]


def test_sync_counts_a_failed_refund_out_and_maps_every_dispute_status(recon):
    ids = paid_sessions(recon, 2, f"money-{recon.engine}")  # delivered: both orders exist, PAID
    stripe = recon.stripe()
    charges = [stripe.v1.payment_intents.retrieve(stripe.v1.checkout.sessions.retrieve(i).payment_intent).latest_charge
               for i in ids]
    recon.control("webhooks", {"mode": "off"})  # what follows is for sync alone to find
    try:
        refund = stripe.v1.refunds.create(params={"charge": charges[0], "amount": 300})
        recon.control(f"refunds/{refund.id}/fail", {})
        dispute = recon.control(f"charges/{charges[1]}/dispute", {"status": "warning_needs_response"})
        recon.control(f"disputes/{dispute['id']}/status", {"status": "warning_closed"})
        body = recon.gql(SYNC, token=admin(recon))
    finally:
        recon.control("webhooks", {"mode": "deliver"})
    assert body["data"]["syncOrders"]["userErrors"] == []
    found = orders(recon, ids)
    assert found[ids[0]]["status"] == "PAID" and int(found[ids[0]]["refunded"]) == 0
    assert found[ids[0]]["facts"]["refunds"][refund.id]["status"] == "failed"
    assert found[ids[1]]["status"] == "PAID" and found[ids[1]]["facts"]["disputes"][dispute["id"]]["status"] == \
        "warning_closed"


def test_one_unreadable_order_is_reported_and_skipped_and_a_hand_set_status_is_kept(recon):
    from store import keys
    from store.records import Order

    ids = paid_sessions(recon, 3, f"bad-{recon.engine}")

    async def damage():
        store = await recon.open_store()
        for order_id, damaged in ((ids[0], lambda o: {k: v for k, v in o.items() if k != "total"}),
                                  (ids[1], lambda o: {**o, "status": "SHIPPED"})):
            order = await store.get(keys.order_pointer(order_id))
            await store.put(damaged(order))
            key = Order.from_item(order).listing_key
            await store.put({**damaged(order), "PK": key.pk, "SK": key.sk})
        await store.close()

    asyncio.run(damage())
    sync = "mutation { syncOrders(input: {}) { scanned updated unreadable userErrors { code } } }"
    first = recon.gql(sync, token=admin(recon))
    assert "errors" not in first, first
    assert first["data"]["syncOrders"]["unreadable"] == 1
    found = orders(recon, ids)
    assert found[ids[1]]["status"] == "SHIPPED"  # facts are the gateway's to change; that status is not
    again = recon.gql(sync, token=admin(recon))["data"]["syncOrders"]
    assert again["unreadable"] == 1 and again["updated"] == 0


def test_sync_finds_a_delayed_payment_that_failed_when_its_event_was_lost(recon):
    """A failed delayed payment becomes a dead letter only after minutes of retries; should
    its event be lost anyway, the listing says it: the PaymentIntent wants another method."""
    stripe = recon.stripe()
    recon.control("webhooks", {"mode": "off"})
    try:
        [session_id] = paid_sessions(recon, 1, f"late-fail-{recon.engine}", card="4000000000001000")
        recon.control(f"checkout/sessions/{session_id}/async_payment", {"outcome": "failed"})
        body = recon.gql(SYNC, token=admin(recon))
    finally:
        recon.control("webhooks", {"mode": "deliver"})
    assert body["data"]["syncOrders"]["userErrors"] == []
    assert orders(recon, [session_id])[session_id]["status"] == "PAYMENT_FAILED"
    assert stripe.v1.checkout.sessions.retrieve(session_id).payment_status == "unpaid"
