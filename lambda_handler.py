"""AWS Lambda entry point: the same Starlette app (GraphQL, the Stripe webhook, health)
behind API Gateway, through Mangum. Configuration is read once per cold start; the
store, catalog and Stripe client open on the first request and serve every later
invocation of the warm container."""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from telemetry.logs import configure_lambda_logging

configure_lambda_logging()  # before anything logs: JSON lines at LOG_LEVEL, not the runtime's WARNING

from server import create_app  # noqa: E402

app = create_app(lazy=True)
_handler = Mangum(app, lifespan="off")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handler(event, context)


def scheduled_sync_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The schedule's entry point (deploy/template.yaml): one reconciliation run."""
    from cli import scheduled_sync

    return scheduled_sync()


def scheduled_emails_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The email schedule's entry point (deploy/template.yaml): one drain of the outbox."""
    from cli import scheduled_emails

    return scheduled_emails()


def scheduled_stock_sweep_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The stock sweep's schedule (deploy/template.yaml: StockSweepFunction)."""
    from cli import scheduled_stock_sweep

    return scheduled_stock_sweep()
