"""One JSON log line per request and per webhook event, and Prometheus metrics.

Log lines carry a request id, the operation, a hash of the user id (never the id,
token, email or card data), the duration, store and Stripe call counts, and the
outcome. /metrics serves the counters below in Prometheus' text format: open in development,
in production only to a bearer token (METRICS_TOKEN), else not at all. Under several
workers (PROMETHEUS_MULTIPROC_DIR set, as `gateway serve --workers N` does), every worker
writes its counts to that directory and /metrics adds them all up."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import tempfile
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

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
STRIPE_READS_REFUSED = Counter(
    "gateway_stripe_reads_refused_total",
    "Stripe reads refused by the per-request or per-client budget", registry=REGISTRY)
UNREADABLE_ORDERS = Counter("gateway_unreadable_orders_total",
                            "Order items skipped because they could not be read (logged with their keys)",
                            registry=REGISTRY)
DEAD_LETTERS = Counter("gateway_dead_letters_total", "Webhook events kept as dead letters", registry=REGISTRY)
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


async def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token is None and settings.production:
        return Response("Not Found", status_code=404)  # set METRICS_TOKEN to scrape in production
    if token is not None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response("Unauthorized", status_code=401, headers={"www-authenticate": "Bearer"})
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


@contextlib.contextmanager
def shared_metrics() -> Iterator[None]:
    """For several worker processes: a fresh PROMETHEUS_MULTIPROC_DIR they all write to
    (kept if the operator set one), so /metrics answers for all of them, not one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="gateway-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
