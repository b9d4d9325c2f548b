"""Shopper profiles (USER#{id} / PROFILE) and the count of guest orders filed under an
email (GUEST#{email} / UNCLAIMED).

Profiles of the replaced system carry what it wrote (displayName, email,
stripeCustomerId, shippingAddress, …): what is not ours is kept (`extra`) and written back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from store import keys

ENTITY = "Profile"
GUEST_ORDERS = "orders"  # the counter's attribute
_KNOWN = frozenset({keys.PK, keys.SK, keys.ENTITY, keys.VERSION, keys.CUSTOMER_ID, "userId", "email",
                    "displayName", "shippingAddress", "guestClaims", "guestClaimed", "createdAt", "updatedAt"})


@dataclass(frozen=True, slots=True)
class Address:
    """A shopper's postal address."""
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def to_item(self) -> dict[str, Any]:
        return {"line1": self.line1, "line2": self.line2, "city": self.city, "state": self.state,
                "postalCode": self.postal_code, "country": self.country}

    @classmethod
    def from_item(cls, raw: Any) -> Address | None:
        if not isinstance(raw, Mapping):
            return None
        return cls(*(_text(raw.get(name)) for name in ("line1", "line2", "city", "state", "postalCode", "country")))


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    email: str | None
    display_name: str | None
    shipping_address: Address | None
    guest_claims: tuple[str, ...]  # emails (key form) whose guest orders were claimed
    guest_claimed: Mapping[str, int]  # per email, how many guest orders were counted when last claimed
    created_at: int | str | None  # epoch seconds (the replaced system wrote ISO text)
    updated_at: int | str | None
    version: int = 0
    customer_id: str | None = None  # stripeCustomerId
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> keys.Key:
        return keys.profile(self.user_id)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self.extra, keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: ENTITY,
            "userId": self.user_id, "email": self.email, "displayName": self.display_name,
            "shippingAddress": self.shipping_address.to_item() if self.shipping_address else None,
            "guestClaims": list(self.guest_claims), "createdAt": self.created_at, "updatedAt": self.updated_at,
            keys.VERSION: self.version,
        }
        if self.guest_claimed:
            item["guestClaimed"] = dict(self.guest_claimed)
        if self.customer_id:
            item[keys.CUSTOMER_ID] = self.customer_id
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Profile:
        user_id = item.get("userId")
        claimed = item.get("guestClaimed")
        customer = item.get(keys.CUSTOMER_ID)
        version = item.get(keys.VERSION, 0)
        return cls(
            user_id=user_id if isinstance(user_id, str) else str(item[keys.PK]).removeprefix("USER#"),
            email=_text(item.get("email")), display_name=_text(item.get("displayName")),
            shipping_address=Address.from_item(item.get("shippingAddress")),
            guest_claims=tuple(item.get("guestClaims") or ()),
            guest_claimed=dict(claimed) if isinstance(claimed, Mapping) else {},
            created_at=item.get("createdAt"), updated_at=item.get("updatedAt"),
            version=version if isinstance(version, int) and not isinstance(version, bool) else 0,
            customer_id=customer if isinstance(customer, str) and customer else None,
            extra={name: value for name, value in item.items() if name not in _KNOWN},
        )


def guest_order_count(item: Mapping[str, Any] | None) -> int:
    """The count a GUEST#{email} / UNCLAIMED item holds (0 when there is none)."""
    return int((item or {}).get(GUEST_ORDERS, 0))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
