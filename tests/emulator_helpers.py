"""Shared parts of the emulator tests: the emulator under a real uvicorn server, a webhook
receiver (a second server) that verifies every delivery with the SDK, and small helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stripe_emulator import Emulator
from tests.services import ServerThread

SECRET = "whsec_emulator_helpers_0123456789abcdef"
KEY = "sk_test_emulator_helpers"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "stripe" / "fixtures.json"
SUCCESS_URL = "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"


class Receiver:
    """A webhook endpoint on its own server: verifies each delivery with
    stripe.Webhook.construct_event and fails the next `fail_next` on purpose."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.events: list[dict[str, Any]] = []
        self.attempts = 0
        self.bad_signatures = 0
        self.fail_next = 0
        self._lock = threading.Lock()
        self.server = ServerThread(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])).start()
        self.url = f"{self.server.url}/hook"

    async def _hook(self, request: Request) -> JSONResponse:
        payload = await request.body()
        with self._lock:
            self.attempts += 1
            try:
                event = stripe.Webhook.construct_event(payload, request.headers.get("stripe-signature", ""),
                                                       self.secret)
            except (stripe.SignatureVerificationError, ValueError):
                self.bad_signatures += 1
                return JSONResponse({"error": "bad signature"}, status_code=400)
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": "try again later"}, status_code=503)
            self.events.append(event.to_dict())
        return JSONResponse({"received": True})

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
            self.attempts = self.bad_signatures = self.fail_next = 0

    def types(self, object_id: str | None = None) -> list[str]:
        return [e["type"] for e in self.events
                if object_id is None or e["data"]["object"].get("id") == object_id]

    def stop(self) -> None:
        self.server.stop()


@dataclass
class Emu:
    emulator: Emulator
    url: str
    stripe: stripe.StripeClient
    receiver: Receiver

    def control(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}/_emulator/{path}", json=body or {}, timeout=30)

    def flush(self) -> None:
        assert self.control("webhooks/flush").status_code == 200

    def api(self, method: str, path: str, key: str = KEY, **kwargs: Any) -> httpx.Response:
        """A raw /v1 request, for what the SDK would never send."""
        headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def session(self, **extra: Any) -> Any:
        params = {"mode": "payment", "success_url": SUCCESS_URL, "cancel_url": "https://shop.example/cart",
                  "line_items": [{"price_data": {"currency": "usd", "unit_amount": 1500, "tax_behavior": "exclusive",
                                                 "product_data": {"name": "Hoop earrings", "metadata": {"sku": "E-1"}}},
                                  "quantity": 2}], **extra}
        return self.stripe.v1.checkout.sessions.create(params=params)

    def pay(self, session_id: str, card: str = "4242424242424242", **form: str) -> httpx.Response:
        return self.control(f"checkout/sessions/{session_id}/pay",
                            {"card_number": card, "email": "buyer@example.com", **form})

    def paid_charge(self, **extra: Any) -> Any:
        made = self.session(**extra)
        assert self.pay(made.id).status_code == 200
        pi = self.stripe.v1.checkout.sessions.retrieve(made.id).payment_intent
        return self.stripe.v1.charges.list(params={"payment_intent": pi}).data[0]


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def start_emu(**options: Any) -> Emu:
    options = {"webhook_secret": SECRET, "delivery_retries": 3, "delivery_backoff": 0.05, **options}
    receiver = Receiver(options["webhook_secret"])
    emulator = Emulator(webhook_urls=[receiver.url], **options)
    server = ServerThread(emulator.app).start()
    client = stripe.StripeClient(KEY, base_addresses={"api": server.url})
    emu = Emu(emulator, server.url, client, receiver)
    emu._server = server  # type: ignore[attr-defined]
    return emu


def stop_emu(emu: Emu) -> None:
    emu._server.stop()  # type: ignore[attr-defined]
    emu.receiver.stop()


def running_emu() -> Iterator[Emu]:
    """An emulator and its receiver for as long as the generator lives (a fixture's body)."""
    running = start_emu()
    try:
        yield running
    finally:
        stop_emu(running)
