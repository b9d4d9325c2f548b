"""The GraphQL schema: roots, thin fields that delegate to resolvers/."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache,
)
from strawberry.types import ExecutionContext, Info

from commerce.errors import ErrorCode
from commerce.pricing import CartLine
from commerce.quotes import QuoteRejected
import resolvers.catalog as catalog_resolvers
import resolvers.quotes as quote_resolvers
from schema.catalog import Product
from schema.errors import BAD_USER_INPUT, gateway_error
from schema.extensions import RefuseBadCredentials
from schema.quotes import CreateCartQuoteInput, CreateCartQuotePayload, Quote
from schema.types import user_errors


@strawberry.type
class Query:
    @strawberry.field(description="Everything in the catalog, retired products included (active: false).")
    def products(self, info: Info) -> list[Product]:
        return [Product.of(p) for p in catalog_resolvers.products(info.context)]

    @strawberry.field(description=(
        "A quote by its signature; null when unknown. Expired quotes are returned "
        "(check expiresAt) for a day after they expire."
    ))
    async def quote(self, info: Info, signature: strawberry.ID) -> Quote | None:
        found = await quote_resolvers.quote(info.context, signature)
        if isinstance(found, QuoteRejected):
            if found.code is ErrorCode.QUOTE_INVALID:
                raise gateway_error(BAD_USER_INPUT, found.message, reason=found.code.value)
            return None
        return Quote.of(found)


@strawberry.type
class Mutation:
    @strawberry.mutation(description=(
        "Price a cart on the server and sign it. Bad carts come back as userErrors, "
        "with nothing stored."
    ))
    async def create_cart_quote(self, info: Info, input: CreateCartQuoteInput) -> CreateCartQuotePayload:
        lines = [CartLine(item.sku, item.quantity) for item in input.items]
        result = await quote_resolvers.create_cart_quote(info.context, lines)
        if isinstance(result, list):
            return CreateCartQuotePayload(quote=None, user_errors=user_errors(result))
        return CreateCartQuotePayload(quote=Quote.of(result), user_errors=[])


class GatewaySchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        """schema.errors.coded logs what needs logging; client mistakes are not server errors."""


schema = GatewaySchema(
    query=Query,
    mutation=Mutation,
    extensions=[
        RefuseBadCredentials,
        lambda: QueryDepthLimiter(max_depth=10),
        lambda: MaxAliasesLimiter(max_alias_count=15),
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ],
)
