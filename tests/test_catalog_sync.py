"""`gateway catalog sync` against a Stripe (the emulator, through the real SDK)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from tests.services import ServerThread

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "catalog" / "products.json"


def sync(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "catalog", "sync"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture
def empty_emulator_url() -> Iterator[str]:
    """An emulator of its own: the first sync must find an empty catalog, whatever ran before."""
    from stripe_emulator import Emulator

    server = ServerThread(Emulator(webhook_urls=[], webhook_secret=None, public_url=None).app).start()
    try:
        yield server.url
    finally:
        server.stop()


def test_catalog_sync_is_idempotent_and_follows_price_changes(tmp_path, empty_emulator_url):
    stripe_emulator_url = empty_emulator_url
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "COMMERCE_"))},
           "STRIPE_SECRET": "sk_test_catalog", "STRIPE_API_BASE": stripe_emulator_url,
           "GATEWAY_DB": str(tmp_path / "g.db"), "CATALOG_PATH": str(SAMPLE)}
    first = sync(env)
    assert first.returncode == 0, first.stderr
    assert "20 created, 0 updated, 0 unchanged" in first.stdout
    again = sync(env)
    assert "0 created, 0 updated, 20 unchanged" in again.stdout

    client = stripe.StripeClient("sk_test_catalog", base_addresses={"api": stripe_emulator_url})
    red = client.v1.prices.list(params={"lookup_keys": ["N-RED"]}).data
    assert [(p.unit_amount, p.currency) for p in red] == [(3000, "usd")]

    changed = json.loads(SAMPLE.read_text())
    next(p for p in changed["products"] if p["sku"] == "N-RED")["price"] = 3200
    (tmp_path / "products.json").write_text(json.dumps(changed))
    moved = sync({**env, "CATALOG_PATH": str(tmp_path / "products.json")})
    assert "0 created, 1 updated, 19 unchanged" in moved.stdout, moved.stdout + moved.stderr
    red = client.v1.prices.list(params={"lookup_keys": ["N-RED"]}).data
    assert [(p.unit_amount, p.product) for p in red] == [(3200, red[0].product)]
    assert red[0].tax_behavior == "exclusive"  # Stripe Tax needs to know; STRIPE_TAX_BEHAVIOR says

    inclusive = sync({**env, "CATALOG_PATH": str(tmp_path / "products.json"), "STRIPE_TAX_BEHAVIOR": "inclusive"})
    assert "0 created, 20 updated, 0 unchanged" in inclusive.stdout, inclusive.stdout + inclusive.stderr
    red = client.v1.prices.list(params={"lookup_keys": ["N-RED"]}).data
    assert [(p.unit_amount, p.tax_behavior) for p in red] == [(3200, "inclusive")]


def test_catalog_sync_without_a_key_says_what_to_do(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")},
           "GATEWAY_DB": str(tmp_path / "g.db")}
    result = sync(env)
    assert result.returncode == 2 and "STRIPE_SECRET" in result.stderr


def test_catalog_sync_with_stripe_down_fails_cleanly(tmp_path):
    from tests.services import free_port

    env = {**os.environ, "STRIPE_SECRET": "sk_test_x", "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
           "STRIPE_MAX_NETWORK_RETRIES": "0", "GATEWAY_DB": str(tmp_path / "g.db")}
    result = sync(env)
    assert result.returncode == 1 and "catalog sync failed" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
