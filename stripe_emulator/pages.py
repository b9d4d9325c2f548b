"""The hosted pay page: GET shows the session and a card form; POST settles it."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from stripe_emulator import checkout
from stripe_emulator.errors import StripeError
from stripe_emulator.state import State

MAX_FORM = 16 * 1024


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency.upper()}"


def render(session: dict, state: State, message: str | None = None, status: int = 200) -> HTMLResponse:
    e = html.escape
    if session["status"] != "open":
        word = "has expired" if session["status"] == "expired" else "is already paid"
        return HTMLResponse(_shell(f"<p>This checkout {word}.</p>"),
                            status_code=410 if session["status"] == "expired" else 200)
    cur = session["currency"]
    rows = "".join(f"<tr><td>{e(i['description'] or '')}</td><td>× {i['quantity']}</td>"
                   f"<td>{_money(i['amount_subtotal'], cur)}</td></tr>" for i in session["_line_items"])
    totals = session["total_details"]
    email = session["customer_email"] or (state.customers.get(session["customer"] or "") or {}).get("email") or ""
    fields = [f"<label>Email <input name=email type=email value='{e(email)}' required></label>",
              "<label>Name on card <input name=name></label>",
              "<label>Card number <input name=card_number inputmode=numeric autocomplete=off "
              "placeholder='4242 4242 4242 4242' required></label>",
              "<label>Billing country <input name=billing_country value=US maxlength=2></label>"]
    collection = session["shipping_address_collection"]
    if collection:
        options = "".join(f"<option>{e(c)}</option>" for c in collection["allowed_countries"])
        fields += ["<fieldset><legend>Shipping address</legend>",
                   "<label>Line 1 <input name=line1 required></label>",
                   "<label>Line 2 <input name=line2></label>",
                   "<label>City <input name=city required></label>",
                   "<label>State <input name=state></label>",
                   "<label>Postal code <input name=postal_code required></label>",
                   f"<label>Country <select name=country>{options}</select></label></fieldset>"]
    if session["shipping_options"]:
        radios = "".join(
            f"<label><input type=radio name=shipping_rate value='{e(o['shipping_rate'])}'"
            f"{' checked' if n == 0 else ''}> {e(state.shipping_rates[o['shipping_rate']]['display_name'])}"
            f" ({_money(o['shipping_amount'], cur)})</label>"
            for n, o in enumerate(session["shipping_options"]))
        fields.append(f"<fieldset><legend>Shipping</legend>{radios}</fieldset>")
    notice = f"<p role=alert class=error>{e(message)}</p>" if message else ""
    body = (
        f"<h1>Pay {_money(session['amount_total'], cur)}</h1>{notice}"
        f"<table>{rows}</table><p>Subtotal {_money(session['amount_subtotal'], cur)}"
        f"{' · discount ' + _money(totals['amount_discount'], cur) if totals['amount_discount'] else ''}"
        f"{' · tax calculated from the address' if session['automatic_tax']['enabled'] else ''}</p>"
        f"<form method=post>{''.join(fields)}<button type=submit>Pay</button></form>"
        "<p class=hint>Test cards: 4242424242424242 pays · 4000000000000002 is declined · "
        "4000000000001000 is a delayed payment method.</p>")
    return HTMLResponse(_shell(body), status_code=status)


def _shell(body: str) -> str:
    return ("<!doctype html><meta charset=utf-8><title>Stripe emulator checkout</title>"
            "<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}label{display:block;"
            "margin:.4em 0}.error{color:#b00}</style>"
            f"<p><b>Stripe emulator</b>: no real payment is made.</p>{body}")


async def pay_page(request: Request) -> Response:
    state: State = request.app.state.emulator.state
    try:
        session = checkout.open_session(state, request.path_params["session_id"])
    except StripeError:
        return HTMLResponse(_shell("<p>No such checkout.</p>"), status_code=404)
    if request.method == "GET":
        return render(session, state)
    try:
        form = await _form(request)
        checkout.settle(state, session, form)
    except StripeError as exc:
        return render(session, state, exc.message, status=exc.status)
    target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
    return RedirectResponse(target, status_code=303)


async def _form(request: Request) -> dict[str, Any]:
    """The pay form (application/x-www-form-urlencoded, as browsers send it)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise StripeError(400, "invalid_request_error", "The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise StripeError(400, "invalid_request_error", "The form could not be read.") from None
    return dict(pairs)
