"""GraphQL types for admin operations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.types import UserError


@strawberry.input
class SyncOrdersInput:
    since: datetime | None = strawberry.field(
        default=None,
        description="Reconcile sessions created at or after this instant; default: the last checkpoint.")


@strawberry.type(description="What a reconciliation run found and repaired.")
class SyncOrdersPayload:
    scanned: int
    created: int
    updated: int
    ignored: int = strawberry.field(description="Sessions this gateway did not create.")
    events: int = strawberry.field(description="Undelivered Stripe events processed.")
    user_errors: list[UserError]
    unreadable: int = strawberry.field(
        default=0, description="Stored orders that could not be read: skipped, and logged with their keys.")
