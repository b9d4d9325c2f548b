"""An offline Stripe: enough of Stripe's API, wire protocol, hosted checkout and signed
webhooks for development without keys and for every test. The official `stripe` SDK talks
to it unmodified; only the base URL changes. It imports nothing of the gateway.

    from stripe_emulator import Emulator, serve
    emulator = Emulator(webhook_urls=[...], webhook_secret=None, public_url=None,
                        webhook_transport=None, delivery_retries=5, delivery_backoff=0.5)
    emulator.app             # ASGI: /v1/... (API), /pay/{id} (pay page), /_emulator/... (controls)
    emulator.webhook_secret  # whsec_...
    await emulator.drain()   # wait for webhook deliveries
    await emulator.aclose()  # stop them
    serve(host, port, webhook_urls, webhook_secret)  # blocking, under uvicorn

Any `sk_test_...` key is accepted; a missing key or any other key is 401.

Test cards (on the pay page, or POST /_emulator/checkout/sessions/{id}/pay card_number=...):
    4242424242424242  pays: session complete / paid, a succeeded PaymentIntent and a paid Charge
    4000000000000002  is declined: 402 card_declined (generic_decline); the session stays open
    4000000000001000  a delayed payment method: session complete / unpaid, PaymentIntent
                      processing, until POST /_emulator/checkout/sessions/{id}/async_payment
                      with outcome=succeeded|failed
    anything else     400, nothing changes

Tax (only with automatic_tax[enabled]=true): a fixed rate by the shipping address's country,
else the billing country on the pay form (default US), on subtotal - discount + shipping,
rounded half up, reported in total_details.amount_tax (line items show 0 tax):
    US 8 %, GB 20 %, DE 19 %, FR 20 %, CA 13 %, AU 10 %, anywhere else 0 %.

Controls (JSON or form bodies; bad input is a 400 with a message):
    GET|POST /_emulator/webhooks    {urls, mode: deliver|off|paused, duplicate: extra copies,
                                     reorder: shuffle a flush, undelivered_rate: 0..1 of events
                                     never delivered, seed}
    POST /_emulator/webhooks/flush  deliver what is paused or pending, and wait for it
    GET|POST /_emulator/faults      {latency_ms, rate_429, rate_500, rate_drop, seed}, on /v1 only;
                                    a dropped request gets its headers and then a closed connection
    POST /_emulator/reset           forget all state and set the clock back (webhook settings and faults stay)
    GET|POST /_emulator/clock       {advance: seconds} or {set: epoch seconds}: move the emulator's now
                                    forward (objects' created, expires_at checks), then expire every
                                    open session past its expires_at (checkout.session.expired each);
                                    answers {now, offset, expired}. Sessions also expire on time unasked
                                    (checked every second and before every request), as on Stripe.
    POST /_emulator/checkout/sessions/{id}/pay            {card_number, email, name, line1, line2,
                                     city, state, postal_code, country, shipping_rate, billing_country}
    POST /_emulator/checkout/sessions/{id}/async_payment  {outcome: succeeded|failed}
    POST /_emulator/charges/{id}/dispute                  {amount, reason, status}: opens a dispute
                                     (status warning_needs_response: an inquiry)
    POST /_emulator/disputes/{id}/status                  {status}: any of Stripe's dispute statuses
                                     (charge.dispute.closed when it ends it, else .updated)
    POST /_emulator/disputes/{id}/close                   {outcome: won|lost}
    POST /_emulator/refunds/{id}/fail                     {failure_reason}: the refund fails, even
                                     after it succeeded (refund.failed, charge.refund.updated)
Events that no endpoint answered with a 2xx are listed by GET /v1/events?delivery_success=false.
"""

from __future__ import annotations

from stripe_emulator.app import Emulator

__all__ = ["Emulator", "serve"]


def serve(host: str, port: int, webhook_urls: list[str] | None, webhook_secret: str | None) -> None:
    """Run a standalone emulator under uvicorn until interrupted."""
    import uvicorn

    emulator = Emulator(webhook_urls=webhook_urls or [], webhook_secret=webhook_secret)
    print(f"http://{host}:{port}")
    print(emulator.webhook_secret)
    print(f"stripe emulator: API base http://{host}:{port} (any sk_test_ key); "
          f"webhook secret {emulator.webhook_secret}")
    for url in webhook_urls or []:
        print(f"stripe emulator: delivering events to {url}")
    print("", flush=True)
    uvicorn.run(emulator.app, host=host, port=port, log_level="warning")
