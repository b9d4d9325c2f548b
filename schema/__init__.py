"""The GraphQL schema: roots, thin fields that delegate to resolvers/."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import DocumentNode, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.types import ExecutionContext, Info

import resolvers.admin as admin_resolvers
import resolvers.admin_orders as admin_order_resolvers
import resolvers.catalog as catalog_resolvers
import resolvers.checkout as checkout_resolvers
import resolvers.fulfillment as fulfillment_resolvers
import resolvers.limits as limits
import resolvers.orders as order_resolvers
import resolvers.profile as profile_resolvers
import resolvers.quotes as quote_resolvers
import resolvers.stock as stock_resolvers
from commerce.errors import ErrorCode
from commerce.quotes import QuoteRejected
from schema.admin import REPORT_COUNTS, SyncOrdersInput, SyncOrdersPayload
from schema.admin_orders import AdminOrderConnection, AdminOrderEdge, AdminOrdersFilter
from schema.catalog import Product
from schema.checkout import CheckoutSession, CreateCheckoutSessionInput, CreateCheckoutSessionPayload
from schema.errors import BAD_USER_INPUT, gateway_error
from schema.extensions import GatewayParserCache, gateway_extension, trusted_validator
from schema.fulfillment import CancelOrderInput, FulfillOrderInput, MarkDeliveredInput, Refund, RefundOrderInput
from schema.operation_limits import Limits
from schema.order_changes import CancelOrderPayload, FulfillOrderPayload, MarkDeliveredPayload, RefundOrderPayload
from schema.orders import Order
from schema.permissions import admin, own_data_or_null, signed_in
from schema.profile import Profile, UpdateProfileInput, UpdateProfilePayload
from schema.quotes import CreateCartQuoteInput, CreateCartQuotePayload, Quote
from schema.stock import AdminProduct, SetStockInput, SetStockPayload
from schema.types import PageInfo, payload
from store import records

ADMIN_ORDERS = admin("Sign in as an admin to see the shop's orders.", "The shop's orders need the admin role.")


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

    @strawberry.field(description="Admin only: every product with its stock counts (one store read).",
                      extensions=[admin("Sign in as an admin to see stock.", "Stock needs the admin role.")])
    async def admin_products(self, info: Info) -> list[AdminProduct]:
        return [AdminProduct.of(view) for view in await stock_resolvers.admin_products(info.context)]

    @strawberry.field(description=(
        "Every order (signed-in and guest), newest first. Admin only (JWT roles contains "
        "\"admin\"); first is 1 to 100."), extensions=[ADMIN_ORDERS])
    async def admin_orders(self, info: Info, filter: AdminOrdersFilter | None = None, first: int | None = 20,
                           after: str | None = None) -> AdminOrderConnection:
        try:
            wanted = filter.parsed() if filter else admin_order_resolvers.OrderFilter()
            listing, cursors = await admin_order_resolvers.admin_orders(
                info.context, wanted, 20 if first is None else first, after)
        except admin_order_resolvers.BadInput as exc:
            raise gateway_error(BAD_USER_INPUT, str(exc)) from None
        edges = [AdminOrderEdge(cursor=c, node=Order.from_record(o, staff=True))
                 for o, c in zip(listing.orders, cursors, strict=True)]
        return AdminOrderConnection(edges=edges, filter=wanted, page_info=PageInfo(
            has_next_page=listing.has_next_page, end_cursor=listing.end))

    @strawberry.field(description="Any order by id, with everything stored on it. Admin only.",
                      extensions=[ADMIN_ORDERS])
    async def admin_order(self, info: Info, id: strawberry.ID) -> Order | None:
        found = await admin_order_resolvers.admin_order(info.context, id)
        return Order.from_record(found, staff=True) if found else None

    @strawberry.field(description=(
        "A guest's order, for the order number and email of its confirmation; null when "
        "either does not match (the same answer for both). Rate limited per client IP. "
        "Without the shipping address."))
    async def guest_order(self, info: Info, order_number: str, email: str) -> Order | None:
        try:
            found = await admin_order_resolvers.guest_order(info.context, order_number, email)
        except admin_order_resolvers.BadInput as exc:
            raise gateway_error(BAD_USER_INPUT, str(exc)) from None
        return Order.from_record(found, personal=False) if found else None


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

    # ---- the shop's side of an order (admin only) ----------------------------------

    @strawberry.mutation(description=(
        "Admin only. Ship a paid order (PAID or PARTIALLY_REFUNDED) with its tracking. Again while "
        "SHIPPED: corrects the carrier and tracking. Refunded, disputed, unpaid or delivered orders "
        "are refused with userErrors."),
        extensions=[admin("Sign in as an admin to ship orders.", "Shipping orders needs the admin role.")])
    async def fulfill_order(self, info: Info, input: FulfillOrderInput) -> FulfillOrderPayload:
        result = await fulfillment_resolvers.fulfill_order(
            info.context, input.order_id, input.carrier, input.tracking_number, input.tracking_url)
        return payload(FulfillOrderPayload, result, order=_staff_order)

    @strawberry.mutation(description="Admin only. A shipped order delivered (again: no change).",
                         extensions=[admin("Sign in as an admin to mark orders delivered.",
                                           "Marking orders delivered needs the admin role.")])
    async def mark_delivered(self, info: Info, input: MarkDeliveredInput) -> MarkDeliveredPayload:
        result = await fulfillment_resolvers.mark_delivered(info.context, input.order_id)
        return payload(MarkDeliveredPayload, result, order=_staff_order)

    @strawberry.mutation(description=(
        "Admin only. Refund part or all of what is left (total - refunded - charged back) through "
        "Stripe; the order shows the refund at once. A double click refunds once (see idempotencyKey)."),
        extensions=[admin("Sign in as an admin to refund orders.", "Refunding orders needs the admin role.")])
    async def refund_order(self, info: Info, input: RefundOrderInput) -> RefundOrderPayload:
        result = await fulfillment_resolvers.refund_order(
            info.context, input.order_id, input.amount, input.reason.value if input.reason else None,
            input.idempotency_key)
        return payload(RefundOrderPayload, result, order=lambda r: _staff_order(r.order),
                       refund=lambda r: Refund.of(r.refund, r.order.currency) if r.refund else None)

    @strawberry.mutation(description=(
        "Admin only. Cancel an order that has not shipped: fulfillment CANCELLED and what is left "
        "refunded in full (the status follows the refund: REFUNDED). A shipped order is refused."),
        extensions=[admin("Sign in as an admin to cancel orders.", "Cancelling orders needs the admin role.")])
    async def cancel_order(self, info: Info, input: CancelOrderInput) -> CancelOrderPayload:
        result = await fulfillment_resolvers.cancel_order(
            info.context, input.order_id, input.reason.value if input.reason else None)
        return payload(CancelOrderPayload, result, order=lambda r: _staff_order(r.order),
                       refund=lambda r: Refund.of(r.refund, r.order.currency) if r.refund else None)


    @strawberry.mutation(description=(
        "Admin only: set how many of a counted piece are on hand. Open checkouts keep what they hold."),
                         extensions=[admin("Sign in as an admin to set stock.", "Setting stock needs the admin role.")])
    async def set_stock(self, info: Info, input: SetStockInput) -> SetStockPayload:
        result = await stock_resolvers.set_stock_of(info.context, input.sku, input.on_hand)
        return payload(SetStockPayload, result, product=AdminProduct.of)


def _staff_order(order: records.Order) -> Order:
    return Order.from_record(order, staff=True)


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
