"""Trusted documents (web/trusted.py): the storefront's operations by sha256 id, by POST and,
for queries, by GET, through the real app under uvicorn; TRUSTED_DOCUMENTS=only refuses
everything else; garbage is a coded 4xx, never a 500."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from graphql import OperationDefinitionNode, parse

from tests.live_gateway import gateway_env, running_gateway
from web.trusted import ManifestError, load_manifest

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "examples" / "storefront" / "persisted-documents.json"
OPERATIONS = ROOT / "examples" / "storefront" / "operations"


def document_id(operation_name: str) -> str:
    for document in load_manifest(MANIFEST):
        if document.operation_name == operation_name:
            return document.id
    raise AssertionError(f"no trusted document {operation_name}")


PRODUCTS, DASHBOARD, QUOTE_MUTATION = document_id("Products"), document_id("Dashboard"), document_id("CreateCartQuote")


@pytest.fixture(scope="module")
def only(tmp_path_factory):
    with running_gateway(gateway_env(tmp_path_factory.mktemp("only"), TRUSTED_DOCUMENTS="only")) as client:
        yield client


def code_of(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


def test_the_manifest_holds_every_storefront_operation_once_keyed_by_its_sha256():
    documents = list(load_manifest(MANIFEST))
    names = {d.operation_name for d in documents}
    written = {definition.name.value for path in OPERATIONS.glob("*.graphql")
               for definition in parse(path.read_text()).definitions
               if isinstance(definition, OperationDefinitionNode) and definition.name}
    assert names == written and len(documents) == len(written)
    for document in documents:
        assert document.id == "sha256:" + hashlib.sha256(document.text.encode()).hexdigest()
    assert {d.operation_name for d in documents if d.public} == {"Products"}


def test_a_manifest_whose_key_is_not_the_hash_of_its_text_does_not_load(tmp_path):
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"0" * 64: "query Products { products { sku } }"}))
    with pytest.raises(ManifestError, match="not the sha256"):
        load_manifest(forged)


def test_post_by_id_runs_the_document(gateway):
    response = gateway.post({"documentId": PRODUCTS, "variables": {}})
    assert response.status_code == 200, response.text
    assert {p["sku"] for p in response.json()["data"]["products"]} >= {"N-RED"}
    assert response.headers["cache-control"] == "private, no-store"  # POST: not for a CDN


def test_get_by_id_of_products_is_cacheable_by_a_cdn(gateway):
    response = gateway.http.get("/graphql", params={"documentId": PRODUCTS})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["products"]
    assert response.headers["cache-control"] == "public, max-age=60"


def test_get_by_id_with_credentials_or_of_a_viewer_query_is_private(gateway):
    token = gateway.token("cache-user")
    signed_in = gateway.http.get("/graphql", params={"documentId": PRODUCTS},
                                 headers={"authorization": f"Bearer {token}"})
    assert signed_in.status_code == 200 and signed_in.headers["cache-control"] == "private, no-store"
    dashboard = gateway.http.get("/graphql", params={"documentId": DASHBOARD, "variables": '{"first": 2}'},
                                 headers={"authorization": f"Bearer {token}"})
    assert dashboard.status_code == 200, dashboard.text
    assert "errors" not in dashboard.json() and dashboard.json()["data"]["viewer"]["userId"] == "cache-user"
    assert dashboard.headers["cache-control"] == "private, no-store"
    anonymous = gateway.http.get("/graphql", params={"documentId": DASHBOARD})
    assert anonymous.json()["data"] == {"viewer": None}
    assert anonymous.headers["cache-control"] == "private, no-store"


def test_free_text_answers_are_never_publicly_cacheable(gateway):
    response = gateway.http.get("/graphql", params={"query": "{ products { sku } }"})
    assert response.status_code == 200 and response.headers["cache-control"] == "private, no-store"


def test_a_mutation_by_get_is_refused_405_and_runs_nothing(gateway):
    before = gateway.stored_quotes()
    response = gateway.http.get("/graphql", params={
        "documentId": QUOTE_MUTATION, "variables": '{"items": [{"sku": "N-RED", "quantity": 1}]}'})
    assert response.status_code == 405 and code_of(response) == "METHOD_NOT_ALLOWED"
    assert gateway.stored_quotes() == before


def test_a_mutation_by_post_id_runs(gateway):
    token = gateway.token("trusted-quoter")
    response = gateway.post({"documentId": QUOTE_MUTATION, "variables": {"items": [{"sku": "N-RED", "quantity": 2}]}},
                            token)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["createCartQuote"]["quote"]["total"]["amount"] == 6000


def test_an_unknown_id_is_persisted_query_not_found(gateway):
    for response in (gateway.post({"documentId": "sha256:" + "ab" * 32}),
                     gateway.http.get("/graphql", params={"documentId": "sha256:" + "ab" * 32})):
        assert response.status_code == 404, response.text
        assert code_of(response) == "PERSISTED_QUERY_NOT_FOUND"
        assert response.json()["errors"][0]["extensions"]["requestId"]


@pytest.mark.parametrize("body", [
    {"documentId": 7},
    {"documentId": None},
    {"documentId": ["sha256:" + "ab" * 32]},
    {"documentId": "md5:" + "ab" * 16},
    {"documentId": "sha256:" + "AB" * 32},
    {"documentId": "sha256:" + "zz" * 32},
    {"documentId": "sha256:" + "ab" * 31},
    {"documentId": "sha256:" + "ab" * 32 + "\n"},
    {"documentId": ""},
    {"documentId": PRODUCTS, "query": "{ __typename }"},
    {"documentId": PRODUCTS, "variables": "{}"},
    {"documentId": PRODUCTS, "variables": [1]},
    {"documentId": PRODUCTS, "variables": {"x": "y" * 20_000}},
    {"documentId": PRODUCTS, "extensions": 3},
    {"documentId": PRODUCTS, "operationName": "Dashboard"},
    [{"documentId": PRODUCTS}],
], ids=repr)
def test_garbage_by_id_is_a_coded_400(gateway, body):
    response = gateway.post(body)
    assert response.status_code == 400, response.text
    assert code_of(response) == "BAD_USER_INPUT"
    assert response.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize("params", [
    {"documentId": "nope"},
    {"documentId": PRODUCTS, "variables": "{not json"},
    {"documentId": PRODUCTS, "variables": "[1]"},
    {"documentId": PRODUCTS, "query": "{ __typename }"},
    {"documentId": PRODUCTS, "variables": json.dumps({"x": "y" * 20_000})},
], ids=repr)
def test_garbage_by_get_is_a_coded_400(gateway, params):
    response = gateway.http.get("/graphql", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_document_id_inside_a_free_text_request_is_not_mistaken_for_one(gateway):
    response = gateway.post({"query": "{ __typename }", "extensions": {"documentId": "sha256:" + "ab" * 32}})
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}


def test_only_mode_runs_trusted_documents_and_refuses_any_other(only):
    assert only.post({"documentId": PRODUCTS}).status_code == 200
    assert only.http.get("/graphql", params={"documentId": PRODUCTS}).json()["data"]["products"]
    for response in (only.post({"query": "{ __typename }"}),
                     only.http.get("/graphql", params={"query": "{ __typename }"}),
                     only.post({"query": (OPERATIONS / "products.graphql").read_text()})):
        assert response.status_code == 400, response.text
        assert code_of(response) == "TRUSTED_DOCUMENT_REQUIRED"
        assert "documentId" in response.json()["errors"][0]["message"]
    unknown = only.post({"documentId": "sha256:" + "cd" * 32})
    assert unknown.status_code == 404 and code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"


def test_only_mode_lets_the_shops_admins_send_any_document_and_nobody_else(only):
    """The shop's staff use GraphiQL and examples/admin/operations, which are not in the
    storefront's manifest; a shopper's token, a forged admin token or none are refused."""
    query = {"query": "{ adminOrders(first: 1) { totalCount } }"}
    admin = only.post(query, only.token("owner", admin=True))
    assert admin.status_code == 200 and admin.json()["data"]["adminOrders"]["totalCount"] >= 0, admin.text
    forged = only.token("owner", admin=True)[:-4] + "AAAA"
    for token in (only.token("shopper"), forged, None):
        refused = only.post(query, token)
        assert refused.status_code == 400 and code_of(refused) == "TRUSTED_DOCUMENT_REQUIRED", refused.text


def test_a_trusted_document_is_neither_parsed_nor_validated_per_request(gateway):
    from strawberry.extensions.parser_cache import _get_parse_cache

    from schema.extensions import validate_document

    gateway.post({"documentId": PRODUCTS})  # warm everything else
    parse_cache = cast("functools._lru_cache_wrapper[Any]", _get_parse_cache(256))
    parsed, validated = parse_cache.cache_info(), validate_document.cache_info()
    for _ in range(3):
        assert gateway.post({"documentId": PRODUCTS}).status_code == 200
    assert parse_cache.cache_info() == parsed
    assert validate_document.cache_info() == validated
    gateway.post({"query": "query ParsedPerRequest { __typename }"})
    assert parse_cache.cache_info() != parsed  # the probe sees free text being parsed


def test_a_trusted_document_keeps_the_limits_it_was_validated_with(tmp_path):
    with running_gateway(gateway_env(tmp_path, GRAPHQL_MAX_DEPTH="2")) as shallow:
        response = shallow.post({"documentId": DASHBOARD}, shallow.token("deep-user"))
        assert response.status_code == 200
        assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]
