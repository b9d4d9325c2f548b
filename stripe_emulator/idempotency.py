"""Idempotency-Key on POST: the first answer is stored for 24 h and replayed for the same
key and parameters; other parameters are an idempotency_error; a key whose first request
is still running is 409 idempotency_key_in_use."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from stripe_emulator.errors import StripeError, invalid

KEEP_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255


@dataclass
class Stored:
    fingerprint: str
    status: int
    body: bytes
    request_id: str
    at: float


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([method, path, params], sort_keys=True).encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self) -> None:
        self._stored: dict[str, Stored] = {}
        self._in_flight: set[str] = set()

    def begin(self, key: str, print_: str) -> Stored | None:
        """The stored answer to replay, or None after marking the key in flight."""
        if len(key) > MAX_KEY_LENGTH:
            raise invalid(f"Idempotency keys are at most {MAX_KEY_LENGTH} characters.")
        self._forget_old()
        stored = self._stored.get(key)
        if stored is not None:
            if stored.fingerprint != print_:
                raise StripeError(400, "idempotency_error", "Keys for idempotent requests can only be used "
                                  "with the same parameters they were first used with. Try using a key other "
                                  f"than '{key[:80]}' if you meant to execute a different request.")
            return stored
        if key in self._in_flight:
            raise StripeError(409, "invalid_request_error", "There is currently another in-progress request "
                              "using this Idempotent Key (that probably means you submitted twice, and the "
                              "other request is still going through). Please retry in a moment.",
                              code="idempotency_key_in_use")
        self._in_flight.add(key)
        return None

    def finish(self, key: str, print_: str, status: int, body: bytes, request_id: str) -> None:
        self._in_flight.discard(key)
        # Stripe saves a result only once the endpoint began: not for a request that failed
        # validation (400), nor for a server error (retried with the same key).
        if status < 400 or 401 < status < 500:
            self._stored[key] = Stored(print_, status, body, request_id, time.time())

    def abandon(self, key: str) -> None:
        self._in_flight.discard(key)

    def _forget_old(self) -> None:
        horizon = time.time() - KEEP_SECONDS
        for key in [k for k, v in self._stored.items() if v.at < horizon]:
            del self._stored[key]
