"""Injected faults on /v1 requests, for resilience tests: added latency, 429s, 500s and
dropped connections, each at a rate from 0 to 1, reproducible with a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from starlette.types import Receive, Scope, Send

from stripe_emulator.errors import StripeError

Fault = Literal["rate_limit", "server_error", "drop"]


@dataclass
class Faults:
    latency_ms: int = 0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_drop: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def roll(self) -> Fault | None:
        if not (self.rate_429 or self.rate_500 or self.rate_drop):
            return None
        roll = self.rng.random()
        if roll < self.rate_429:
            return "rate_limit"
        if roll < self.rate_429 + self.rate_500:
            return "server_error"
        if roll < self.rate_429 + self.rate_500 + self.rate_drop:
            return "drop"
        return None

    def settings(self) -> dict[str, float]:
        return {"latency_ms": self.latency_ms, "rate_429": self.rate_429, "rate_500": self.rate_500,
                "rate_drop": self.rate_drop}


def fault_error(fault: Fault) -> StripeError:
    if fault == "rate_limit":
        return StripeError(429, "invalid_request_error", "Request rate limit exceeded. Too many requests hit "
                           "the API too quickly.", code="rate_limit")
    return StripeError(500, "api_error", "An unknown error occurred (injected by the emulator's faults).")


class ConnectionDropped(Exception):
    """Raised after the response has started, so the server closes the connection."""


class DroppedResponse:
    """Promise a body, then abort: the client sees the connection closed mid-response. ASGI
    has no way to close a connection before answering, so this is the nearest thing."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
        raise ConnectionDropped("fault injection: connection dropped")
