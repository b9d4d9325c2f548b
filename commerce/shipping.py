"""Shipping options offered at checkout (SHIPPING_RATES)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ShippingRate:
    """One shipping option: a Stripe shipping rate id, or a flat rate (name, minor units)."""

    rate_id: str | None = None
    name: str | None = None
    amount: int | None = None

    @classmethod
    def parse(cls, text: str) -> ShippingRate:
        if re.fullmatch(r"shr_[A-Za-z0-9]{1,64}", text):
            return cls(rate_id=text)
        match = re.fullmatch(r"([^:,]{1,50}):(\d{1,6})", text)
        if not match:
            raise ValueError(f"{text!r} is neither a shipping rate id (shr_...) nor Name:amount "
                             "in minor units (e.g. Standard:500)")
        return cls(name=match.group(1).strip(), amount=int(match.group(2)))
