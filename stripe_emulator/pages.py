"""The hosted pay page: GET shows the session (line items, totals) and a card form; POST
settles it and redirects to the success URL, or shows the page again with the reason."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from stripe_emulator.checkout.settle import open_session, settle
from stripe_emulator.checkout.totals import TAX_BASIS_POINTS
from stripe_emulator.errors import StripeError, invalid
from stripe_emulator.state import State

MAX_FORM = 16 * 1024
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                "xaf", "xof", "xpf"}
STYLE = ("body{font-family:sans-serif;max-width:34em;margin:2em auto;padding:0 1em}label{display:block;"
         "margin:.4em 0}td{padding:.2em .6em}.error{color:#b00;font-weight:bold}.hint{color:#555}")


def money(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"{amount // 100}.{amount % 100:02d} {currency.upper()}"


async def pay_page(request: Request) -> Response:
    state: State = request.app.state.emulator.state
    try:
        session = open_session(state, request.path_params["session_id"])
    except StripeError:
        return HTMLResponse(_shell("<p>No such checkout.</p>"), status_code=404)
    if session["status"] != "open":
        return _closed(session)
    if request.method == "GET":
        return HTMLResponse(_shell(_open_page(session, state, {}, None)))
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        settle(state, session, form)
    except StripeError as exc:
        if session["status"] != "open":
            return _closed(session)
        return HTMLResponse(_shell(_open_page(session, state, form, exc.message)), status_code=exc.status)
    return RedirectResponse(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]), status_code=303)


def _closed(session: dict[str, Any]) -> HTMLResponse:
    if session["status"] == "expired":
        return HTMLResponse(_shell("<p>This checkout has expired.</p>"), status_code=410)
    if session["payment_status"] == "paid":
        return HTMLResponse(_shell("<p>This checkout is already paid.</p>"))
    return HTMLResponse(_shell("<p>This checkout is complete; its payment is processing.</p>"))


def _open_page(session: dict[str, Any], state: State, form: dict[str, str], message: str | None) -> str:
    notice = f"<p role=alert class=error>{escape(message)}</p>" if message else ""
    cancel = f"<p><a href='{escape(session['cancel_url'])}'>Cancel</a></p>" if session["cancel_url"] else ""
    return (f"<h1>Pay {money(session['amount_total'], session['currency'])}</h1>{notice}"
            f"{_summary(session)}<form method=post>{_fields(session, state, form)}"
            "<button type=submit>Pay</button></form>"
            "<p class=hint>Test cards: 4242424242424242 pays · 4000000000000002 is declined · "
            f"4000000000001000 is a delayed payment method (settled later by a test helper).</p>{cancel}")


def _summary(session: dict[str, Any]) -> str:
    cur, totals = session["currency"], session["total_details"]
    rows = [(f"{item['description'] or ''} × {item['quantity']}", item["amount_subtotal"])
            for item in session["_line_items"]]
    rows.append(("Subtotal", session["amount_subtotal"]))
    if totals["amount_discount"]:
        rows.append(("Discount", -totals["amount_discount"]))
    if session["shipping_options"]:
        rows.append(("Shipping", totals["amount_shipping"]))
    if session["automatic_tax"]["enabled"]:
        rows.append(("Tax (from the shipping or billing country, when you pay)", totals["amount_tax"]))
    rows.append(("Total", session["amount_total"]))
    cells = "".join(f"<tr><td>{escape(label)}</td><td>{'-' if amount < 0 else ''}{money(abs(amount), cur)}</td></tr>"
                    for label, amount in rows)
    return f"<table>{cells}</table>"


def _fields(session: dict[str, Any], state: State, form: dict[str, str]) -> str:
    customer = state.customers.get(session["customer"] or "") or {}
    email = form.get("email") or session["customer_email"] or customer.get("email") or ""
    fields = [_input("Email", "email", email, kind="email", required=True),
              _input("Name on card", "name", form.get("name", "")),
              "<label>Card number <input name=card_number inputmode=numeric autocomplete=off "
              "placeholder='4242 4242 4242 4242' required></label>",
              _select("Billing country", "billing_country", _tax_countries(), form.get("billing_country"))]
    collection = session["shipping_address_collection"]
    if collection:
        fields += ["<fieldset><legend>Shipping address</legend>",
                   _input("Line 1", "line1", form.get("line1", ""), required=True),
                   _input("Line 2", "line2", form.get("line2", "")),
                   _input("City", "city", form.get("city", ""), required=True),
                   _input("State", "state", form.get("state", "")),
                   _input("Postal code", "postal_code", form.get("postal_code", ""), required=True),
                   _select("Country", "country", [(c, c) for c in collection["allowed_countries"]],
                           form.get("country")),
                   "</fieldset>"]
    if session["shipping_options"]:
        fields.append(_shipping_radios(session, state, form.get("shipping_rate")))
    return "".join(fields)


def _shipping_radios(session: dict[str, Any], state: State, chosen: str | None) -> str:
    options = session["shipping_options"]
    chosen = chosen if chosen in [o["shipping_rate"] for o in options] else options[0]["shipping_rate"]
    radios = "".join(
        f"<label><input type=radio name=shipping_rate value='{escape(o['shipping_rate'])}'"
        f"{' checked' if o['shipping_rate'] == chosen else ''}> "
        f"{escape(state.shipping_rates[o['shipping_rate']]['display_name'])} "
        f"({money(o['shipping_amount'], session['currency'])})</label>" for o in options)
    return f"<fieldset><legend>Shipping</legend>{radios}</fieldset>"


def _input(label: str, name: str, value: str, *, kind: str = "text", required: bool = False) -> str:
    return (f"<label>{label} <input name={name} type={kind} value='{escape(value)}'"
            f"{' required' if required else ''}></label>")


def _select(label: str, name: str, options: list[tuple[str, str]], chosen: str | None) -> str:
    rendered = "".join(f"<option value='{escape(value)}'{' selected' if value == chosen else ''}>"
                       f"{escape(text)}</option>" for value, text in options)
    return f"<label>{label} <select name={name}>{rendered}</select></label>"


def _tax_countries() -> list[tuple[str, str]]:
    """The countries with a tax rate (US first), then "other" (no tax)."""
    codes = ["US", *sorted(c for c in TAX_BASIS_POINTS if c != "US")]
    return [(c, c) for c in codes] + [("XX", "Other")]


def _shell(body: str) -> str:
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>Checkout (Stripe emulator)</title>"
            f"<style>{STYLE}</style><p><b>Stripe emulator</b>: no real payment is made.</p>{body}</html>")


async def _form(request: Request) -> dict[str, str]:
    """The pay form (application/x-www-form-urlencoded, as browsers send it)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise invalid("The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise invalid("The form could not be read.") from None
    return dict(pairs)
