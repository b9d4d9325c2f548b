from __future__ import annotations

import re

from commerce.checkout import SessionView, checkout_for_quote, session_view
from commerce.errors import ErrorCode
from commerce.quotes import QuoteRejected, load_quote
from payments import SESSION_ID
from resolvers import limits
from resolvers.refusals import Refused, refusal
from store import keys
from store.base import now_epoch
from web.context import Context

# No whitespace, controls or RFC 5322 specials (<>()[],;:"\\): the address goes into a To: header as it is.
EMAIL = re.compile(r'^[^@\s\x00-\x1f<>()\[\],;:"\\]{1,64}@[^@\s\x00-\x1f<>()\[\],;:"\\]{1,190}\.[A-Za-z]{2,24}$')


async def create_checkout_session(
    context: Context, signature: str, email: str | None
) -> SessionView | Refused:
    if email is not None and not keys.fits(email, keys.MAX_EMAIL_BYTES):
        return refusal(("input", "email"), ErrorCode.INVALID_INPUT,
                       f"An email address is at most {keys.MAX_EMAIL_BYTES} bytes (UTF-8).")
    if email is not None and not EMAIL.match(email):
        return refusal(("input", "email"), ErrorCode.INVALID_INPUT, "This is not an email address.")
    services, viewer = context.services, context.viewer
    try:
        quote = await load_quote(services.store, services.quote_secret, signature)
        return await checkout_for_quote(
            services.store, services.payments, services.prices, services.checkout, quote,
            user_id=viewer.user_id if viewer else None, user_email=viewer.email if viewer else None,
            guest_email=email, now=now_epoch(), catalog=services.catalog,
        )
    except QuoteRejected as rejected:
        return refusal(("input", "quoteSignature"), rejected.code, rejected.message)


def valid_session_id(session_id: str) -> bool:
    return bool(SESSION_ID.match(session_id))


async def checkout_session(context: Context, session_id: str) -> SessionView | None:
    """A session this gateway made, as Stripe has it now; None for anything else."""
    services = context.services
    if await services.store.get(keys.session_pointer(session_id)) is None:
        return None
    await limits.stripe_read(context)
    session = await services.payments.retrieve_session(session_id)
    return session_view(session) if session is not None else None
