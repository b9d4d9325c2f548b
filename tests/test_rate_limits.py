"""Rate limits kept in the store: bursts, spoofed headers, trusted proxies, webhooks."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.live_gateway import engine_env, gateway_env, running_gateway

QUOTE = 'mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 1}]}) { quote { signature } } }'
LIMIT = 5
WEBHOOK_SECRET = "whsec_rate_limit_tests"


@pytest.fixture(params=["sqlite", "dynamodb"])
def limited(request, tmp_path):
    env = gateway_env(tmp_path, RATE_LIMIT_QUOTES=str(LIMIT), RATE_LIMIT_CHECKOUTS=str(LIMIT),
                      RATE_LIMIT_WEBHOOKS=str(LIMIT), **engine_env(request))
    with running_gateway(env) as client:
        yield client


@pytest.fixture(autouse=True)
def clear_of_a_window_edge():
    """Limits count per minute: start a test with time to spare in the current window."""
    import time

    from web.ratelimit import WINDOW_SECONDS

    into = time.time() % WINDOW_SECONDS
    if into > WINDOW_SECONDS - 10:
        time.sleep(WINDOW_SECONDS - into + 0.1)


def burst(gateway, count: int, headers: dict | None = None, token: str | None = None) -> list[dict]:
    async def run():
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            extra = {**(headers or {}), **({"authorization": f"Bearer {token}"} if token else {})}
            responses = await asyncio.gather(*(
                client.post("/graphql", json={"query": QUOTE}, headers=extra) for _ in range(count)))
            return [r.json() for r in responses]
    return asyncio.run(run())


def outcome(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"] if "errors" in body else "OK"


def test_a_burst_of_ten_times_the_limit_lets_exactly_the_limit_through(limited):
    results = burst(limited, 10 * LIMIT)
    assert [outcome(b) for b in results].count("OK") == LIMIT
    refused = [b for b in results if outcome(b) == "RATE_LIMITED"]
    assert len(refused) == 9 * LIMIT
    assert all(1 <= b["errors"][0]["extensions"]["retryAfter"] <= 60 for b in refused)
    assert limited.stored_quotes() == LIMIT


def test_a_spoofed_forwarded_for_header_does_not_help(limited):
    burst(limited, LIMIT)
    spoofed = [burst(limited, 1, {"x-forwarded-for": f"198.51.100.{n}"})[0] for n in range(5)]
    assert {outcome(b) for b in spoofed} == {"RATE_LIMITED"}


def test_signed_in_users_have_their_own_budget_too(limited):
    token = limited.token("busy-user", email="b@example.com")
    results = burst(limited, 2 * LIMIT, {"x-forwarded-for": "203.0.113.7"}, token)
    assert [outcome(b) for b in results].count("OK") == LIMIT


def test_behind_a_trusted_proxy_each_client_counts_separately(tmp_path):
    env = gateway_env(tmp_path, RATE_LIMIT_QUOTES=str(LIMIT), TRUSTED_PROXIES="127.0.0.1/32")
    with running_gateway(env) as gateway:
        first = burst(gateway, 2 * LIMIT, {"x-forwarded-for": "198.51.100.1"})
        second = burst(gateway, 2 * LIMIT, {"x-forwarded-for": "198.51.100.2, 127.0.0.1"})
        assert [outcome(b) for b in first].count("OK") == LIMIT
        assert [outcome(b) for b in second].count("OK") == LIMIT
        # a client that prepends a fake hop is still counted by the address the proxy saw
        spoofed = burst(gateway, 2, {"x-forwarded-for": "10.9.9.9, 198.51.100.1"})
        assert {outcome(b) for b in spoofed} == {"RATE_LIMITED"}


def signed_event(n: int) -> tuple[bytes, dict]:
    import hashlib
    import hmac
    import json
    import time

    payload = json.dumps({"id": f"evt_limit_{n}", "type": "test.ignored",
                          "data": {"object": {"id": f"obj_{n}"}}}).encode()
    t = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, {"stripe-signature": f"t={t},v1={mac}", "content-type": "application/json"}


@pytest.fixture(params=["sqlite", "dynamodb"])
def behind_a_proxy(request, tmp_path):
    """The emulator delivers its own events to the webhook route from 127.0.0.1: the
    tests' deliveries come through a trusted proxy, from an address of their own."""
    env = gateway_env(tmp_path, RATE_LIMIT_WEBHOOKS=str(LIMIT), STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                      TRUSTED_PROXIES="127.0.0.1", **engine_env(request))
    with running_gateway(env) as client:
        yield client


def test_the_webhook_route_has_its_own_limit_on_signed_deliveries(behind_a_proxy):
    limited = behind_a_proxy
    stripe = {"x-forwarded-for": "203.0.113.9"}
    unsigned = [limited.http.post("/stripe/webhook", content=b"{}", headers=stripe).status_code
                for _ in range(LIMIT + 3)]
    assert unsigned == [400] * (LIMIT + 3)  # refused before the limit: junk is not counted
    answers = []
    for n in range(LIMIT + 3):
        payload, headers = signed_event(n)
        answers.append(limited.http.post("/stripe/webhook", content=payload,
                                         headers={**headers, **stripe}).status_code)
    assert answers[:LIMIT] == [200] * LIMIT
    assert answers[LIMIT:] == [429] * 3
    # the GraphQL budget is separate
    assert outcome(limited.gql(QUOTE)) == "OK"


@pytest.mark.parametrize("value", ["nope", "10.0.0.0/33", "1.2.3.4.5"])
def test_bad_trusted_proxies_stop_the_start(tmp_path, value):
    from settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings(gateway_env(tmp_path, TRUSTED_PROXIES=value))
