from __future__ import annotations

from typing import Any

from commerce.errors import Problem
from commerce.profiles import Claims, check_changes, profile_for, update_profile as save_profile
from web.context import Context
from loaders import ProfileKey
from store.records import Address, Profile


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
    context: Context, display_name: Any, address: dict[str, str | None] | None, *, unset: object
) -> Profile | list[Problem]:
    problems = check_changes(display_name, address, unset=unset)
    if problems:
        return problems
    profile = await viewer_profile(context)
    assert profile is not None  # the schema field requires a viewer
    changes: dict[str, object] = {}
    if display_name is not unset:
        changes["display_name"] = display_name.strip() if display_name else None
    if address is not unset:
        changes["shipping_address"] = Address.from_item(address)
    return await save_profile(context.services.store, profile, changes) if changes else profile
