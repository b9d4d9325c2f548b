"""Stripe-Signature verification: `t=<unix>,v1=<hex>[,v1=...]`, each v1 an HMAC-SHA256 of
`"{t}.{raw body}"` keyed with a whsec_ secret. Several secrets are accepted during a
rotation; timestamps older or newer than the tolerance are refused (replays, bad clocks)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

MAX_HEADER_LENGTH = 4096


class BadSignature(Exception):
    """Why a delivery is refused; the text is safe to send back."""


def verify_signature(
    header: str | None, payload: bytes, secrets: Sequence[str], *, tolerance: int, now: int
) -> None:
    if not header:
        raise BadSignature("missing Stripe-Signature header")
    if len(header) > MAX_HEADER_LENGTH:
        raise BadSignature("Stripe-Signature header too long")
    timestamp, signatures = _parse(header)
    if abs(now - timestamp) > tolerance:
        raise BadSignature("timestamp outside the tolerance")
    signed = f"{timestamp}.".encode() + payload
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return
    raise BadSignature("no valid v1 signature")


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            if not value.isdigit() or len(value) > 12:
                raise BadSignature("malformed timestamp")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None:
        raise BadSignature("no timestamp in Stripe-Signature")
    if not signatures:
        raise BadSignature("no v1 signature in Stripe-Signature")
    return timestamp, signatures
