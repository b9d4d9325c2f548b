"""One handler per event family. Each fetches what it needs from Stripe afresh and
hands it to commerce/; the event payload only says where to look."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Awaitable, Callable

import stripe

from commerce.facts import Facts, facts_from_charge
from commerce.orders import apply_facts, find_order, is_ours, order_from_session
from commerce.payments import Payments
from store import Store, keys
from store.records import CheckoutRecord, PaymentPointer, QuoteSession, get_record, put_record

log = logging.getLogger("gateway.webhooks")

Outcome = str  # "applied" | "ignored" | "foreign"


async def checkout_completed(store: Store, payments: Payments, obj: dict) -> Outcome:
    order = await order_from_session(store, payments, obj["id"])
    return "applied" if order is not None else "foreign"


async def async_payment_failed(store: Store, payments: Payments, obj: dict) -> Outcome:
    order = await order_from_session(store, payments, obj["id"], facts=Facts(payment_failed=True))
    return "applied" if order is not None else "foreign"


async def checkout_expired(store: Store, payments: Payments, obj: dict) -> Outcome:
    pointer = await get_record(store, CheckoutRecord, keys.session_pointer(obj["id"]))
    if pointer is None:
        return "foreign"
    if pointer.quote_signature is None:
        return "applied"  # a record of the replaced system without its quote: nothing to expire
    record = await get_record(store, QuoteSession, keys.quote_session(pointer.quote_signature, obj["id"]))
    if record is not None and record.status != "expired":
        await put_record(store, replace(record, status="expired", checkout_url=None))
    return "applied"


async def charge_changed(store: Store, payments: Payments, obj: dict) -> Outcome:
    charge = await _charge(payments, obj["id"])
    return await _apply_to_payment(store, payments, charge.get("payment_intent"), facts_from_charge(charge))


async def refund_changed(store: Store, payments: Payments, obj: dict) -> Outcome:
    """refund.created / updated / failed and charge.refund.updated: the charge lists every
    refund with its status, so a refund that failed stops counting."""
    charge_id = obj.get("charge")
    if not isinstance(charge_id, str):
        return "ignored"
    return await charge_changed(store, payments, {"id": charge_id})


async def dispute_changed(store: Store, payments: Payments, obj: dict) -> Outcome:
    dispute = (await payments.call(payments.client.v1.disputes.retrieve_async, obj["id"])).to_dict()
    charge = await _charge(payments, _id(dispute.get("charge")))
    facts = facts_from_charge(charge, disputes=[dispute])
    return await _apply_to_payment(store, payments, charge.get("payment_intent"), facts)


async def _charge(payments: Payments, charge_id: str | None) -> dict[str, Any]:
    """The charge as Stripe's JSON, with its refunds (listed in full past the first ten)."""
    charge = (await payments.call(payments.client.v1.charges.retrieve_async, charge_id,
                                  params={"expand": ["refunds"]})).to_dict()
    listed = charge.get("refunds")
    if isinstance(listed, dict) and listed.get("has_more"):
        page = await payments.call(payments.client.v1.refunds.list_async,
                                   params={"charge": charge["id"], "limit": 100})
        charge["refunds"] = {"object": "list", "has_more": False,
                             "data": [r.to_dict() async for r in page.auto_paging_iter()]}
    return charge


async def _apply_to_payment(store: Store, payments: Payments, payment_intent: Any, facts: Facts) -> Outcome:
    pi = _id(payment_intent)
    if pi is None:
        return "foreign"
    pointer = await get_record(store, PaymentPointer, keys.payment_pointer(pi))
    order = await find_order(store, pointer.order_id) if pointer else None
    if order is not None:
        await apply_facts(store, order, facts)
        return "applied"
    # Not recorded yet (the refund beat the completed event): make the order from Stripe.
    sessions = await payments.call(payments.client.v1.checkout.sessions.list_async,
                                   params={"payment_intent": pi, "limit": 1})
    if not sessions.data or not is_ours(sessions.data[0]):
        return "foreign"
    made = await order_from_session(store, payments, sessions.data[0].id, facts=facts)
    return "applied" if made is not None else "foreign"


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value["id"] if isinstance(value, dict) else value.id


Handler = Callable[[Store, Payments, dict], Awaitable[Outcome]]

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
    "checkout.session.async_payment_failed": async_payment_failed,
    "checkout.session.expired": checkout_expired,
    "charge.refunded": charge_changed,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "refund.failed": refund_changed,
    "charge.refund.updated": refund_changed,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.updated": dispute_changed,
    "charge.dispute.closed": dispute_changed,
}


async def handle(store: Store, payments: Payments, event: dict) -> Outcome:
    handler = HANDLERS.get(event["type"])
    if handler is not None and not isinstance(event["data"]["object"].get("id"), str):
        log.warning("event %s of type %s has no object id: acknowledged, nothing to do", event["id"], event["type"])
        return "ignored"
    if handler is None:
        log.debug("ignored event %s of type %s", event["id"], event["type"])
        return "ignored"
    try:
        return await handler(store, payments, event["data"]["object"])
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing":  # not in this Stripe account: not ours
            return "foreign"
        raise
