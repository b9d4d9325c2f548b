"""createCartQuote, quote and products through GraphQL over HTTP."""

from __future__ import annotations

import pytest

CREATE = """
mutation Create($input: CreateCartQuoteInput!) {
  createCartQuote(input: $input) {
    quote {
      signature
      items { sku name quantity unitPrice { amount currency } total { amount } discount { amount } }
      subtotal { amount currency } discount { amount } total { amount currency }
      expiresAt
    }
    userErrors { field code message }
  }
}"""
QUOTE = ("query Q($s: ID!) { quote(signature: $s) "
         "{ signature total { amount currency } items { sku quantity } expiresAt } }")


def create(gateway, items, token=None):
    return gateway.gql(CREATE, {"input": {"items": items}}, token)


def test_products_lists_the_catalog_with_the_live_shop_prices(gateway):
    data = gateway.gql("{ products { sku name active price { amount currency } bundleItems { sku quantity } } }")
    products = {p["sku"]: p for p in data["data"]["products"]}
    assert products["N-RED"]["price"] == {"amount": 3000, "currency": "USD"}
    assert products["N-ORG"]["price"] == {"amount": 3000, "currency": "USD"}
    assert products["E-MAG-SIL"]["price"] == {"amount": 2500, "currency": "USD"}
    assert len([p for p in products.values() if not p["bundleItems"]]) == 18
    assert any(p["bundleItems"] for p in products.values())


def test_a_quote_is_priced_on_the_server_and_can_be_read_back(gateway):
    before = gateway.stored_quotes()
    payload = create(gateway, [{"sku": "N-RED", "quantity": 2}, {"sku": "E-MAG-SIL", "quantity": 1}])
    result = payload["data"]["createCartQuote"]
    assert result["userErrors"] == []
    quote = result["quote"]
    assert quote["subtotal"] == {"amount": 8500, "currency": "USD"}
    assert quote["discount"]["amount"] == 0
    assert quote["total"] == {"amount": 8500, "currency": "USD"}
    assert [(i["sku"], i["quantity"], i["total"]["amount"]) for i in quote["items"]] == [
        ("N-RED", 2, 6000), ("E-MAG-SIL", 1, 2500)]
    assert gateway.stored_quotes() == before + 1

    read = gateway.gql(QUOTE, {"s": quote["signature"]})["data"]["quote"]
    assert read["total"] == quote["total"]
    assert read["expiresAt"] == quote["expiresAt"]


def test_a_bundle_is_charged_its_bundle_price_and_shows_the_saving(gateway):
    products = gateway.gql("{ products { sku price { amount } compareAtPrice { amount } bundleItems { sku } } }")
    bundle = next(p for p in products["data"]["products"] if p["bundleItems"])
    quote = create(gateway, [{"sku": bundle["sku"], "quantity": 2}])["data"]["createCartQuote"]["quote"]
    saving = bundle["compareAtPrice"]["amount"] - bundle["price"]["amount"]
    assert saving > 0
    assert quote["total"]["amount"] == 2 * bundle["price"]["amount"]
    assert quote["discount"]["amount"] == 2 * saving
    assert quote["subtotal"]["amount"] == quote["total"]["amount"] + quote["discount"]["amount"]
    assert quote["items"][0]["discount"]["amount"] == 2 * saving


def test_duplicate_skus_are_merged_into_one_line(gateway):
    quote = create(gateway, [{"sku": "N-RED", "quantity": 1}, {"sku": "N-ORG", "quantity": 1},
                             {"sku": "N-RED", "quantity": 3}])["data"]["createCartQuote"]["quote"]
    assert [(i["sku"], i["quantity"]) for i in quote["items"]] == [("N-RED", 4), ("N-ORG", 1)]
    assert quote["total"]["amount"] == 5 * 3000


@pytest.mark.parametrize("items, code, field", [
    ([], "CART_EMPTY", ["input", "items"]),
    ([{"sku": "NOPE", "quantity": 1}], "UNKNOWN_SKU", ["input", "items", "0", "sku"]),
    ([{"sku": "", "quantity": 1}], "UNKNOWN_SKU", ["input", "items", "0", "sku"]),
    ([{"sku": "n-red", "quantity": 1}], "UNKNOWN_SKU", ["input", "items", "0", "sku"]),
    ([{"sku": "N-RED\u0000' OR 1=1", "quantity": 1}], "UNKNOWN_SKU", ["input", "items", "0", "sku"]),
    ([{"sku": "N-RED", "quantity": 0}], "QUANTITY_OUT_OF_RANGE", ["input", "items", "0", "quantity"]),
    ([{"sku": "N-RED", "quantity": -3}], "QUANTITY_OUT_OF_RANGE", ["input", "items", "0", "quantity"]),
    ([{"sku": "N-RED", "quantity": 100}], "QUANTITY_OUT_OF_RANGE", ["input", "items", "0", "quantity"]),
    ([{"sku": "N-RED", "quantity": 60}, {"sku": "N-RED", "quantity": 60}],
     "QUANTITY_OUT_OF_RANGE", ["input", "items", "0", "quantity"]),
    ([{"sku": "N-BOHO-TASSEL", "quantity": 1}], "PRODUCT_UNAVAILABLE", ["input", "items", "0", "sku"]),
    ([{"sku": "N-RED", "quantity": 1}] * 51, "INVALID_INPUT", ["input", "items"]),
])
def test_bad_carts_get_user_errors_and_nothing_is_stored(gateway, items, code, field):
    before = gateway.stored_quotes()
    result = create(gateway, items)
    assert "errors" not in result
    payload = result["data"]["createCartQuote"]
    assert payload["quote"] is None
    assert code in [e["code"] for e in payload["userErrors"]]
    assert field in [e["field"] for e in payload["userErrors"]]
    assert gateway.stored_quotes() == before


