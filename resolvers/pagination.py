"""Relay cursors: the store's cursor, bound to the user it was made for and signed, so a
forged or borrowed cursor is refused (BadCursor) instead of reading someone else's page."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from store import BadCursor

MAX_FIRST = 100
MAX_CURSOR_BYTES = 1024  # ours are ASCII and under 600: the sort key inside stays within the store's limit


def _mac(secret: str, user_id: str, inner: str) -> bytes:
    key = hashlib.sha256(b"cursor\x00" + secret.encode()).digest()
    return hmac.new(key, f"{user_id}\x00{inner}".encode(), hashlib.sha256).digest()[:16]


def sign_cursor(secret: str, user_id: str, inner: str) -> str:
    raw = _mac(secret, user_id, inner) + inner.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def open_cursor(secret: str, user_id: str, cursor: str) -> str:
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_BYTES or not cursor.isascii():
        raise BadCursor("cursor is not valid")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        inner = raw[16:].decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if not hmac.compare_digest(raw[:16], _mac(secret, user_id, inner)):
        raise BadCursor("cursor is not valid")
    return inner
