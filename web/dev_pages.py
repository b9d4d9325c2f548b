"""Plain success and cancel pages, served when CHECKOUT_SUCCESS_URL / CHECKOUT_CANCEL_URL
are not configured, so a checkout tried locally lands somewhere that says what happened;
and, in development without SMTP_URL, /_dev/outbox: the messages the sender wrote as .eml
files (var/outbox/), newest first, each readable as sent."""

from __future__ import annotations

import email
import email.policy
import html
import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from commerce.checkout import session_view
from resolvers.checkout import valid_session_id
from store import keys

OUTBOX_PATH = "/_dev/outbox"
OUTBOX_LISTED = 200
EML_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}\.eml$")
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


def _from_this_machine(request: Request) -> bool:
    """The outbox holds shoppers' addresses: this machine only, as the emulator's controls."""
    return (request.client.host if request.client else "") in ("127.0.0.1", "::1", "localhost")


async def outbox(request: Request) -> HTMLResponse:
    if not _from_this_machine(request):
        return _page("Outbox", "<p>The development outbox answers this machine only.</p>", 403)
    directory = request.app.state.settings.outbox_dir
    files = sorted(directory.glob("*.eml"), key=lambda f: f.name, reverse=True) if directory.is_dir() else []
    rows = []
    for path in files[:OUTBOX_LISTED]:
        with path.open("rb") as handle:
            headers = email.message_from_binary_file(handle, policy=email.policy.default)
        rows.append(f"<tr><td><a href='{OUTBOX_PATH}/{html.escape(path.name)}'>{html.escape(path.name)}</a></td>"
                    f"<td>{html.escape(str(headers['To'] or ''))}</td>"
                    f"<td>{html.escape(str(headers['Subject'] or ''))}</td></tr>")
    table = ("<table><tr><th>file</th><th>to</th><th>subject</th></tr>" + "".join(rows) + "</table>"
             if rows else "<p>No messages yet: pay for an order and its confirmation appears here.</p>")
    return _page("Outbox (development)", f"<p>{len(files)} messages in <code>{html.escape(str(directory))}"
                                         f"</code>, as the sender wrote them (no SMTP_URL).</p>{table}")


async def outbox_message(request: Request) -> PlainTextResponse:
    if not _from_this_machine(request):
        return PlainTextResponse("The development outbox answers this machine only.", status_code=403)
    name = request.path_params["name"]
    path = request.app.state.settings.outbox_dir / name
    if not EML_NAME.match(name) or not path.is_file():
        return PlainTextResponse("No such message.", status_code=404)
    return PlainTextResponse(path.read_text(errors="replace"))


routes = [Route(SUCCESS_PATH, success, methods=["GET"]), Route(CANCEL_PATH, cancel, methods=["GET"])]
outbox_routes = [Route(OUTBOX_PATH, outbox, methods=["GET"]),
                 Route(OUTBOX_PATH + "/{name}", outbox_message, methods=["GET"])]
