"""`gateway doctor` against a healthy setup (the emulator, DynamoDB Local) and against
setups broken on purpose: each planted fault is found, with a message naming the fix."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import stripe

from webhooks.handlers import HANDLERS

ROOT = Path(__file__).resolve().parent.parent


def gateway(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=ROOT)


@pytest.fixture
def setup(tmp_path, dynamodb_local, stripe_emulator_url) -> dict:
    """A development gateway on its own table, its own PUBLIC_URL, and the emulator."""
    from tests.services import fresh_dynamodb_table

    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("JWT_", "QUOTE_", "STRIPE_", "COMMERCE_", "CHECKOUT_", "LOG_"))}
    return {**clean, "GATEWAY_DB": str(tmp_path / "g.db"), "ENVIRONMENT": "development",
            "JWT_SECRET": "j" * 40, "QUOTE_SIGNING_SECRET": "q" * 40,
            "STRIPE_SECRET": "sk_test_doctor", "STRIPE_API_BASE": stripe_emulator_url,
            "STRIPE_WEBHOOK_SECRET": "whsec_doctor_test",
            "PUBLIC_URL": f"https://{uuid.uuid4().hex[:8]}.shop.example",
            "COMMERCE_TABLE": asyncio.run(fresh_dynamodb_table(dynamodb_local))}


def endpoint(env: dict, events: list[Any]) -> None:
    client = stripe.StripeClient(env["STRIPE_SECRET"], base_addresses={"api": env["STRIPE_API_BASE"]})
    client.v1.webhook_endpoints.create(params={"url": env["PUBLIC_URL"] + "/stripe/webhook",
                                               "enabled_events": events})


def doctor(env: dict) -> tuple[int, dict[str, dict]]:
    result = gateway("doctor", "--json", env=env)
    assert "Traceback" not in result.stderr, result.stderr
    body = json.loads(result.stdout)
    checks = {c["name"]: c for c in body["checks"]}
    assert body["ok"] is (result.returncode == 0)
    return result.returncode, checks


def failed(checks: dict[str, dict]) -> dict[str, dict]:
    return {name: c for name, c in checks.items() if c["status"] == "fail"}


def test_doctor_passes_on_a_healthy_setup(setup):
    endpoint(setup, sorted(HANDLERS))
    assert gateway("catalog", "sync", env=setup).returncode == 0
    code, checks = doctor(setup)
    assert failed(checks) == {} and code == 0
    assert {"stripe key", "stripe mode", "stripe accepts key", "webhook secret", "webhook endpoint",
            "webhook events", "table", "table keys", "table index", "table TTL", "table PITR",
            "CHECKOUT_SUCCESS_URL", "CHECKOUT_CANCEL_URL", "catalog map"} == set(checks)
    assert checks["table PITR"]["status"] == "skip"  # DynamoDB Local keeps no backups
    text = gateway("doctor", env=setup)
    assert text.returncode == 0 and text.stdout.strip().endswith("all checks passed")
    assert len(text.stdout.strip().splitlines()) == len(checks) + 1  # one line per check


def test_doctor_finds_wrong_events_no_catalog_map_and_a_bare_table(setup):
    import boto3

    endpoint(setup, ["checkout.session.completed"])
    bare = f"bare-{uuid.uuid4().hex[:8]}"  # made by hand: keys only, no index, no TTL
    boto3.client("dynamodb").create_table(
        TableName=bare, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                              {"AttributeName": "SK", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}])
    code, checks = doctor({**setup, "COMMERCE_TABLE": bare, "STRIPE_WEBHOOK_SECRET": ""})
    bad = failed(checks)
    assert code == 1 and set(bad) == {"webhook events", "table index", "table TTL", "catalog map",
                                      "webhook secret"}
    assert "charge.refunded" in bad["webhook events"]["detail"] and "add" in bad["webhook events"]["fix"]
    assert "checkout.session.completed" not in bad["webhook events"]["detail"]
    assert "stripeCustomerId-index" in bad["table index"]["detail"]
    assert bad["table TTL"]["fix"].startswith("gateway create-table")
    assert bad["catalog map"]["fix"] == "gateway catalog sync"
    assert "STRIPE_WEBHOOK_SECRET" in bad["webhook secret"]["fix"]


def test_doctor_finds_a_missing_table_a_missing_endpoint_and_a_malformed_key(setup):
    code, checks = doctor({**setup, "COMMERCE_TABLE": f"missing-{uuid.uuid4().hex[:8]}",
                           "STRIPE_SECRET": "pk_test_publishable_doctor"})
    bad = failed(checks)
    assert code == 1 and {"stripe key", "store"} <= set(bad)
    assert "publishable" in bad["stripe key"]["detail"] and "pk_test_publishable_doctor" not in json.dumps(checks)
    assert "gateway create-table" in bad["store"]["fix"]
    code, checks = doctor(setup)  # a good key, but no endpoint for this PUBLIC_URL yet
    assert failed(checks)["webhook endpoint"]["detail"].startswith("no Stripe webhook endpoint for https://")
    assert "Developers -> Webhooks" in failed(checks)["webhook endpoint"]["fix"]


def test_doctor_finds_a_key_stripe_refuses_and_the_wrong_mode(setup):
    # the emulator refuses live keys, as Stripe refuses a revoked one
    code, checks = doctor({**setup, "STRIPE_SECRET": "sk_live_revoked_doctor"})
    bad = failed(checks)
    assert code == 1 and {"stripe mode", "stripe accepts key"} <= set(bad)
    assert "API keys" in bad["stripe accepts key"]["fix"] and "sk_test_" in bad["stripe mode"]["fix"]


def test_doctor_wants_https_return_urls_in_production(setup):
    production = {**setup, "ENVIRONMENT": "production", "CHECKOUT_SUCCESS_URL": "http://shop.example/ok",
                  "CHECKOUT_CANCEL_URL": "https://shop.example/no"}
    _, checks = doctor(production)
    bad = failed(checks)
    assert "CHECKOUT_SUCCESS_URL" in bad and "CHECKOUT_CANCEL_URL" not in bad
    assert "stripe mode" in bad  # a test key in production
