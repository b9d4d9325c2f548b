"""What a message says: a plain-text and an HTML body from the Jinja2 templates in
commerce/templates/emails/ ({kind}.txt, {kind}.html; HTML autoescaped, so a product named
`<script>` is shown, never run), with the order number, its items, its totals (money from
integer minor units, zero-decimal currencies such as JPY without decimals) and links to the
order page (ORDER_URL_TEMPLATE) and, for a shipment, the carrier's tracking page.

The Message-ID is the message's identity (order, kind, ref), so a copy sent twice (SMTP is
at least once) carries the same id and mail clients can fold it into one.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import quote

import jinja2

from commerce.emails import CONFIRMATION, REFUND, SHIPPING
from commerce.pricing import ZERO_DECIMAL
from store.records import Order, OutboxMessage

THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$"}
SUBJECTS = {
    CONFIRMATION: "Your order {number} is confirmed",
    SHIPPING: "Your order {number} is on its way",
    REFUND: "A refund for your order {number}",
}

_html = jinja2.Environment(loader=jinja2.PackageLoader("commerce", "templates/emails"), autoescape=True,
                           undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_text = jinja2.Environment(loader=jinja2.PackageLoader("commerce", "templates/emails"), autoescape=False,
                           undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                           keep_trailing_newline=True)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who messages come from, and where an order's page is (from the settings)."""
    from_address: str  # EMAIL_FROM, e.g. "The Babes Club <orders@shop.example>"
    order_url_template: str | None = None  # ORDER_URL_TEMPLATE, with {orderId} and/or {orderNumber}
    shop_name: str = "The Babes Club"


def money(amount: int, currency: str) -> str:
    """An amount in minor units as a shopper reads it: $1,234.50, ¥1,500, 1.250 KWD."""
    currency = currency.upper()
    digits = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    sign, amount = ("-", -amount) if amount < 0 else ("", amount)
    whole, fraction = divmod(amount, 10 ** digits)
    shown = f"{whole:,}" + (f".{fraction:0{digits}d}" if digits else "")
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{shown}" if symbol else f"{sign}{shown} {currency}"


def order_url(sender: Sender, order: Order) -> str | None:
    if not sender.order_url_template:
        return None
    return sender.order_url_template.replace("{orderId}", quote(order.order_id, safe="")).replace(
        "{orderNumber}", quote(order.order_number, safe=""))


def _link(url: str | None) -> str | None:
    """A URL fit to be a link in a message: http(s) only (never javascript: or data:)."""
    return url if url and url.startswith(("https://", "http://")) and len(url) <= 2048 else None


def context(message: OutboxMessage, order: Order, sender: Sender) -> dict[str, object]:
    cur = order.currency
    refund = order.facts.refunds.get(message.ref) if message.kind == REFUND else None
    shipment = order.fulfillment
    return {
        "shop": sender.shop_name, "number": order.order_number, "order_url": _link(order_url(sender, order)),
        "name": order.shipping_address.name if order.shipping_address and order.shipping_address.name else None,
        "items": [{"name": line.name or line.sku or "Item", "quantity": line.quantity,
                   "unit_price": money(line.unit_price, cur), "total": money(line.total, cur)}
                  for line in order.items],
        "subtotal": money(order.subtotal, cur), "discount": money(order.discount, cur) if order.discount else None,
        "shipping": money(order.shipping, cur), "tax": money(order.tax, cur) if order.tax else None,
        "total": money(order.total, cur),
        "refund_amount": money(refund.amount, cur) if refund else None,
        "refunded_total": money(order.refunded, cur),
        "carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
        "tracking_url": _link(shipment.tracking_url),
    }


def render(message: OutboxMessage, order: Order, sender: Sender) -> EmailMessage:
    """The message, ready for SMTP or a .eml file."""
    values = context(message, order, sender)
    mail = EmailMessage()
    mail["Subject"] = SUBJECTS[message.kind].format(number=order.order_number)
    mail["From"] = sender.from_address
    mail["To"] = message.recipient
    mail["Date"] = email.utils.formatdate(time.time(), localtime=False)
    mail["Message-ID"] = message_id(message, sender)
    mail.set_content(_text.get_template(f"{message.kind}.txt").render(values))
    mail.add_alternative(_html.get_template(f"{message.kind}.html").render(values), subtype="html")
    return mail


def message_id(message: OutboxMessage, sender: Sender) -> str:
    domain = email.utils.parseaddr(sender.from_address)[1].rpartition("@")[2] or "localhost"
    local = f"{message.kind}.{message.ref}.{message.order_id}".replace("@", "_").replace(">", "_")
    return f"<{local}@{domain}>"
