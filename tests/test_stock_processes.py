"""Two gateway processes (`gateway serve`, each its own process) sharing one store and one
Stripe (a standalone emulator): carts racing for five pieces across both never hold or
sell more than five."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.live_gateway import JWT_SECRET, engine_env, gateway_env
from tests.services import ROOT, free_port, wait_for_port
from tests.stock_helpers import ADMIN_PRODUCTS, ORDER_OF_SESSION, QUOTE, SET_STOCK, checkout, counted_catalog


def gql(url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}},
                          headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(params=["sqlite", "dynamodb"])
def two_gateways(request, tmp_path, stripe_emulator_url):
    env = {**os.environ, **gateway_env(tmp_path, CATALOG_PATH=str(counted_catalog(tmp_path)), **engine_env(request)),
           "STRIPE_SECRET": "sk_test_two_processes", "STRIPE_API_BASE": stripe_emulator_url}
    procs, urls, logs = [], [], []
    try:
        for n in range(2):
            port = free_port()
            log = (tmp_path / f"gateway{n}.log").open("w")
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)], cwd=ROOT,
                env={**env, "PUBLIC_URL": f"http://127.0.0.1:{port}"}, stdout=log, stderr=subprocess.STDOUT))
            wait_for_port(port, procs[-1])
            urls.append(f"http://127.0.0.1:{port}")
        yield urls, stripe_emulator_url
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        for log in logs:
            log.close()


def test_two_processes_never_hold_or_sell_more_than_is_on_hand(two_gateways):
    from web.auth import mint_token

    (first, second), emulator = two_gateways
    admin = mint_token(JWT_SECRET, "admin", admin=True)
    pieces = ("BR-PEARL", "BR-CHARM", "BR-CUFF")
    for sku in pieces:
        assert gql(first, SET_STOCK, {"sku": sku, "n": 5}, admin)["data"]["setStock"]["userErrors"] == []
    carts: list[list[dict]] = [[{"sku": sku, "quantity": 1 + (n + i) % 2} for i, sku in enumerate(pieces)]
                               for n in range(16)]
    signatures = [gql(first, QUOTE, {"items": cart})["data"]["createCartQuote"]["quote"]["signature"]
                  for cart in carts]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda n: checkout((first, second)[n % 2], signatures[n], f"p{n}@example.com"),
                                range(16)))
    made = [(n, r["checkoutSession"]["id"]) for n, r in enumerate(results) if r["checkoutSession"]]
    assert made and all(r["userErrors"][0]["code"] == "OUT_OF_STOCK" for r in results if not r["checkoutSession"])
    held = {sku: sum(int(line["quantity"]) for n, _ in made for line in carts[n] if line["sku"] == sku)
            for sku in pieces}
    assert all(units <= 5 for units in held.values()), held
    for n, session_id in made:
        paid = httpx.post(f"{emulator}/_emulator/checkout/sessions/{session_id}/pay",
                          json={"card_number": "4242424242424242", "email": "p@example.com"}, timeout=30)
        assert paid.status_code == 200, paid.text
        order = gql((second, first)[n % 2], ORDER_OF_SESSION, {"id": session_id})["data"]["checkoutSession"]["order"]
        assert order["status"] == "PAID"
    shown = {p["sku"]: p for p in gql(second, ADMIN_PRODUCTS, token=admin)["data"]["adminProducts"]}
    for sku in pieces:
        level = shown[sku]
        assert (level["onHand"], level["reserved"], level["sold"]) == (5 - held[sku], 0, held[sku]), level
    print(f"\ntwo processes, 16 carts of 3 lines on 5 of each: {len(made)} sessions, sold {held}")
