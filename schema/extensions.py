"""Schema extensions: refuse requests with bad credentials, name the operation for the
request's log line, and the operation limits (one extension: each one costs every request)."""

from __future__ import annotations

from typing import Iterator, Sequence

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import ASTValidationRule
from strawberry.extensions import SchemaExtension

from schema.errors import UNAUTHENTICATED, gateway_error


def gateway_extension(max_tokens: int, rules: Sequence[type[ASTValidationRule]]) -> type[SchemaExtension]:
    """The gateway's per-request extension, with limits built once (see build_schema)."""
    added = tuple(rules)

    class GatewayExtension(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.parse_options["max_tokens"] = max_tokens
            context.validation_rules = context.validation_rules + added
            yield
            # Tell the request (for its log line and metrics) which operation it ran.
            request = getattr(context.context, "request", None)
            if request is not None:
                request.state.operation = context.operation_name

        def on_execute(self) -> Iterator[None]:
            # A request with a bad token fails as a whole: never silently anonymous.
            reason = getattr(self.execution_context.context, "auth_error", None)
            if reason is not None:
                self.execution_context.result = GraphQLExecutionResult(
                    data=None, errors=[gateway_error(UNAUTHENTICATED, reason)])
            yield

    return GatewayExtension
