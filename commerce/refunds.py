"""Refunds from the shop (refundOrder) and cancelling an unshipped order (cancelOrder).

A refund is made through Stripe (the port's `create_refund`) and is a fact like any other:
the order shows it when Stripe's refund.created / charge.refunded arrives (the webhook
path, commerce/charges.py). The refund Stripe answers with is also merged into the order
at once (facts only grow and merge is monotone, so the webhook that follows adds nothing
and one that came first loses nothing): the admin sees it in the mutation's answer.

Refundable = total − refunded − charged back, from the order's facts. More is refused
(REFUND_TOO_LARGE), as are an unpaid order and one with a dispute open (the money is
held by the bank; Stripe refuses it too). Stripe refusing it all the same (it knows of a
refund we have not heard of yet) reads the charge afresh: REFUND_TOO_LARGE when that refund
took what was asked, REFUND_REFUSED with Stripe's message otherwise.

Idempotency: a double click, or a client retrying, refunds once. The request's digest
(of its amount and reason, or of the client's idempotencyKey when it sends one) names a
refund request (REFUND#{orderId} / REQUEST#{digest}, store/records/refunds.py), written
with a conditional put just before Stripe is called: it holds the Stripe idempotency key
the first request chose. The same request while it lives (REPEAT_SECONDS; a client's key:
as long as Stripe keeps keys, 24 h) finds it and sends the same key, so Stripe answers
with the same refund, however the requests interleave (one in flight: Stripe's 409 is
retried by the SDK). A request that is refused writes nothing.

    without idempotencyKey   the same amount and reason within REPEAT_SECONDS is the same
                             refund; after that, or for another amount, a new one (a
                             second partial refund later is made)
    with idempotencyKey      the key (one per refund the admin means: made when the refund
                             form opens) is one refund; the key again with another amount
                             or reason is refused (REFUND_REFUSED)

Derived from the order alone (its known refunds), a key would change as soon as the first
click's refund is known, which the tests showed happens before the second click is read.

cancelOrder: the order is marked CANCELLED first (a versioned write that a concurrent
fulfillOrder cannot pass: whichever lands first wins, the other is refused), then what is
left refundable is refunded with the key sha256("cancel", order id, amount): a double
click, or a retry after Stripe failed, refunds once. The payment status stays what the
facts say (REFUNDED once the refund is known).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from commerce.charges import charge_facts, refund_movement
from commerce.errors import ErrorCode, Problem
from commerce.fulfillment import cancelled, load, move
from commerce.orders import apply_facts
from payments import IdempotencyConflict, NotFound, Payments, Refund, RefundRefused
from store import Store, keys
from store.base import now_epoch
from store.records import Facts, Order, RefundRequest, get_record, put_record

REASONS = ("duplicate", "fraudulent", "requested_by_customer")  # Stripe's
MAX_AMOUNT = 10**12
MAX_CLIENT_KEY = 200
REPEAT_SECONDS = 120  # the same refund asked again within this is the same refund
CLIENT_KEY_SECONDS = 24 * 3600  # how long Stripe keeps an idempotency key


@dataclass(frozen=True, slots=True)
class Refunded:
    order: Order
    refund: Refund | None  # None: cancelOrder on an order with nothing left to refund


def refundable(order: Order) -> int:
    return max(0, order.total - order.facts.refunded - order.facts.charged_back)


def _key(*parts: object) -> str:
    return "gw-refund-" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _digest(amount: int, reason: str | None, client_key: str | None) -> str:
    parts = ["client", client_key] if client_key is not None else [amount, reason]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:40]


def _reason_problem(reason: str | None) -> Problem | None:
    if reason is not None and reason not in REASONS:
        return Problem(("reason",), ErrorCode.INVALID_INPUT, "reason must be one of " + ", ".join(REASONS) + ".")
    return None


def _refusal(order: Order) -> Problem | None:
    """Why the order cannot be refunded at all, or None."""
    if not order.facts.paid:
        return Problem(None, ErrorCode.ORDER_NOT_REFUNDABLE, "The order is not paid: there is nothing to refund.")
    if order.facts.dispute == "open":
        return Problem(None, ErrorCode.ORDER_NOT_REFUNDABLE,
                       "The order has a dispute open: the bank holds the money until it closes.")
    if order.stripe_payment_intent_id is None:
        return Problem(None, ErrorCode.ORDER_NOT_REFUNDABLE, "The order has no payment to refund.")
    return None


async def refund_order(store: Store, payments: Payments, order_id: str, *, amount: int, reason: str | None,
                       idempotency_key: str | None = None) -> Refunded | list[Problem]:
    problems = [p for p in (_reason_problem(reason),) if p]
    if isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT:
        problems.insert(0, Problem(("amount",), ErrorCode.INVALID_INPUT,
                                   "amount must be a positive amount in minor units."))
    if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_CLIENT_KEY
                                            and idempotency_key.isprintable()):
        problems.append(Problem(("idempotencyKey",), ErrorCode.INVALID_INPUT,
                                f"idempotencyKey must be printable text of 1 to {MAX_CLIENT_KEY} characters."))
    if problems:
        return problems
    found = await load(store, order_id)
    if isinstance(found, Problem):
        return [found]
    digest = _digest(amount, reason, idempotency_key)
    asked = await get_record(store, RefundRequest, keys.refund_request(found.order_id, digest))
    if asked is None:  # a new refund: checked, then claimed
        refused = _refusal(found)
        if refused is not None:
            return [refused]
        left = refundable(found)
        if amount > left:
            return [Problem(("amount",), ErrorCode.REFUND_TOO_LARGE,
                            f"At most {left} ({found.currency}, minor units) is left to refund.")]
        asked = await _claim(store, found, digest, amount, reason,
                             CLIENT_KEY_SECONDS if idempotency_key is not None else REPEAT_SECONDS)
    if (asked.amount, asked.reason) != (amount, reason):
        return [Problem(("idempotencyKey",), ErrorCode.REFUND_REFUSED,
                        "This idempotencyKey was used for another refund; make a new one for a new refund.")]
    made = await _refund(store, payments, found, amount, reason, asked.stripe_key)
    if isinstance(made, Problem) and made.code == ErrorCode.REFUND_REFUSED and made.field is None:
        # Refused because a refund or cancel made at the same moment took what was left:
        # read the charge afresh, and say how much is left, as if this one had come second.
        fresh = await _refreshed(store, payments, found)
        left = refundable(fresh)
        if amount > left:
            return [Problem(("amount",), ErrorCode.REFUND_TOO_LARGE,
                            f"At most {left} ({fresh.currency}, minor units) is left to refund.")]
    return [made] if isinstance(made, Problem) else made


async def _claim(store: Store, order: Order, digest: str, amount: int, reason: str | None,
                 seconds: int) -> RefundRequest:
    """The refund request: this one, written now, or the one a concurrent request wrote first."""
    mine = RefundRequest(order.order_id, digest, _key(order.order_id, digest, secrets.token_hex(16)), amount,
                         reason, now_epoch() + seconds)
    for _ in range(3):
        if await put_record(store, mine, if_absent=True):
            return mine
        theirs = await get_record(store, RefundRequest, mine.key)
        if theirs is not None:
            return theirs
    return mine  # it kept expiring between the two (a clock at its edge): this one's key


async def cancel_order(store: Store, payments: Payments, order_id: str, *,
                       reason: str | None) -> Refunded | list[Problem]:
    problem = _reason_problem(reason)
    if problem is not None:
        return [problem]
    found = await load(store, order_id)
    if isinstance(found, Problem):
        return [found]
    refused = _refusal(found)
    if refused is not None and not found.facts.payment_failed:
        return [refused]
    marked = await move(store, found, cancelled(reason))
    if isinstance(marked, Problem):
        return [marked]
    left = refundable(marked) if marked.facts.paid else 0
    if left == 0:
        return Refunded(marked, None)
    made = await _refund(store, payments, marked, left, reason, _key("cancel", marked.order_id, left))
    if isinstance(made, Problem) and made.code == ErrorCode.REFUND_REFUSED:
        # Refused because a refund made at the same moment (refundOrder, the Dashboard) took
        # what was left: read the charge afresh, and the cancel stands when nothing is left.
        marked = await _refreshed(store, payments, marked)
        if refundable(marked) == 0:
            return Refunded(marked, None)
    return [made] if isinstance(made, Problem) else made


async def _refreshed(store: Store, payments: Payments, order: Order) -> Order:
    """The order with every refund and dispute its charge has at Stripe now."""
    if order.stripe_payment_intent_id is None:
        return order
    charge = await payments.charge_of_payment(order.stripe_payment_intent_id)
    if charge is None:
        return order
    return await apply_facts(store, order, await charge_facts(payments, charge))


async def _refund(store: Store, payments: Payments, order: Order, amount: int, reason: str | None,
                  key: str) -> Refunded | Problem:
    assert order.stripe_payment_intent_id is not None
    try:
        refund = await payments.create_refund(
            payment_intent=order.stripe_payment_intent_id, amount=amount, reason=reason,
            metadata={"orderId": order.order_id, "orderNumber": order.order_number}, idempotency_key=key)
    except IdempotencyConflict:
        return Problem(("idempotencyKey",), ErrorCode.REFUND_REFUSED,
                       "This idempotencyKey was used for another refund; make a new one for a new refund.")
    except RefundRefused as refused:
        return Problem(None, ErrorCode.REFUND_REFUSED, f"Stripe refused the refund: {str(refused)[:300]}")
    except NotFound:
        return Problem(None, ErrorCode.REFUND_REFUSED, "Stripe does not know this order's payment.")
    fact = refund_movement(refund)
    updated = await apply_facts(store, order, Facts(refunds=dict([fact]))) if fact else order
    return Refunded(updated, refund)
