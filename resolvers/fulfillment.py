"""The shop's order mutations (the caller has checked the admin role): input → commerce →
the order, or userErrors at the input's paths."""

from __future__ import annotations

from collections.abc import Sequence

from commerce import fulfillment, refunds
from commerce.errors import Problem
from commerce.orders import shown
from commerce.refunds import Refunded
from resolvers.refusals import Refused, refusals
from store.records import Order
from web.context import Context


def _in_input(field: tuple[str | int, ...]) -> Sequence[str]:
    return ["input", *map(str, field)]


def _answer(result: Order | list[Problem]) -> Order | Refused:
    return refusals(result, _in_input) if isinstance(result, list) else shown(result)


async def fulfill_order(context: Context, order_id: str, carrier: str, tracking_number: str,
                        tracking_url: str | None) -> Order | Refused:
    return _answer(await fulfillment.fulfil(context.services.store, order_id, carrier=carrier,
                                            tracking_number=tracking_number, tracking_url=tracking_url))


async def mark_delivered(context: Context, order_id: str) -> Order | Refused:
    return _answer(await fulfillment.deliver(context.services.store, order_id))


async def refund_order(context: Context, order_id: str, amount: int, reason: str | None,
                       idempotency_key: str | None) -> Refunded | Refused:
    services = context.services
    result = await refunds.refund_order(services.store, services.payments, order_id, amount=amount,
                                        reason=reason, idempotency_key=idempotency_key)
    return refusals(result, _in_input) if isinstance(result, list) else Refunded(shown(result.order), result.refund)


async def cancel_order(context: Context, order_id: str, reason: str | None) -> Refunded | Refused:
    services = context.services
    result = await refunds.cancel_order(services.store, services.payments, order_id, reason=reason)
    return refusals(result, _in_input) if isinstance(result, list) else Refunded(shown(result.order), result.refund)
