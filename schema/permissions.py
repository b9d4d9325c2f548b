"""Who may resolve a root field: Strawberry permission classes, checked before its resolver.

A permission runs on every resolve of its field, so they sit on root fields (Query,
Mutation) only, never on a field of a list. A non-null field refuses with a top-level
error (extensions.code UNAUTHENTICATED or FORBIDDEN, with the field's own message); a
nullable field that shows the viewer's own data answers null to anyone else. No schema
directives: the exported schema stays the contract's."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from schema.errors import FORBIDDEN, UNAUTHENTICATED


class IsAuthenticated(BasePermission):
    """A signed-in viewer: a valid bearer token (an invalid one never gets this far)."""

    def __init__(self, message: str = "Sign in first.") -> None:
        self.message = message
        self.error_extensions = {"code": UNAUTHENTICATED}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class IsAdmin(BasePermission):
    """A viewer whose token's roles claim contains "admin"."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.is_admin


def signed_in(message: str) -> PermissionExtension:
    """For a non-null field: UNAUTHENTICATED with `message` when nobody is signed in."""
    return PermissionExtension([IsAuthenticated(message)], use_directives=False)


def own_data_or_null() -> PermissionExtension:
    """For a nullable field of the viewer's own data: null when nobody is signed in."""
    return PermissionExtension([IsAuthenticated()], use_directives=False, fail_silently=True)


def admin(unauthenticated: str, forbidden: str) -> PermissionExtension:
    """UNAUTHENTICATED when nobody is signed in, FORBIDDEN for a viewer without the role."""
    return PermissionExtension([IsAuthenticated(unauthenticated), IsAdmin(forbidden)],
                               use_directives=False)
