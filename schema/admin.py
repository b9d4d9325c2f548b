"""GraphQL types for admin operations."""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter

import strawberry

from schema.types import UserError


@strawberry.input
class SyncOrdersInput:
    since: datetime | None = strawberry.field(
        default=None,
        description="Reconcile sessions created at or after this instant; default: the last checkpoint.")


@strawberry.type(description="What a reconciliation run found and repaired.")
class SyncOrdersPayload:
    scanned: int = 0
    created: int = 0
    updated: int = 0
    ignored: int = strawberry.field(default=0, description="Sessions this gateway did not create.")
    events: int = strawberry.field(default=0, description="Undelivered Stripe events processed.")
    user_errors: list[UserError]
    unreadable: int = strawberry.field(
        default=0, description="Stored orders that could not be read: skipped, and logged with their keys.")


# The payload's counts, each read from the sync report's attribute of the same name.
REPORT_COUNTS = {name: attrgetter(name)
                 for name in ("scanned", "created", "updated", "ignored", "events", "unreadable")}
