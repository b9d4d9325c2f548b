"""Schema extensions: refuse requests with bad credentials."""

from __future__ import annotations

from typing import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from schema.errors import UNAUTHENTICATED, gateway_error


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


class OperationName(SchemaExtension):
    """Tell the request (for its log line and metrics) which operation it ran."""

    def on_operation(self) -> Iterator[None]:
        yield
        request = getattr(self.execution_context.context, "request", None)
        if request is not None:
            request.state.operation = self.execution_context.operation_name
