"""One JSON log line per request and per webhook event; Prometheus metrics."""

from __future__ import annotations

import json
import logging

import httpx

from logs import JsonLines


def access_lines(caplog) -> list[dict]:
    return [json.loads(JsonLines().format(r)) for r in caplog.records if r.name == "gateway.access"]


def test_each_request_logs_one_json_line_without_secrets(gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.access")
    token = gateway.token("log-user-1", email="very.private@example.com")
    response = gateway.post({"query": "query Dashboard { viewer { email orders(first: 5) { edges { cursor } } } }"},
                            token, **{"x-request-id": "req-test-0001"})
    assert response.status_code == 200
    [line] = [l for l in access_lines(caplog) if l.get("requestId") == "req-test-0001" and l["kind"] == "request"]
    assert line["kind"] == "request" and line["operation"] == "Dashboard" and line["outcome"] == "ok"
    assert line["storeCalls"] >= 1 and line["stripeCalls"] == 0 and line["ms"] > 0
    assert line["user"] and line["user"] != "log-user-1"
    text = "\n".join(JsonLines().format(r) for r in caplog.records)
    assert token not in text and "very.private@example.com" not in text and "log-user-1" not in text


def test_failures_are_logged_with_their_codes(gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.access")
    gateway.post({"query": "query Broken { nope }"}, **{"x-request-id": "req-test-0002"})
    [line] = [l for l in access_lines(caplog) if l.get("requestId") == "req-test-0002" and l["kind"] == "request"]
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
    [line] = [l for l in access_lines(caplog) if l.get("eventId") == "evt_observed_1"]
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
