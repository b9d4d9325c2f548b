"""One JSON log line per request and per webhook event; Prometheus metrics."""

from __future__ import annotations

import json
import logging
import time

import httpx

from telemetry.logs import JsonLines


def access_lines(caplog) -> list[dict]:
    return [json.loads(JsonLines().format(r)) for r in caplog.records if r.name == "gateway.access"]


def test_each_request_logs_one_json_line_without_secrets(gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.access")
    token = gateway.token("log-user-1", email="very.private@example.com")
    response = gateway.post({"query": "query Dashboard { viewer { email orders(first: 5) { edges { cursor } } } }"},
                            token, **{"x-request-id": "req-test-0001"})
    assert response.status_code == 200
    [line] = [entry for entry in access_lines(caplog)
              if entry.get("requestId") == "req-test-0001" and entry["kind"] == "request"]
    assert line["kind"] == "request" and line["operation"] == "Dashboard" and line["outcome"] == "ok"
    assert line["storeCalls"] >= 1 and line["stripeCalls"] == 0 and line["ms"] > 0
    assert line["user"] and line["user"] != "log-user-1"
    text = "\n".join(JsonLines().format(r) for r in caplog.records)
    assert token not in text and "very.private@example.com" not in text and "log-user-1" not in text


def test_failures_are_logged_with_their_codes(gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.access")
    gateway.post({"query": "query Broken { nope }"}, **{"x-request-id": "req-test-0002"})
    [line] = [entry for entry in access_lines(caplog)
              if entry.get("requestId") == "req-test-0002" and entry["kind"] == "request"]
    assert line["outcome"] == "BAD_USER_INPUT"


def test_webhook_events_are_logged_and_counted(gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.access")
    import hashlib
    import hmac
    import time

    secret = gateway.app.state.emulator.webhook_secret
    payload = json.dumps({"id": "evt_observed_1", "type": "customer.created",
                          "data": {"object": {"id": "cus_x"}}}).encode()
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    assert gateway.http.post("/stripe/webhook", content=payload,
                             headers={"stripe-signature": f"t={t},v1={mac}"}).status_code == 200
    [line] = [entry for entry in access_lines(caplog) if entry.get("eventId") == "evt_observed_1"]
    assert line["kind"] == "webhook" and line["outcome"] == "ignored"
    metrics = gateway.http.get("/metrics").text
    assert 'gateway_webhook_events_total{outcome="ignored",type="customer.created"}' in metrics


def test_metrics_expose_latency_by_operation(gateway):
    gateway.post({"query": "query MetricsProbe { products { sku } }"})
    text = httpx.get(f"{gateway.url}/metrics").text
    assert 'gateway_request_seconds_count{operation="MetricsProbe"}' in text
    for name in ("gateway_stripe_errors_total", "gateway_store_errors_total", "gateway_dead_letters_total"):
        assert name in text


def test_hostile_operation_names_do_not_flood_the_metrics(gateway):
    for n in range(5):
        gateway.post({"query": f"query {'x' * 80}{n} {{ __typename }}"})
    text = gateway.http.get("/metrics").text
    assert 'operation="invalid"' in text and "x" * 80 not in text


def test_refused_webhooks_get_a_json_line_and_a_count_with_their_outcome(gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.access")
    payload = json.dumps({"id": "evt_refused_1", "type": "customer.created", "data": {"object": {"id": "c"}}})
    refusals = {
        "bad-signature": payload.encode(),
        "too-large": b"x" * (300 * 1024),
    }
    for outcome, body in refusals.items():
        response = gateway.http.post("/stripe/webhook", content=body, headers={
            "stripe-signature": f"t={int(time.time())},v1=00", "x-request-id": f"req-refused-{outcome}"})
        assert response.status_code == 400
        assert response.json()["requestId"] == f"req-refused-{outcome}"
        [line] = [entry for entry in access_lines(caplog) if entry.get("requestId") == f"req-refused-{outcome}"]
        assert line["kind"] == "webhook" and line["outcome"] == outcome and line["status"] == 400
    metrics = gateway.http.get("/metrics").text
    for outcome in refusals:
        assert f'gateway_webhook_events_total{{outcome="{outcome}",type="-"}}' in metrics


def test_a_rate_limited_webhook_is_logged_and_counted(tmp_path, caplog):
    from tests.live_gateway import gateway_env, running_gateway

    caplog.set_level(logging.INFO, logger="gateway.access")
    import hashlib
    import hmac
    import json
    import time

    secret = "whsec_rate_limited_0123456789"

    def signed(n: int) -> dict:
        payload = json.dumps({"id": f"evt_limited{n}", "object": "event", "type": "customer.created",
                              "data": {"object": {"id": f"cus_{n}", "object": "customer"}}}).encode()
        t = int(time.time())
        mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        return {"content": payload, "headers": {"stripe-signature": f"t={t},v1={mac}"}}

    # the limit counts signed deliveries: unsigned ones are refused before it, for free
    with running_gateway(gateway_env(tmp_path, RATE_LIMIT_WEBHOOKS="1", STRIPE_WEBHOOK_SECRET=secret)) as gw:
        statuses = [gw.http.post("/stripe/webhook", **signed(n)).status_code for n in range(2)]
        assert statuses == [200, 429]
        assert any(entry["outcome"] == "rate-limited" and entry["status"] == 429 for entry in access_lines(caplog))
        assert 'outcome="rate-limited"' in gw.http.get("/metrics").text


def test_every_response_carries_a_request_id_that_is_on_its_log_lines(gateway, caplog):
    caplog.set_level(logging.INFO)
    given = gateway.post({"query": "{ __typename }"}, **{"x-request-id": "req-echo-000001"})
    assert given.headers["x-request-id"] == "req-echo-000001"
    for hostile in ("short", "x" * 200, "bad id with spaces", "évil-unicode-id"):
        made = gateway.http.post("/graphql", json={"query": "{ nope }"},
                                 headers={"x-request-id": hostile.encode("utf-8")})
        assert made.headers["x-request-id"] != hostile and len(made.headers["x-request-id"]) == 32
        assert made.json()["errors"][0]["extensions"]["requestId"] == made.headers["x-request-id"]
    for path in ("/healthz", "/readyz", "/metrics", "/nowhere"):
        assert len(gateway.http.get(path).headers["x-request-id"]) >= 8
    too_big = gateway.http.post("/graphql", content=b"x" * 100_000, headers={"x-request-id": "req-too-big-0001"})
    assert too_big.status_code == 413 and too_big.headers["x-request-id"] == "req-too-big-0001"
    assert too_big.json()["errors"][0]["extensions"]["requestId"] == "req-too-big-0001"
    # every record made while serving it, ours and the libraries', has the request's id
    gateway.http.post("/stripe/webhook", content=b"{}", headers={"x-request-id": "req-lines-000001"})
    lines = [json.loads(JsonLines().format(r)) for r in caplog.records]
    mine = [entry for entry in lines if entry.get("requestId") == "req-lines-000001"]
    assert {entry["logger"] for entry in mine} == {"gateway.access", "gateway.webhooks"}, mine


def test_metrics_are_not_public_in_production(tmp_path):
    from tests.live_gateway import gateway_env, running_gateway

    production = gateway_env(tmp_path, ENVIRONMENT="production", STRIPE_SECRET="sk_test_metrics_prod",
                             STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_WEBHOOK_SECRET="whsec_metrics",
                             CHECKOUT_SUCCESS_URL="https://shop.example/ok", CHECKOUT_CANCEL_URL="https://shop.example/no")
    with running_gateway(production) as gw:
        assert gw.http.get("/metrics").status_code == 404
    token = "metrics-token-0123456789"
    with running_gateway({**production, "METRICS_TOKEN": token}) as gw:
        assert gw.http.get("/metrics").status_code == 401
        assert gw.http.get("/metrics", headers={"authorization": "Bearer wrong-token-000000000"}).status_code == 401
        scraped = gw.http.get("/metrics", headers={"authorization": f"Bearer {token}"})
        assert scraped.status_code == 200 and "gateway_webhook_events_total" in scraped.text
