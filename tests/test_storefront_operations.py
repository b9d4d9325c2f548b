"""The storefront's operations (examples/storefront/operations/*.graphql) are valid
against the committed schema.graphql, and each one runs against the gateway."""

from __future__ import annotations

from pathlib import Path

import httpx
from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = sorted((ROOT / "examples" / "storefront" / "operations").glob("*.graphql"))


def test_every_storefront_operation_is_valid_against_the_committed_schema():
    schema = build_schema((ROOT / "schema.graphql").read_text())
    assert len(OPERATIONS) >= 7
    problems = {path.name: [e.message for e in validate(schema, parse(path.read_text()))]
                for path in OPERATIONS}
    assert {name: errors for name, errors in problems.items() if errors} == {}


def document(name: str) -> str:
    return (ROOT / "examples" / "storefront" / "operations" / name).read_text()


def run(gateway, file: str, operation: str, variables: dict, token: str | None = None) -> dict:
    response = gateway.post({"query": document(file), "operationName": operation, "variables": variables}, token)
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_the_storefront_flow_runs_with_its_own_operations(gateway):
    token = gateway.token("storefront-user", email="shop@example.com")
    products = run(gateway, "products.graphql", "Products", {})["products"]
    assert {p["sku"] for p in products} >= {"N-RED", "N-ORG", "E-MAG-SIL"}
    quote = run(gateway, "quote.graphql", "CreateCartQuote",
                {"items": [{"sku": "N-RED", "quantity": 1}]}, token)["createCartQuote"]["quote"]
    assert run(gateway, "quote.graphql", "Quote", {"signature": quote["signature"]})["quote"]["total"] == quote["total"]
    session = run(gateway, "checkout.graphql", "CreateCheckoutSession",
                  {"quoteSignature": quote["signature"]}, token)["createCheckoutSession"]["checkoutSession"]
    httpx.post(session["url"], data={"email": "shop@example.com", "card_number": "4242424242424242"})
    success = run(gateway, "success.graphql", "CheckoutSuccess", {"id": session["id"]}, token)["checkoutSession"]
    assert success["paid"] and success["order"]["id"] == session["id"]
    dashboard = run(gateway, "dashboard.graphql", "Dashboard", {}, token)["viewer"]
    assert dashboard["orders"]["edges"][0]["node"]["id"] == session["id"]
    detail = run(gateway, "order.graphql", "OrderDetail", {"id": session["id"]}, token)["order"]
    assert detail["total"] == quote["total"]
    updated = run(gateway, "profile.graphql", "UpdateProfile",
                  {"input": {"displayName": "Shopper"}}, token)["updateProfile"]
    assert updated["profile"]["displayName"] == "Shopper"
