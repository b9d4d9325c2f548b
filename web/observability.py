"""/metrics: the counters of telemetry/metrics.py in Prometheus' text format.

Log lines carry a request id, the operation, a hash of the user id (never the id,
token, email or card data), the duration, store and Stripe call counts, and the
outcome. /metrics is open in development,
in production only to a bearer token (METRICS_TOKEN), else not at all. Under several
workers (PROMETHEUS_MULTIPROC_DIR set, as `gateway serve --workers N` does), every worker
writes its counts to that directory and /metrics adds them all up."""

from __future__ import annotations

import contextlib
import hmac
import os
import tempfile
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from telemetry.metrics import REGISTRY


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
