"""Plain success and cancel pages, served when CHECKOUT_SUCCESS_URL / CHECKOUT_CANCEL_URL
are not configured, so a checkout tried locally lands somewhere that says what happened."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from commerce.checkout import session_view
from resolvers.checkout import valid_session_id
from store import keys

SUCCESS_PATH = "/checkout/success"
CANCEL_PATH = "/checkout/cancel"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
        f"<h1>{html.escape(title)}</h1>{body}<p><a href='/graphql'>GraphiQL</a></p></body>",
        status_code=status,
    )


async def success(request: Request) -> HTMLResponse:
    session_id = request.query_params.get("session_id", "")
    services = request.app.state.services
    if not valid_session_id(session_id) or await services.store.get(keys.session_pointer(session_id)) is None:
        return _page("Unknown checkout session", "<p>This page needs a session_id we made.</p>", 404)
    session = await services.payments.retrieve_session(session_id)
    if session is None:
        return _page("Unknown checkout session", "<p>Stripe does not know this session.</p>", 404)
    view = session_view(session)
    total = f"{view.amount_total / 100:.2f} {view.currency}" if view.amount_total is not None else "?"
    return _page("Thank you" if view.payment_status == "paid" else "Payment pending",
                 f"<p>Session <code>{html.escape(view.id)}</code>: status <b>{view.status}</b>, "
                 f"payment <b>{html.escape(view.payment_status)}</b>, total {html.escape(total)}.</p>")


async def cancel(request: Request) -> HTMLResponse:
    return _page("Checkout cancelled", "<p>Nothing was charged. The cart's quote can be used again "
                                       "until it expires.</p>")


routes = [Route(SUCCESS_PATH, success, methods=["GET"]), Route(CANCEL_PATH, cancel, methods=["GET"])]
