"""Abuse limits and HTTP hygiene, checked before any resolver runs."""

from __future__ import annotations

import pytest

from conftest import gateway_env, running_gateway

QUOTE_MUTATION = 'createCartQuote(input: {items: [{sku: "N-RED", quantity: 1}]}) { quote { signature } }'


def refused_before_running(gateway, query: str) -> dict:
    before = gateway.stored_quotes()
    response = gateway.post({"query": query})
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    assert gateway.stored_quotes() == before  # no resolver ran
    return body


def test_depth_11_is_refused(gateway):
    inner = "sku"
    for _ in range(5):
        inner = f"viewer {{ orders {{ edges {{ node {{ items {{ {inner} }} }} }} }} }}"
    refused_before_running(gateway, f"{{ {inner} }}")


def test_circular_fragments_are_refused(gateway):
    refused_before_running(gateway, """
        mutation { ...A }
        fragment A on Mutation { ...B createCartQuote(input: {items: []}) { userErrors { code } } }
        fragment B on Mutation { ...A }""")


def test_a_thousand_aliases_are_refused(gateway):
    aliases = " ".join(f"a{n}: __typename" for n in range(999))
    refused_before_running(gateway, f"mutation {{ q: {QUOTE_MUTATION} {aliases} }}")


def test_alias_amplification_through_fragments_is_refused(gateway):
    fragment = "fragment F on Mutation {" + " ".join(f"a{n}: {QUOTE_MUTATION}" for n in range(10)) + "}"
    spreads = " ".join("...F" for _ in range(10))
    refused_before_running(gateway, f"mutation {{ {spreads} }} {fragment}")


def test_ten_thousand_tokens_are_refused(gateway):
    refused_before_running(gateway, "mutation { " + QUOTE_MUTATION + " " + "__typename " * 5000 + "}")


def test_batched_operations_are_off(gateway):
    response = gateway.http.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    assert response.status_code == 400


def test_security_headers_on_every_response(gateway):
    for response in (gateway.http.get("/healthz"), gateway.post({"query": "{ __typename }"})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("size", [70_000, 1_000_000])
def test_oversized_bodies_are_413(gateway, size):
    response = gateway.http.post("/graphql", content=b'{"query": "' + b" " * size + b'{ __typename }"}',
                                 headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    env = gateway_env(tmp_path_factory.mktemp("prod"), ENVIRONMENT="production",
                      STRIPE_SECRET="sk_test_prod_checks", STRIPE_WEBHOOK_SECRET="whsec_prod",
                      CHECKOUT_SUCCESS_URL="https://shop.example/ok", CHECKOUT_CANCEL_URL="https://shop.example/no")
    with running_gateway(env) as client:
        yield client


def test_production_hides_introspection_graphiql_and_suggestions(production):
    body = production.gql("{ __schema { types { name } } }")
    assert body.get("data") is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    page = production.http.get("/graphql", headers={"accept": "text/html"})
    assert "graphiql" not in page.text.lower(), page.status_code
    typo = production.gql("{ prodcts { sku } }")
    assert "Did you mean" not in typo["errors"][0]["message"]
    assert production.http.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


def test_development_keeps_them(gateway):
    assert "Did you mean" in gateway.gql("{ prodcts { sku } }")["errors"][0]["message"]
    assert gateway.gql("{ __schema { queryType { name } } }")["data"]["__schema"]["queryType"]["name"] == "Query"


def test_the_cost_limit_counts_pages_by_first(gateway):
    node = "node { id orderNumber status " + " ".join(
        f"i{n}: items {{ sku name quantity unitPrice {{ amount currency }} total {{ amount }} }}" for n in range(10)) + " }"
    costly = "query { viewer { orders(first: 100) { edges { cursor " + node + " } } } }"
    body = refused_before_running(gateway, costly)
    assert "costs" in body["errors"][0]["message"]
    token = gateway.token("cost-user", email="c@example.com")
    cheap = gateway.gql("query { viewer { orders(first: 100) { edges { node { id status } } } } }", token=token)
    assert "errors" not in cheap
    variable = gateway.gql("query($n: Int) { viewer { orders(first: $n) { edges { " + node + " } } } }",
                           {"n": 1}, token)
    assert variable["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # priced at the largest page
