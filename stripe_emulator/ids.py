"""Stripe-like ids: a prefix and random base62, as long as Stripe's."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def request_id() -> str:
    return new_id("req_", 14)
