"""The Stripe port: the only place that speaks to Stripe (and imports `stripe`). One named
async method per call the gateway makes (`client.py`), answers as typed views of Stripe's
JSON (`views.py`), call counting and throttling. It imports nothing of the gateway."""

from payments.client import (
    LINE_ITEMS_EXPANDED,
    IdempotencyConflict,
    NotFound,
    Payments,
    PaymentsRefused,
    PaymentsUnavailable,
    RefundRefused,
    start_counting,
)
from payments.views import (
    SESSION_ID,
    SOURCE,
    Charge,
    CheckoutSession,
    Dispute,
    Event,
    LineItem,
    Page,
    PaymentIntent,
    Price,
    Product,
    Refund,
    ShippingDetails,
    WebhookEndpoint,
    id_of,
)

__all__ = [
    "LINE_ITEMS_EXPANDED", "SESSION_ID", "SOURCE", "Charge", "CheckoutSession", "Dispute", "Event",
    "IdempotencyConflict", "LineItem", "NotFound", "Page", "PaymentIntent", "Payments",
    "PaymentsRefused", "PaymentsUnavailable",
    "Price", "Product", "Refund", "RefundRefused", "ShippingDetails", "WebhookEndpoint", "id_of", "start_counting",
]
