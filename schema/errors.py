"""Top-level GraphQL errors and their `extensions.code` (the contract's list).

Every error a client sees has a code. Errors with a code keep it. Errors GraphQL
itself raises (syntax, validation, variable coercion, operation limits) are
BAD_USER_INPUT. Anything else is a bug or an outage: masked as "Unexpected error."
with INTERNAL_SERVER_ERROR and the request id, and logged in full.
"""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError

from payments import PaymentsRefused, PaymentsUnavailable
from store import StoreError
from web.ratelimit import Limited

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
RATE_LIMITED = "RATE_LIMITED"
PAYMENT_PROVIDER_UNAVAILABLE = "PAYMENT_PROVIDER_UNAVAILABLE"
PAYMENT_PROVIDER_REFUSED = "PAYMENT_PROVIDER_REFUSED"  # Stripe refused what we sent: the log has why
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # the store: retry, as for PAYMENT_PROVIDER_UNAVAILABLE

log = logging.getLogger("gateway.graphql")


def gateway_error(code: str, message: str, **extensions: object) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


# Exceptions that are outages, not bugs: the client is told what happened and may retry.
EXPECTED: dict[type, tuple[str, str]] = {
    PaymentsUnavailable: (PAYMENT_PROVIDER_UNAVAILABLE,
                          "The payment provider is not answering; try again in a moment."),
    PaymentsRefused: (PAYMENT_PROVIDER_REFUSED,
                      "The payment provider refused this checkout; the shop has been told (see its log)."),
}


# graphql-core's suggestions: " Did you mean 'a'?", "... 'a' or 'b'?", "... the enum value 'A'?",
# at the end of a message or inside one (variable errors go on with "Found: ..."). Names
# never hold a quote or a question mark, so the sentence ends at the first ? outside quotes.
SUGGESTION = re.compile(r" ?Did you mean (?:[^?']|'[^']*')*\?")


def coded(error: GraphQLError, request_id: str | None, *, hide_suggestions: bool = False) -> GraphQLError:
    """The error as the client sees it: a code, and the request's id, so a report can be
    matched with the log lines."""
    error = _coded(error, request_id, hide_suggestions=hide_suggestions)
    if request_id is not None and (error.extensions or {}).get("requestId") is None:
        error.extensions = {**(error.extensions or {}), "requestId": request_id}
    return error


def _coded(error: GraphQLError, request_id: str | None, *, hide_suggestions: bool) -> GraphQLError:
    if (error.extensions or {}).get("code") is not None:
        return error
    if isinstance(error.original_error, Limited):
        return GraphQLError("Too many requests; try again later.", nodes=error.nodes, path=error.path,
                            extensions={"code": RATE_LIMITED, "retryAfter": error.original_error.retry_after})
    if isinstance(error.original_error, StoreError):
        log.error("store unavailable (request %s) at %s: %s", request_id, error.path, error.original_error)
        return GraphQLError("The store is not answering; try again in a moment.", nodes=error.nodes,
                            path=error.path, extensions={"code": SERVICE_UNAVAILABLE, "requestId": request_id})
    expected = EXPECTED.get(type(error.original_error))
    if expected is not None:
        code, message = expected
        log.warning("%s (request %s) at %s: %s", code, request_id, error.path, error.original_error)
        return GraphQLError(message, nodes=error.nodes, path=error.path,
                            extensions={"code": code, "requestId": request_id})
    if error.original_error is None or isinstance(error.original_error, GraphQLError):
        message = SUGGESTION.sub("", error.message) if hide_suggestions else error.message
        return GraphQLError(message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path,
                            extensions={**(error.extensions or {}), "code": BAD_USER_INPUT})
    log.error("unexpected error (request %s) at %s", request_id, error.path,
              exc_info=error.original_error)
    return GraphQLError("Unexpected error.", nodes=error.nodes, path=error.path,
                        extensions={"code": INTERNAL_SERVER_ERROR, "requestId": request_id})
