"""The GraphQL schema: roots, thin fields that delegate to resolvers/."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import ParserCache
from strawberry.types import ExecutionContext, Info

from commerce.errors import ErrorCode
from commerce.pricing import CartLine
from commerce.quotes import QuoteRejected
import resolvers.admin as admin_resolvers
import resolvers.catalog as catalog_resolvers
import resolvers.checkout as checkout_resolvers
import resolvers.limits as limits
import resolvers.orders as order_resolvers
import resolvers.profile as profile_resolvers
import resolvers.quotes as quote_resolvers
from schema.admin import SyncOrdersInput, SyncOrdersPayload
from schema.catalog import Product
from schema.checkout import CheckoutSession, CreateCheckoutSessionInput, CreateCheckoutSessionPayload
from schema.errors import BAD_USER_INPUT, FORBIDDEN, UNAUTHENTICATED, gateway_error
from schema.orders import Order
from schema.profile import Profile, UpdateProfileInput, UpdateProfilePayload
from schema.extensions import gateway_extension
from schema.operation_limits import Limits
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

    @strawberry.field(description=(
        "A checkout session this gateway made, as Stripe has it now (for the success page); "
        "null for unknown ids. Carries no personal data."
    ))
    async def checkout_session(self, info: Info, id: strawberry.ID) -> CheckoutSession | None:
        if not checkout_resolvers.valid_session_id(id):
            raise gateway_error(BAD_USER_INPUT, "This is not a checkout session id.")
        view = await checkout_resolvers.checkout_session(info.context, id)
        return CheckoutSession.of(view) if view else None

    @strawberry.field(description="The signed-in user; null without a valid bearer token.")
    async def viewer(self, info: Info) -> Profile | None:
        profile = await profile_resolvers.viewer_profile(info.context)
        return Profile.from_record(profile) if profile else None

    @strawberry.field(description=(
        "One of the viewer's own orders; another user's order is indistinguishable from a "
        "missing one."
    ))
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
        lines = [CartLine(item.sku, item.quantity) for item in input.items]
        result = await quote_resolvers.create_cart_quote(info.context, lines)
        if isinstance(result, list):
            return CreateCartQuotePayload(quote=None, user_errors=user_errors(result))
        return CreateCartQuotePayload(quote=Quote.of(result), user_errors=[])

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
        if isinstance(result, list):
            return CreateCheckoutSessionPayload(checkout_session=None, user_errors=user_errors(result))
        return CreateCheckoutSessionPayload(checkout_session=CheckoutSession.of(result), user_errors=[])

    @strawberry.mutation(description="Change the signed-in shopper's profile; all or nothing.")
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        if info.context.viewer is None:
            raise gateway_error(UNAUTHENTICATED, "Sign in to change your profile.")
        address = input.shipping_address
        if address is not strawberry.UNSET and address is not None:
            address = address.as_item()
        result = await profile_resolvers.update_profile(
            info.context, input.display_name, address, unset=strawberry.UNSET)
        if isinstance(result, list):
            return UpdateProfilePayload(profile=None, user_errors=user_errors(result))
        return UpdateProfilePayload(profile=Profile.from_record(result), user_errors=[])

    @strawberry.mutation(description="Admin only (JWT claim roles contains \"admin\").")
    async def sync_orders(self, info: Info, input: SyncOrdersInput | None = strawberry.UNSET) -> SyncOrdersPayload:
        viewer = info.context.viewer
        if viewer is None:
            raise gateway_error(UNAUTHENTICATED, "Sign in as an admin to reconcile orders.")
        if not viewer.is_admin:
            raise gateway_error(FORBIDDEN, "Reconciling orders needs the admin role.")
        since = input.since if input else None  # UNSET and null both mean "no input"
        result = await admin_resolvers.run_sync(info.context, since)
        if isinstance(result, list):
            return SyncOrdersPayload(scanned=0, created=0, updated=0, ignored=0, events=0,
                                     user_errors=user_errors(result))
        return SyncOrdersPayload(scanned=result.scanned, created=result.created, updated=result.updated,
                                 ignored=result.ignored, events=result.events, user_errors=[],
                                 unreadable=result.unreadable)


class GatewaySchema(strawberry.Schema):
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

    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            gateway_extension(max_tokens, limits, rules, hide_suggestions=not suggestions),
            lambda: ParserCache(maxsize=256),
        ],
    )


schema = build_schema()
