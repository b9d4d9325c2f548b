"""Shared parts of the stock tests: a catalog whose pieces are counted, and the GraphQL
calls a shopper and an admin make."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.services import ROOT

UNCOUNTED = "E-FRINGE"  # left without `stock`: unlimited
QUOTE = """mutation($items: [CartItemInput!]!) { createCartQuote(input: {items: $items}) {
  quote { signature items { sku available } } userErrors { code message } } }"""
CHECKOUT = """mutation($sig: ID!, $email: String) {
  createCheckoutSession(input: {quoteSignature: $sig, email: $email}) {
    checkoutSession { id url status expiresAt } userErrors { field code message } } }"""
SET_STOCK = """mutation($sku: String!, $n: Int!) { setStock(input: {sku: $sku, onHand: $n}) {
  product { sku onHand reserved available sold } userErrors { field code message } } }"""
ADMIN_PRODUCTS = "{ adminProducts { sku tracked onHand reserved available sold } }"
PRODUCTS = "{ products { sku available inStock } }"
ORDER_OF_SESSION = "query($id: ID!) { checkoutSession(id: $id) { status order { id status } } }"


def counted_catalog(directory: Path, stock: int = 100) -> Path:
    """The sample catalog with every piece but UNCOUNTED counted, `stock` of each to start."""
    data = json.loads((ROOT / "catalog" / "products.json").read_text())
    for product in data["products"]:
        if product["sku"] != UNCOUNTED:
            product["stock"] = stock
    path = directory / "products.json"
    path.write_text(json.dumps(data))
    return path


def admin(gateway) -> str:
    return gateway.token("stock-admin", admin=True)


def set_stock(gateway, sku: str, on_hand: int) -> dict:
    body = gateway.gql(SET_STOCK, {"sku": sku, "n": on_hand}, admin(gateway))
    assert "errors" not in body, body
    return body["data"]["setStock"]


def levels(gateway) -> dict[str, dict]:
    body = gateway.gql(ADMIN_PRODUCTS, token=admin(gateway))
    assert "errors" not in body, body
    return {p["sku"]: p for p in body["data"]["adminProducts"]}


def quote(gateway, items: list[dict]) -> str:
    body = gateway.gql(QUOTE, {"items": items})["data"]["createCartQuote"]
    assert body["userErrors"] == [], body
    return body["quote"]["signature"]


def checkout(url: str, signature: str, email: str | None = None) -> dict:
    """On its own connection, as each shopper's browser."""
    response = httpx.post(f"{url}/graphql", json={"query": CHECKOUT, "variables": {"sig": signature, "email": email}},
                          timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["createCheckoutSession"]


def pay(gateway, session_id: str, card: str = "4242424242424242") -> httpx.Response:
    return gateway.http.post(f"/_stripe/_emulator/checkout/sessions/{session_id}/pay",
                             json={"card_number": card, "email": "buyer@example.com"}, timeout=60)


def order_status(gateway, session_id: str) -> str | None:
    found = gateway.gql(ORDER_OF_SESSION, {"id": session_id})["data"]["checkoutSession"]
    return found["order"]["status"] if found and found["order"] else None
