"""Schema extensions: refuse requests with bad credentials, and give every error a code.

Errors with a code keep it. Errors GraphQL itself raises (syntax, validation,
variable coercion, operation limits) become BAD_USER_INPUT. Anything else is a bug
or an outage: masked as "Unexpected error." with INTERNAL_SERVER_ERROR and the
request id, and logged in full.
"""

from __future__ import annotations

import logging
from typing import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from schema.errors import BAD_USER_INPUT, INTERNAL_SERVER_ERROR, UNAUTHENTICATED, gateway_error

log = logging.getLogger("gateway.graphql")


class RefuseBadCredentials(SchemaExtension):
    """A request with a bad token fails as a whole: never silently anonymous."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        reason = getattr(context, "auth_error", None)
        if reason is not None:
            self.execution_context.result = GraphQLExecutionResult(
                data=None, errors=[gateway_error(UNAUTHENTICATED, reason)]
            )
        yield


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        result.errors = [self._coded(error, request_id) for error in result.errors]

    def _coded(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        code = (error.extensions or {}).get("code")
        if code is not None:
            return error
        if error.original_error is None:
            return GraphQLError(error.message, nodes=error.nodes, source=error.source,
                                positions=error.positions, path=error.path,
                                extensions={**(error.extensions or {}), "code": BAD_USER_INPUT})
        log.error("unexpected error (request %s) at %s", request_id, error.path,
                  exc_info=error.original_error)
        return GraphQLError("Unexpected error.", nodes=error.nodes, path=error.path,
                            extensions={"code": INTERNAL_SERVER_ERROR, "requestId": request_id})
