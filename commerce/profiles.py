"""Shopper profiles (USER#{id} / PROFILE): made from the token on first sight, edited
with checked input, and the place guest orders are claimed from once the shopper's
email is verified."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

from commerce.countries import ISO_COUNTRIES
from commerce.errors import ErrorCode, Problem
from commerce.orders import apply_owner, find_order
from store import Store, keys
from store.base import now_epoch
from store.records import Address, Profile, Unreadable, get_record, put_record, readable, unreadable, update_record

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


async def profile_for(store: Store, claims: Claims, *, existing: Profile | None,
                      guest_orders: int = 0) -> Profile:
    """The stored profile, made from the token's claims when there is none yet. Guest
    orders under the verified email are claimed the first time it is seen, and again
    whenever more have been filed since (`guest_orders`, the count kept under the email)."""
    profile = existing
    if profile is None:
        profile = new_profile(claims)
        if not await put_record(store, profile, if_absent=True):
            profile = await get_record(store, Profile, profile.key) or profile
    if claims.email_verified and claims.email:
        email = _email_key(claims.email)
        claimed = profile.guest_claimed.get(email, 0)
        if email not in profile.guest_claims or guest_orders > claimed:
            profile = await claim_guest_orders(store, claims, profile, counted=guest_orders)
    return profile


def new_profile(claims: Claims) -> Profile:
    now = now_epoch()
    return Profile(user_id=claims.user_id, email=claims.email, display_name=None, shipping_address=None,
                   guest_claims=(), guest_claimed={}, created_at=now, updated_at=now, version=1)


async def link_customer(store: Store, claims: Claims, profile: Profile | None, customer_id: str) -> Profile:
    """Keep the Stripe customer on the profile (made now if there is none yet)."""
    if profile is None:
        made = replace(new_profile(claims), customer_id=customer_id)
        if await put_record(store, made, if_absent=True):
            return made
        profile = await get_record(store, Profile, made.key)
        assert profile is not None
    return await update_record(store, profile, lambda p: (
        None if p.customer_id == customer_id else replace(p, customer_id=customer_id)))


async def claim_guest_orders(store: Store, claims: Claims, profile: Profile, *, counted: int = 0) -> Profile:
    """Attach orders placed as a guest under the (verified) email to this user: those in
    GUEST#{email}, and those earlier versions filed under USER#{email}. Safe to repeat and
    to interrupt: each order moves with a versioned write, then the profile records that
    this email was claimed."""
    email = _email_key(claims.email or "")
    for partition in (keys.guest_partition(email), keys.legacy_guest_partition(email)):
        cursor = None
        while True:
            page = await store.query(partition, prefix=keys.ORDER_PREFIX, limit=100, cursor=cursor)
            for item in page.items:
                listing = readable(item)  # an item that cannot be read is logged and stays
                if listing is None or not listing.guest:
                    continue  # a user whose id is this email: their own orders stay theirs
                try:
                    order = await find_order(store, listing.order_id)
                except Unreadable as why:  # logged; the listing stays for a person to look at
                    unreadable(item, str(why))
                    continue
                if order is not None and order.guest:
                    if keys.guest_email(order.filed_email) != email:
                        continue
                    await apply_owner(store, order, claims.user_id)
                await store.delete(keys.key_of(item))  # moved now, or a stale copy of a moved one
            if page.cursor is None:
                break
            cursor = page.cursor
    # `counted` was read before the scan: an order filed meanwhile raises the count past it,
    # so the next sign-in claims it
    return await update_record(store, profile, lambda p: replace(
        p, guest_claims=tuple(sorted({*p.guest_claims, email})),
        guest_claimed={**p.guest_claimed, email: max(counted, p.guest_claimed.get(email, 0))}))


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


async def update_profile(store: Store, profile: Profile, changes: ProfileChanges) -> Profile:
    """Apply already-checked changes in one versioned write (all or nothing); with nothing
    to change, the profile as it is, and no write."""
    name, address = changes.display_name, changes.shipping_address
    if isinstance(name, Unchanged) and isinstance(address, Unchanged):
        return profile

    def change(p: Profile) -> Profile:
        return replace(
            p, display_name=p.display_name if isinstance(name, Unchanged) else (name.strip() if name else None),
            shipping_address=p.shipping_address if isinstance(address, Unchanged) else _address(address))

    return await update_record(store, profile, change)


def _address(change: AddressChange | None) -> Address | None:
    if change is None:
        return None
    return Address(change.line1, change.line2, change.city, change.state, change.postal_code, change.country)
