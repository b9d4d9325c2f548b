"""Abuse limits and HTTP hygiene, checked before any resolver runs."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from tests.live_gateway import gateway_env, running_gateway

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
    items = " ".join(f"i{n}: items {{ sku name quantity unitPrice {{ amount currency }} total {{ amount }} }}"
                     for n in range(10))
    node = "node { id orderNumber status " + items + " }"
    costly = "query { viewer { orders(first: 100) { edges { cursor " + node + " } } } }"
    body = refused_before_running(gateway, costly)
    assert "costs" in body["errors"][0]["message"]
    token = gateway.token("cost-user", email="c@example.com")
    cheap = gateway.gql("query { viewer { orders(first: 100) { edges { node { id status } } } } }", token=token)
    assert "errors" not in cheap
    variable = gateway.gql("query($n: Int) { viewer { orders(first: $n) { edges { " + node + " } } } }",
                           {"n": 1}, token)
    assert variable["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # priced at the largest page


# ---- bodies outside JSON: the usual error shape, never a plain-text 500 (issue 15, 7) ----

DEEP = 1000
JSON_HEADERS = {"content-type": "application/json"}
NOT_JSON_BODIES: dict[str, dict[str, Any]] = {
    "invalid UTF-8 in a string": dict(content=b'{"query": "{ __typename }", "x": "\xff\xfe"}', headers=JSON_HEADERS),
    "invalid UTF-8 before the object": dict(content=b'\xff{"query": "{ __typename }"}', headers=JSON_HEADERS),
    "a body nested 1,000 deep": dict(content=b"[" * DEEP + b"]" * DEEP, headers=JSON_HEADERS),
    "variables nested 1,000 deep": dict(
        content=b'{"query": "{ __typename }", "variables": {"v": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}}",
        headers=JSON_HEADERS),
    "truncated JSON": dict(content=b'{"query": ', headers=JSON_HEADERS),
    "a form body": dict(content=b"query=%ff", headers={"content-type": "application/x-www-form-urlencoded"}),
    "query not a string": dict(content=b'{"query": 5}', headers=JSON_HEADERS),
}


@pytest.mark.parametrize("name", NOT_JSON_BODIES)
def test_a_body_that_is_not_a_graphql_json_request_is_a_coded_400_with_a_request_id(gateway, name):
    given = {**NOT_JSON_BODIES[name]}
    headers = {**given.pop("headers"), "x-request-id": "body-probe-123"}
    response = gateway.http.post("/graphql", headers=headers, **given)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "requestId": "body-probe-123"}
    assert gateway.http.get("/healthz").status_code == 200


@pytest.mark.parametrize("variables", [
    "[" * DEEP + "]" * DEEP,
    '{"a":' * DEEP + "1" + "}" * DEEP,
    '{"v": "unterminated',
])
def test_get_variables_nested_too_deep_or_broken_are_a_coded_400_with_a_request_id(gateway, variables):
    response = gateway.http.get("/graphql", params={"query": "{ __typename }", "variables": variables},
                                headers={"accept": "application/json"})
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and len(error["extensions"]["requestId"]) >= 8


# ---- smaller leaks (issue 15, 8) ---------------------------------------------------

def test_production_never_suggests_names_from_the_schema(production):
    """Not for fields, arguments, types, nor input fields and enum values in literals or
    in variables (where the suggestion sits in the middle of the message)."""
    quote = "mutation($i: CreateCartQuoteInput!) { createCartQuote(input: $i) { quote { signature } } }"
    probes: list[tuple[str, dict | None, list[str]]] = [  # (query, variables, the names only a suggestion gives away)
        ("{ prodcts { sku } }", None, ["'products'"]),
        ('{ checkoutSession(idd: "cs_test_1") { id } }', None, []),
        ("query($i: CartItmInput) { __typename }", None, ["CartItemInput"]),
        ('mutation { createCartQuote(input: {itms: []}) { quote { signature } } }', None, []),
        ('mutation { createCartQuote(input: {items: [{skuu: "N-RED", quantity: 1}]}) { quote { signature } } }',
         None, []),
        (quote, {"i": {"items": [{"skuu": "N-RED", "quantity": 1}]}}, []),
        (quote, {"i": {"itemz": []}}, []),
        ("{ products { sku ... on Prodct { name } } }", None, ["'Product'"]),
        ("{ products @skp { sku } }", None, ["skip"]),
    ]
    for query, variables, hidden in probes:
        response = production.post({"query": query, "variables": variables})
        messages = [e["message"] for e in response.json()["errors"]]
        assert messages, query
        for message in messages:
            assert "Did you mean" not in message, message
            assert not any(name in message for name in hidden), message


@pytest.fixture
def slow_bodies(tmp_path):
    with running_gateway(gateway_env(tmp_path, BODY_TIMEOUT_SECONDS="1")) as client:
        yield client


def trickle(gateway, path: str, connections: int, seconds: float) -> list[bytes]:
    """Open connections that send their headers, then a byte of body now and then; what
    each received by the time the server closed it (b"" if it is still open)."""
    import socket
    import time

    host, port = gateway.url.removeprefix("http://").split(":")
    sockets = []
    for _ in range(connections):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     "Content-Length: 60000\r\n\r\n{".encode())
        sock.settimeout(0.01)
        sockets.append(sock)
    received = [b""] * connections
    closed = [False] * connections
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(closed):
        for n, sock in enumerate(sockets):
            if closed[n]:
                continue
            try:
                chunk = sock.recv(65536)  # read before writing: a write after the close resets
                received[n] += chunk
                closed[n] = chunk == b""
                if not closed[n]:
                    continue
            except TimeoutError:
                pass
            except OSError:
                closed[n] = True
            if not closed[n]:
                with contextlib.suppress(OSError):  # closed: the next recv says so
                    sock.sendall(b" ")
        time.sleep(0.1)
    for sock in sockets:
        sock.close()
    return [data if done else b"" for data, done in zip(received, closed, strict=True)]


@pytest.mark.parametrize("path", ["/graphql", "/stripe/webhook"])
def test_a_body_that_trickles_in_is_answered_408_and_its_connection_closed(slow_bodies, path):
    answers = trickle(slow_bodies, path, connections=20, seconds=6)
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer[:200]
        error = __import__("json").loads(body)["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["requestId"]
    assert slow_bodies.gql("{ __typename }")["data"] == {"__typename": "Query"}


def test_a_body_that_arrives_in_time_is_served(slow_bodies):
    response = slow_bodies.http.post("/graphql", content=b'{"query": "{ __typename }"}', headers=JSON_HEADERS)
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}


def test_readyz_is_unavailable_and_says_why_when_the_database_disk_is_short_of_space(tmp_path):
    import shutil

    free_mb = shutil.disk_usage(tmp_path).free // (1024 * 1024)
    env = gateway_env(tmp_path, READY_MIN_FREE_DISK_MB=str(free_mb + 1024))
    with running_gateway(env) as short:
        response = short.http.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable" and body["store"] == "ok"
        assert "MB free in" in body["disk"] and "READY_MIN_FREE_DISK_MB" in body["disk"]
        assert short.http.get("/healthz").status_code == 200  # alive, only not ready


def test_readyz_is_ok_with_room_on_the_disk(gateway):
    assert gateway.http.get("/readyz").status_code == 200


@pytest.mark.parametrize("query", [
    "query { ...X }",
    "query { ...on Query { ...X } }",
    "query { products { ...X } } fragment Y on Product { sku }",
])
def test_a_spread_of_an_unknown_fragment_is_bad_user_input_not_a_server_error(gateway, query):
    body = gateway.post({"query": query}).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "Unknown fragment 'X'" in error["message"]


@pytest.mark.parametrize("method, path, status, code", [
    ("PUT", "/graphql", 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", "/graphql", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/no-such-route", 404, "NOT_FOUND"),
    ("GET", "/stripe/webhook", 405, "METHOD_NOT_ALLOWED"),
])
def test_other_routes_and_methods_answer_in_the_json_error_shape_with_a_request_id(gateway, method, path, status, code):
    response = gateway.http.request(method, path)
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]


def test_one_request_runs_at_most_one_checkout_however_it_is_aliased(gateway):
    aliased = "mutation { " + " ".join(
        f'c{n}: createCheckoutSession(input: {{quoteSignature: "{"s" * 43}"}}) {{ userErrors {{ code }} }}'
        for n in range(3)) + " }"
    body = gateway.post({"query": aliased}).json()
    assert body.get("data") is None and "createCheckoutSession once" in body["errors"][0]["message"]
    through_a_fragment = ('mutation { ...Two } fragment Two on Mutation { '
                          'a: updateProfile(input: {displayName: "a"}) { userErrors { code } } '
                          'b: updateProfile(input: {displayName: "b"}) { userErrors { code } } }')
    body = gateway.post({"query": through_a_fragment}).json()
    assert body.get("data") is None and "updateProfile once" in body["errors"][0]["message"]


async def test_the_emulated_stripe_answers_this_machine_only_but_its_pay_pages_anyone(tmp_path):
    """`gateway serve --host 0.0.0.0` in development: a phone on the network may open the
    pay page; nobody off this machine may read the webhook secret or drive the emulator."""
    import httpx

    from server import create_app
    from settings import load_settings

    app = create_app(load_settings(gateway_env(tmp_path)))

    async def get(path: str, client: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return await http.get(path, headers={"authorization": "Bearer sk_test_x"})

    for path in ("/_stripe/_emulator/webhooks", "/_stripe/v1/customers"):
        far = await get(path, "192.0.2.7")
        assert far.status_code == 403 and "this machine only" in far.json()["error"]["message"]
        assert (await get(path, "127.0.0.1")).status_code == 200
    assert (await get("/_stripe/pay/cs_test_nothing", "192.0.2.7")).status_code != 403
