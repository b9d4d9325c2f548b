"""Schema extensions: refuse requests with bad credentials, name the operation for the
request's log line, and the operation limits (one extension: each one costs every request)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, specified_rules, validate
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation.rules import overlapping_fields_can_be_merged
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from schema.errors import UNAUTHENTICATED, gateway_error
from schema.operation_limits import Limits, check_limits

# graphql-core's field-merging rule stops after this much work (its default, 500,000, is
# about a second of CPU; 5,000 is a few milliseconds). Our limits (schema/operation_limits.py)
# keep ordinary documents far below it (colocated fragments selecting one field three
# times spend about 100); this is the backstop for shapes they let through (twin trees).
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = 5_000
TOO_COMPLEX = "This document is too complex to validate; ask for fewer fields or fragments."


class Document:
    """A parsed document as a cache key: equal when its text is. (A DocumentNode hashes and
    compares by recursing through its tree: two texts of one deeply nested shape, say with
    different comments, overflowed the stack in the cache's comparison.)"""

    __slots__ = ("node", "text")

    def __init__(self, text: str, node: DocumentNode) -> None:
        self.text, self.node = text, node

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Document) and other.text == self.text


@lru_cache(maxsize=256)
def validate_document(schema: GraphQLSchema, document: Document, limits: Limits,
                      rules: tuple[type[ASTValidationRule], ...], hide_suggestions: bool) -> list[GraphQLError]:
    """The gateway's validation, cached across requests (keyed by the document's text, the
    limits and the rules): first the operation limits, in one linear pass, and only for a
    document within them GraphQL's own rules (some of which are quadratic)."""
    return _validate(schema, document.node, limits, rules, hide_suggestions)


def _validate(schema: GraphQLSchema, document: DocumentNode, limits: Limits,
              rules: tuple[type[ASTValidationRule], ...], hide_suggestions: bool) -> list[GraphQLError]:
    refused = check_limits(document, limits)
    if refused:
        return refused
    errors = validate(schema, document, (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
                      hide_suggestions=hide_suggestions)
    return [GraphQLError(TOO_COMPLEX) if isinstance(e, ValidationAbortedError) else e for e in errors]


def trusted_document_of(context: object) -> DocumentNode | None:
    """The parsed document of a request by trusted id (web/trusted.py), if this is one."""
    trusted = getattr(context, "trusted", None)
    return None if trusted is None else trusted.document


class GatewayParserCache(ParserCache):
    """Strawberry's parser cache, except that a trusted document (parsed once, at start)
    is not looked up at all."""

    def on_parse(self) -> Iterator[None]:
        document = trusted_document_of(self.execution_context.context)
        if document is None:
            yield from super().on_parse()
            return
        self.execution_context.graphql_document = document
        yield


def trusted_validator(schema: GraphQLSchema, limits: Limits, rules: Sequence[type[ASTValidationRule]], *,
                      hide_suggestions: bool = False) -> Callable[[DocumentNode], list[GraphQLError]]:
    """What validating a document finds on this schema, exactly as a request's validation
    would (the limits, then the rules): run once per trusted document, at start."""
    arguments = (limits, tuple(specified_rules) + tuple(rules), hide_suggestions)
    return lambda document: _validate(schema, document, *arguments)


def gateway_extension(max_tokens: int, limits: Limits, rules: Sequence[type[ASTValidationRule]], *,
                      hide_suggestions: bool = False) -> type[SchemaExtension]:
    """The gateway's per-request extension, with limits built once (see build_schema)."""
    added = tuple(rules)

    class GatewayExtension(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.parse_options["max_tokens"] = max_tokens
            yield
            # Tell the request (for its log line and metrics) which operation it ran.
            request = getattr(context.context, "request", None)
            if request is not None:
                request.state.operation = context.operation_name

        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if document is None:  # Strawberry validates only a parsed document
                yield
                return
            prepared = getattr(getattr(context.context, "trusted", None), "errors", None)
            if prepared is not None:  # a trusted document, validated once at start
                context.pre_execution_errors = list(prepared)
                yield
                return
            arguments = (limits, tuple(context.validation_rules) + added, hide_suggestions)
            # Setting the errors (even none) tells Strawberry validation is done.
            if context.query is None:  # a document given parsed: nothing to key a cache by
                context.pre_execution_errors = _validate(
                    context.schema._schema, document, *arguments)
            else:
                context.pre_execution_errors = validate_document(
                    context.schema._schema, Document(context.query, document), *arguments)
            yield

        def on_execute(self) -> Iterator[None]:
            # A request with a bad token fails as a whole: never silently anonymous.
            reason = getattr(self.execution_context.context, "auth_error", None)
            if reason is not None:
                self.execution_context.result = GraphQLExecutionResult(
                    data=None, errors=[gateway_error(UNAUTHENTICATED, reason)])
            yield

    return GatewayExtension
