"""An offline Stripe: enough of Stripe's API, wire protocol, hosted checkout and signed
webhooks for development without keys and for every test. The official `stripe` SDK
talks to it unmodified; only the base URL changes. It imports nothing of the gateway.

    from stripe_emulator import Emulator, serve
    emulator = Emulator(webhook_urls=[...], webhook_secret=None, public_url=None)
    emulator.app        # ASGI: /v1/... (API), /pay/{id} (pay page), /_emulator/... (controls)

Any `sk_test_...` key is accepted; anything else is 401.

Test cards (on the pay page, or POST /_emulator/checkout/sessions/{id}/pay card_number=...):
    4242424242424242  pays: session complete / paid, a succeeded PaymentIntent and a Charge
    4000000000000002  is declined (402 card_declined); the session stays open
    4000000000001000  a delayed payment method: session complete / unpaid, PaymentIntent
                      processing, until POST /_emulator/checkout/sessions/{id}/async_payment
                      outcome=succeeded|failed

Tax (automatic_tax[enabled]=true): a fixed rate by the shipping (else billing) country,
on goods less discounts plus shipping, rounded half up: US 8 %, GB 20 %, DE 19 %, FR 20 %,
CA 13 %, AU 10 %, elsewhere 0 %.

Controls (JSON or form bodies):
    GET|POST /_emulator/webhooks   {urls, mode: deliver|off|paused, duplicate, reorder,
                                    undelivered_rate, seed}
    POST /_emulator/webhooks/flush  deliver what is paused, and wait for every delivery
    POST /_emulator/faults          {latency_ms, rate_429, rate_500, rate_drop, seed} on /v1
                                    (a dropped request gets a bare 500, no Stripe body)
    POST /_emulator/reset           forget everything
    POST /_emulator/charges/{id}/dispute       {amount, reason}: opens a dispute
    POST /_emulator/disputes/{id}/close        {outcome: won|lost}
Events that were never delivered with a 2xx are listed by GET /v1/events?delivery_success=false.
"""

from __future__ import annotations

from stripe_emulator.app import Emulator

__all__ = ["Emulator", "serve"]


def serve(host: str, port: int, webhook_urls: list[str] | None, webhook_secret: str | None) -> None:
    import uvicorn

    emulator = Emulator(webhook_urls=webhook_urls or [], webhook_secret=webhook_secret)
    print(f"stripe emulator: http://{host}:{port}  (STRIPE_API_BASE; any sk_test_ key)")
    print(f"stripe emulator: webhook secret {emulator.webhook_secret}")
    for url in webhook_urls or []:
        print(f"stripe emulator: delivering events to {url}")
    print("", flush=True)
    uvicorn.run(emulator.app, host=host, port=port, log_level="warning")