def test_every_problem_in_a_cart_is_reported_at_once(gateway):
    payload = create(gateway, [{"sku": "NOPE", "quantity": 1}, {"sku": "N-RED", "quantity": 0}])
    errors = payload["data"]["createCartQuote"]["userErrors"]
    assert {(e["code"], tuple(e["field"])) for e in errors} == {
        ("UNKNOWN_SKU", ("input", "items", "0", "sku")),
        ("QUANTITY_OUT_OF_RANGE", ("input", "items", "1", "quantity")),
    }


def test_a_huge_sku_is_not_echoed_back_in_full(gateway):
    payload = create(gateway, [{"sku": "X" * 5000, "quantity": 1}])
    message = payload["data"]["createCartQuote"]["userErrors"][0]["message"]
    assert len(message) < 100


@pytest.mark.parametrize("variables", [
    {"input": {"items": [{"sku": "N-RED", "quantity": "two"}]}},
    {"input": {"items": [{"sku": "N-RED", "quantity": 1.5}]}},
    {"input": {"items": [{"sku": "N-RED", "quantity": 2**40}]}},
    {"input": {"items": [{"sku": None, "quantity": 1}]}},
    {"input": {"items": [{"sku": "N-RED"}]}},
    {"input": {"items": "N-RED"}},
    {"input": {"items": [{"sku": "N-RED", "quantity": 1, "price": 1}]}},
    {"input": None},
    {},
])
def test_ill_typed_input_is_bad_user_input_and_nothing_is_stored(gateway, variables):
    before = gateway.stored_quotes()
    response = gateway.post({"query": CREATE, "variables": variables})
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"] * len(body["errors"])
    assert gateway.stored_quotes() == before


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"query": 5}', b'"just a string"',
                                  b'{"query": "{ products { sku } }", "variables": "x"}',
                                  b"\xff\xfe garbage"])
def test_garbage_http_bodies_never_get_a_500(gateway, body):
    response = gateway.http.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500 or (
        response.status_code == 200 and response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    ), response.text


@pytest.mark.parametrize("query", [
    "{ products { sku }",  # syntax
    "{ products { nope } }",  # validation
    "{ quote { total { amount } } }",  # missing argument
    "mutation { createCartQuote(input: {items: [{sku: 1, quantity: 1}]}) { quote { total { amount } } } }",
])
def test_bad_documents_are_bad_user_input(gateway, query):
    body = gateway.gql(query)
    assert body["errors"] and all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in body["errors"])


def test_unknown_signature_is_null_and_a_malformed_one_is_bad_user_input(gateway):
    unknown = gateway.gql(QUOTE, {"s": "A" * 43})
    assert unknown == {"data": {"quote": None}}
    for garbage in ["", "x", "A" * 44, "A" * 42 + "!", "' OR 1=1 --", "QUOTE#x/CACHE" + "A" * 30]:
        body = gateway.gql(QUOTE, {"s": garbage})
        assert body["data"] == {"quote": None}
        extensions = body["errors"][0]["extensions"]
        assert extensions == {"code": "BAD_USER_INPUT", "reason": "QUOTE_INVALID",
                              "requestId": extensions["requestId"]}


def test_quotes_work_for_signed_in_shoppers_too(gateway):
    token = gateway.token("shopper-1", email="s@example.com")
    payload = create(gateway, [{"sku": "N-RED", "quantity": 1}], token)
    assert payload["data"]["createCartQuote"]["quote"]["total"]["amount"] == 3000


def test_graphiql_is_served_to_a_browser(gateway):
    response = gateway.http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_health_and_readiness(gateway):
    assert gateway.http.get("/healthz").json() == {"status": "ok"}
    assert gateway.http.get("/readyz").json() == {"status": "ok", "store": "ok"}


@pytest.fixture(scope="module")
def cheap_shop(tmp_path_factory):
    """A catalog with a 30-cent charm: under Stripe's 50-cent minimum alone, over it twice."""
    import json

    from tests.live_gateway import gateway_env, running_gateway

    tmp = tmp_path_factory.mktemp("cheap")
    (tmp / "products.json").write_text(json.dumps({"currency": "USD", "products": [
        {"sku": "CHARM-TINY", "name": "Tiny charm", "category": "accessories", "description": "A tiny charm.",
         "price": 30, "active": True}]}))
    with running_gateway(gateway_env(tmp, CATALOG_PATH=str(tmp / "products.json"))) as client:
        yield client


def test_a_cart_under_stripes_minimum_charge_is_refused_at_quote_time(cheap_shop):
    before = cheap_shop.stored_quotes()
    body = create(cheap_shop, [{"sku": "CHARM-TINY", "quantity": 1}])["data"]["createCartQuote"]
    assert body["quote"] is None
    [error] = body["userErrors"]
    assert error["code"] == "BELOW_MINIMUM_CHARGE" and error["field"] == ["input", "items"]
    assert "0.30 USD" in error["message"] and "0.50 USD" in error["message"]
    assert cheap_shop.stored_quotes() == before
    two = create(cheap_shop, [{"sku": "CHARM-TINY", "quantity": 2}])["data"]["createCartQuote"]
    assert two["userErrors"] == [] and two["quote"]["total"]["amount"] == 60


def test_the_emulator_refuses_a_session_under_the_minimum_as_stripe_does(gateway):
    import stripe

    with pytest.raises(stripe.InvalidRequestError) as refused:
        gateway.stripe().v1.checkout.sessions.create(params={
            "mode": "payment", "success_url": "https://shop.example/ok",
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 49, "product_data": {"name": "x"}},
                            "quantity": 1}]})
    assert refused.value.code == "amount_too_small"
