"""The GraphQL schema: roots, thin fields that delegate to resolvers/."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import DocumentNode, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.types import ExecutionContext, Info

import resolvers.admin as admin_resolvers
import resolvers.catalog as catalog_resolvers
import resolvers.checkout as checkout_resolvers
import resolvers.limits as limits
import resolvers.orders as order_resolvers
import resolvers.profile as profile_resolvers
import resolvers.quotes as quote_resolvers
from commerce.errors import ErrorCode
from commerce.quotes import QuoteRejected
from schema.admin import REPORT_COUNTS, SyncOrdersInput, SyncOrdersPayload
from schema.catalog import Product
from schema.checkout import CheckoutSession, CreateCheckoutSessionInput, CreateCheckoutSessionPayload
from schema.errors import BAD_USER_INPUT, gateway_error
from schema.extensions import GatewayParserCache, gateway_extension, trusted_validator
from schema.operation_limits import Limits
from schema.orders import Order
from schema.permissions import admin, own_data_or_null, signed_in
from schema.profile import Profile, UpdateProfileInput, UpdateProfilePayload
from schema.quotes import CreateCartQuoteInput, CreateCartQuotePayload, Quote
from schema.types import payload


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

    @strawberry.field(description=(
        "A checkout session this gateway made, as Stripe has it now (for the success page); "
        "null for unknown ids. Carries no personal data."
    ))
    async def checkout_session(self, info: Info, id: strawberry.ID) -> CheckoutSession | None:
        if not checkout_resolvers.valid_session_id(id):
            raise gateway_error(BAD_USER_INPUT, "This is not a checkout session id.")
        view = await checkout_resolvers.checkout_session(info.context, id)
        return CheckoutSession.of(view) if view else None

    @strawberry.field(description="The signed-in user; null without a valid bearer token.",
                      extensions=[own_data_or_null()])
    async def viewer(self, info: Info) -> Profile | None:
        profile = await profile_resolvers.viewer_profile(info.context)
        return Profile.from_record(profile) if profile else None

    @strawberry.field(description=(
        "One of the viewer's own orders; another user's order is indistinguishable from a "
        "missing one."
    ), extensions=[own_data_or_null()])
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        found = await order_resolvers.order(info.context, id)
        return Order.from_record(found) if found else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description=(
        "Price a cart on the server and sign it. Bad carts come back as userErrors, "
        "with nothing stored."
    ))
    async def create_cart_quote(self, info: Info, input: CreateCartQuoteInput) -> CreateCartQuotePayload:
        await limits.enforce(info.context, "quote")
        result = await quote_resolvers.create_cart_quote(info.context, input.items)
        return payload(CreateCartQuotePayload, result, quote=Quote.of)

    @strawberry.mutation(description=(
        "Turn a quote into a Stripe Checkout Session that charges exactly the quote. The same "
        "quote again returns the same open session. Signed-in users pay as their Stripe customer."
    ))
    async def create_checkout_session(
        self, info: Info, input: CreateCheckoutSessionInput
    ) -> CreateCheckoutSessionPayload:
        await limits.enforce(info.context, "checkout")
        result = await checkout_resolvers.create_checkout_session(
            info.context, input.quote_signature, input.email)
        return payload(CreateCheckoutSessionPayload, result, checkout_session=CheckoutSession.of)

    @strawberry.mutation(description="Change the signed-in shopper's profile; all or nothing.",
                         extensions=[signed_in("Sign in to change your profile.")])
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        result = await profile_resolvers.update_profile(
            info.context, input.display_name, input.shipping_address)
        return payload(UpdateProfilePayload, result, profile=Profile.from_record)

    @strawberry.mutation(description="Admin only (JWT claim roles contains \"admin\").",
                         extensions=[admin("Sign in as an admin to reconcile orders.",
                                           "Reconciling orders needs the admin role.")])
    async def sync_orders(self, info: Info, input: SyncOrdersInput | None = strawberry.UNSET) -> SyncOrdersPayload:
        result = await admin_resolvers.run_sync(info.context, input)
        return payload(SyncOrdersPayload, result, **REPORT_COUNTS)


class GatewaySchema(strawberry.Schema):
    # Validates a trusted document once, at start, as a request would (see build_schema).
    validate_trusted: Callable[[DocumentNode], list[GraphQLError]]

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        """schema.errors.coded logs what needs logging; client mistakes are not server errors."""


def build_schema(*, max_depth: int = 10, max_aliases: int = 15, max_tokens: int = 2000,
                 max_cost: int = 5000, introspection: bool = True,
                 suggestions: bool = True) -> GatewaySchema:
    """The schema with its operation limits (checked before execution).

    The limits (schema/operation_limits.py: depth, aliases, cost, selection width) are checked in
    one pass linear in the document, before GraphQL's own rules, and validation is
    cached across requests by document, limits and rules (schema/extensions.py): the
    rules are built once, here, so the cache's key is the same from request to request.
    Without `suggestions`, no message says "Did you mean ...". """
    rules = () if introspection else (NoSchemaIntrospectionCustomRule,)
    limits = Limits(max_depth=max_depth, max_aliases=max_aliases, max_cost=max_cost)

    built = GatewaySchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            gateway_extension(max_tokens, limits, rules, hide_suggestions=not suggestions),
            lambda: GatewayParserCache(maxsize=256),
        ],
    )
    built.validate_trusted = trusted_validator(built._schema, limits, rules, hide_suggestions=not suggestions)
    return built


def __getattr__(name: str) -> GatewaySchema:
    """`schema.schema`, the default schema (export-schema, tests), built when first asked
    for: the app builds its own from settings, so importing the package builds none."""
    if name != "schema":
        raise AttributeError(name)
    globals()["schema"] = built = build_schema()
    return built
