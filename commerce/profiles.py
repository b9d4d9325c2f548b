"""Shopper profiles (USER#{id} / PROFILE): made from the token on first sight, edited
with checked input, and the place guest orders are claimed from once the shopper's
email is verified."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from commerce.countries import ISO_COUNTRIES
from commerce.errors import ErrorCode, Problem
from commerce.orders import apply_owner, find_order, guest_email_of
from store import Store, keys
from store.base import now_epoch, update_versioned

ADDRESS_LIMITS = {"line1": 200, "line2": 200, "city": 100, "state": 100, "postal_code": 20}
POSTAL_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$")


class Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED
"""A profile field the shopper did not send: it keeps its value (None clears it)."""


@dataclass(frozen=True, slots=True)
class AddressChange:
    """A shipping address as the shopper gave it; a part left out is None."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    """What the shopper asked to change: a value, None to clear, or UNCHANGED."""

    display_name: str | Unchanged | None = UNCHANGED
    shipping_address: AddressChange | Unchanged | None = UNCHANGED


@dataclass(frozen=True, slots=True)
class Claims:
    """What the bearer token says about the shopper."""

    user_id: str
    email: str | None
    email_verified: bool


async def profile_for(store: Store, claims: Claims, *, existing: dict | None,
                      guest_orders: int = 0) -> dict[str, Any]:
    """The stored profile, made from the token's claims when there is none yet. Guest
    orders under the verified email are claimed the first time it is seen, and again
    whenever more have been filed since (`guest_orders`, the count kept under the email)."""
    profile = existing
    if profile is None:
        profile = new_profile(claims)
        if not await store.put(profile, if_absent=True):
            profile = await store.get(keys.profile(claims.user_id)) or profile
    if claims.email_verified and claims.email:
        email = _email_key(claims.email)
        claimed = profile.get("guestClaimed", {}).get(email, 0)
        if email not in profile.get("guestClaims", []) or guest_orders > claimed:
            profile = await claim_guest_orders(store, claims, profile, counted=guest_orders)
    return profile


def new_profile(claims: Claims) -> dict[str, Any]:
    key = keys.profile(claims.user_id)
    now = now_epoch()
    return {keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "Profile", "userId": claims.user_id,
            "email": claims.email, "displayName": None, "shippingAddress": None,
            "guestClaims": [], "createdAt": now, "updatedAt": now, keys.VERSION: 1}


async def link_customer(store: Store, claims: Claims, profile: dict[str, Any] | None,
                        customer_id: str) -> dict[str, Any]:
    """Keep the Stripe customer on the profile (made now if there is none yet)."""
    if profile is None:
        made = {**new_profile(claims), keys.CUSTOMER_ID: customer_id}
        if await store.put(made, if_absent=True):
            return made
        profile = await store.get(keys.profile(claims.user_id))
        assert profile is not None
    return await update_versioned(store, profile, lambda p: (
        None if p.get(keys.CUSTOMER_ID) == customer_id else {**p, keys.CUSTOMER_ID: customer_id}))


async def claim_guest_orders(store: Store, claims: Claims, profile: dict[str, Any], *,
                             counted: int = 0) -> dict[str, Any]:
    """Attach orders placed as a guest under the (verified) email to this user: those in
    GUEST#{email}, and those earlier versions filed under USER#{email}. Safe to repeat and
    to interrupt: each order moves with a versioned write, then the profile records that
    this email was claimed."""
    email = _email_key(claims.email or "")
    for partition in (keys.guest_partition(email), keys.legacy_guest_partition(email)):
        cursor = None
        while True:
            page = await store.query(partition, prefix=keys.ORDER_PREFIX, limit=100, cursor=cursor)
            for listing in page.items:
                if not listing.get("guest"):
                    continue  # a user whose id is this email: their own orders stay theirs
                order = await find_order(store, listing["orderId"])
                if order is not None and order.get("guest"):
                    if keys.guest_email(guest_email_of(order)) != email:
                        continue
                    await apply_owner(store, order, claims.user_id)
                await store.delete(keys.key_of(listing))  # moved now, or a stale copy of a moved one
            if page.cursor is None:
                break
            cursor = page.cursor
    # `counted` was read before the scan: an order filed meanwhile raises the count past it,
    # so the next sign-in claims it
    return await update_versioned(store, profile, lambda p: {
        **p, "guestClaims": sorted({*p.get("guestClaims", []), email}),
        "guestClaimed": {**p.get("guestClaimed", {}), email: max(counted, p.get("guestClaimed", {}).get(email, 0))}})


def _email_key(email: str) -> str:
    return keys.guest_email(email)


def check_changes(changes: ProfileChanges) -> list[Problem]:
    """Everything wrong with the changes, each naming its field: ("display_name",) or
    ("shipping_address", "postal_code")."""
    problems: list[Problem] = []
    name = changes.display_name
    if isinstance(name, str):
        problems += _check_text(("display_name",), name, 80)
        if not name.strip():
            problems.append(Problem(("display_name",), ErrorCode.INVALID_INPUT,
                                    "A display name cannot be blank."))
    address = changes.shipping_address
    if isinstance(address, AddressChange):
        for part, limit in ADDRESS_LIMITS.items():
            value = getattr(address, part)
            if value is not None:
                problems += _check_text(("shipping_address", part), value, limit)
        if address.postal_code is not None and not POSTAL_CODE.match(address.postal_code):
            problems.append(Problem(("shipping_address", "postal_code"), ErrorCode.INVALID_INPUT,
                                    "A postal code is letters, digits, spaces and dashes."))
        if address.country is not None and address.country not in ISO_COUNTRIES:
            problems.append(Problem(("shipping_address", "country"), ErrorCode.INVALID_INPUT,
                                    "Use an ISO 3166-1 alpha-2 country code, like US or GB."))
    return problems


def _check_text(field: tuple[str | int, ...], value: str, limit: int) -> list[Problem]:
    if len(value) > limit:
        return [Problem(field, ErrorCode.INVALID_INPUT, f"At most {limit} characters.")]
    if any(not ch.isprintable() for ch in value):
        return [Problem(field, ErrorCode.INVALID_INPUT, "Control characters are not allowed.")]
    return []


async def update_profile(store: Store, profile: dict[str, Any], changes: ProfileChanges) -> dict[str, Any]:
    """Apply already-checked changes in one versioned write (all or nothing); with nothing
    to change, the profile as it is, and no write."""
    attributes = _changed_attributes(changes)
    if not attributes:
        return profile
    return await update_versioned(store, profile, lambda p: {**p, **attributes})


def _changed_attributes(changes: ProfileChanges) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if not isinstance(changes.display_name, Unchanged):
        attributes["displayName"] = changes.display_name.strip() if changes.display_name else None
    if not isinstance(changes.shipping_address, Unchanged):
        address = changes.shipping_address
        attributes["shippingAddress"] = None if address is None else {
            "line1": address.line1, "line2": address.line2, "city": address.city, "state": address.state,
            "postalCode": address.postal_code, "country": address.country}
    return attributes
