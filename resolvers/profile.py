from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from strawberry.types.unset import UnsetType

from commerce.profiles import UNCHANGED, AddressChange, Claims, ProfileChanges, check_changes, profile_for
from commerce.profiles import update_profile as save_profile
from loaders import ProfileKey
from resolvers.refusals import Refused, refusals
from store.records import Profile
from web.context import Context

# commerce's names for what updateProfile changes, as its input spells them
INPUT_NAMES = {"display_name": "displayName", "shipping_address": "shippingAddress",
               "postal_code": "postalCode"}


class AddressFields(Protocol):
    """updateProfile's shippingAddress input."""

    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


async def viewer_profile(context: Context) -> Profile | None:
    """The signed-in shopper's profile (made on first sight); None when anonymous."""
    viewer = context.viewer
    if viewer is None:
        return None
    claims = Claims(viewer.user_id, viewer.email, viewer.email_verified)
    verified = viewer.email if viewer.email_verified and viewer.email else None
    existing, guest_orders = await context.loaders.profile_by_user.load(ProfileKey(viewer.user_id, verified))
    return await profile_for(context.services.store, claims, existing=existing, guest_orders=guest_orders)


async def update_profile(
    context: Context, display_name: str | UnsetType | None, address: AddressFields | UnsetType | None
) -> Profile | Refused:
    """Only the fields given change (UNSET: left out); null clears one."""
    changes = ProfileChanges(
        display_name=UNCHANGED if isinstance(display_name, UnsetType) else display_name,
        shipping_address=UNCHANGED if isinstance(address, UnsetType) else _address_change(address))
    problems = check_changes(changes)
    if problems:
        return refusals(problems, _input_path)
    profile = await viewer_profile(context)
    assert profile is not None  # the schema field requires a viewer
    return await save_profile(context.services.store, profile, changes)


def _address_change(given: AddressFields | None) -> AddressChange | None:
    if given is None:
        return None
    return AddressChange(line1=given.line1, line2=given.line2, city=given.city, state=given.state,
                         postal_code=given.postal_code, country=given.country)


def _input_path(field: tuple[str | int, ...]) -> Sequence[str]:
    return ("input", *(INPUT_NAMES.get(str(part), str(part)) for part in field))
