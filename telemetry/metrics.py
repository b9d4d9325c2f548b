"""What the gateway counts and logs, for every layer: Prometheus counters and one JSON
record per event. It imports nothing of ours, so commerce, the store, jobs and the HTTP edge
all count and log here; web/observability.py serves the counters at /metrics."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

access_log = logging.getLogger("gateway.access")
OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_LABELS = 200  # client-chosen names: bounded, so metrics cannot be flooded

REGISTRY = CollectorRegistry()
REQUEST_SECONDS = Histogram("gateway_request_seconds", "GraphQL request latency", ["operation"],
                            registry=REGISTRY, buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
WEBHOOK_EVENTS = Counter("gateway_webhook_events_total", "Webhook deliveries by event type and outcome",
                         ["type", "outcome"], registry=REGISTRY)
STRIPE_ERRORS = Counter("gateway_stripe_errors_total", "Stripe calls that failed (unavailable)",
                        registry=REGISTRY)
STORE_ERRORS = Counter("gateway_store_errors_total", "Requests that failed on the store", registry=REGISTRY)
ORDERS_NEEDING_REVIEW = Counter(
    "gateway_orders_needing_review_total",
    "Orders recorded as NEEDS_REVIEW: a session whose amounts differ from its quote", registry=REGISTRY)
ORDERS_OUT_OF_STOCK = Counter(
    "gateway_orders_out_of_stock_total",
    "Orders recorded as OUT_OF_STOCK: paid, but the pieces their checkout held were released or lost "
    "and none was left", registry=REGISTRY)
STRIPE_READS_REFUSED = Counter(
    "gateway_stripe_reads_refused_total",
    "Stripe reads refused by the per-request or per-client budget", registry=REGISTRY)
UNREADABLE_ORDERS = Counter("gateway_unreadable_orders_total",
                            "Order items skipped because they could not be read (logged with their keys)",
                            registry=REGISTRY)
DEAD_LETTERS = Counter("gateway_dead_letters_total", "Webhook events kept as dead letters", registry=REGISTRY)
EMAILS_RECORDED = Counter("gateway_emails_recorded_total", "Messages to shoppers recorded in the outbox",
                          ["kind"], registry=REGISTRY)
EMAILS_SENT = Counter("gateway_emails_sent_total", "Messages to shoppers delivered (accepted by the mail server)",
                      ["kind"], registry=REGISTRY)
EMAIL_FAILURES = Counter("gateway_email_failures_total",
                         "Delivery attempts that failed: `retrying` (tried again later) or `given_up`",
                         ["kind", "outcome"], registry=REGISTRY)
EMAILS_PENDING = Gauge("gateway_emails_pending", "Messages waiting in the outbox, as the sender last counted",
                       registry=REGISTRY, multiprocess_mode="livemax")
EMAIL_OLDEST_PENDING = Gauge("gateway_email_oldest_pending_seconds",
                             "Age of the oldest message waiting in the outbox, as the sender last saw it",
                             registry=REGISTRY, multiprocess_mode="livemax")
ORDERS_WITHOUT_EMAIL = Counter("gateway_orders_without_email_total",
                               "Paid orders recorded without an email address: no message can be sent",
                               registry=REGISTRY)
_labels: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not OPERATION_NAME.match(name):
        return "invalid"
    if name not in _labels and len(_labels) >= MAX_OPERATION_LABELS:
        return "other"
    _labels.add(name)
    return name


def user_hash(user_id: str | None) -> str | None:
    return hashlib.sha256(user_id.encode()).hexdigest()[:16] if user_id else None


def log_line(kind: str, **fields: Any) -> None:
    """One record whose fields become top-level keys of its JSON line (logs.JsonLines). The
    request id is on every record already (logs.request_id): a field of that name would
    make logging refuse the record."""
    fields.pop("requestId", None)
    access_log.info(kind, extra={"kind": kind, **fields})
