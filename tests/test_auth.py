"""Bearer tokens through the real HTTP path: good ones pass, bad ones are UNAUTHENTICATED."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.live_gateway import JWT_SECRET, gateway_env, running_gateway
from tests.services import ServerThread

ISSUER, AUDIENCE = "https://auth.babesclub.example/", "commerce-gateway"
PRODUCTS = "{ products { sku } }"


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {"sub": "user-1", "email": "a@example.com", "email_verified": True,
            "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict, secret: str = JWT_SECRET, headers: dict | None = None) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers)


def raw_hs256(payload: dict) -> str:
    """Signed as-is, for claims pyjwt's encoder would refuse to write."""
    return jwt.api_jws.PyJWS().encode(json.dumps(payload).encode(), JWT_SECRET, algorithm="HS256")


def unsigned(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def outcome(gateway, token: str | None = None, header: str | None = None) -> str:
    headers = {"authorization": header} if header is not None else {}
    response = gateway.post({"query": PRODUCTS}, token, **headers)
    assert response.status_code == 200
    body = response.json()
    if "errors" in body:
        assert body["data"] is None
        return body["errors"][0]["extensions"]["code"]
    assert body["data"]["products"]
    return "OK"


@pytest.fixture(scope="module")
def strict_gateway(tmp_path_factory):
    """The gateway with JWT_ISSUER and JWT_AUDIENCE set."""
    env = gateway_env(tmp_path_factory.mktemp("strict"), JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)
    with running_gateway(env) as client:
        yield client


def test_no_token_is_anonymous_and_allowed(strict_gateway):
    assert outcome(strict_gateway) == "OK"


def test_a_good_token_is_accepted(strict_gateway):
    assert outcome(strict_gateway, hs256(claims())) == "OK"


def test_a_token_expired_within_the_leeway_is_accepted(strict_gateway):
    assert outcome(strict_gateway, hs256(claims(exp=int(time.time()) - 10))) == "OK"


@pytest.mark.parametrize("name, token", [
    ("alg none", unsigned(claims())),
    ("alg none, no signature part", unsigned(claims())[:-1]),
    ("wrong secret", hs256(claims(), secret="not-the-secret-0123456789abcdefghijk")),
    ("expired", hs256(claims(exp=int(time.time()) - 3600))),
    ("not yet valid", hs256(claims(nbf=int(time.time()) + 3600))),
    ("wrong audience", hs256(claims(aud="someone-else"))),
    ("no audience", hs256(claims(aud=None))),
    ("wrong issuer", hs256(claims(iss="https://evil.example/"))),
    ("issuer prefix trick", hs256(claims(iss=ISSUER[:-1]))),
    ("issuer as a list", raw_hs256(claims(iss=[ISSUER, "x"]))),
    ("missing exp", hs256(claims(exp=None))),
    ("missing sub", hs256(claims(sub=None))),
    ("empty sub", hs256(claims(sub=""))),
    ("sub not a string", hs256(claims(sub=42))),
    ("roles not a list", hs256(claims(roles="admin"))),
    ("garbage", "not.a.jwt"),
    ("one segment", "abc"),
    ("huge", "a" * 20000),
])
def test_bad_tokens_are_unauthenticated_never_anonymous(strict_gateway, name, token):
    assert outcome(strict_gateway, token) == "UNAUTHENTICATED", name


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "token abc", "Bearerabc", "Bearer a b"])
def test_malformed_authorization_headers_are_unauthenticated(strict_gateway, header):
    assert outcome(strict_gateway, header=header) == "UNAUTHENTICATED"


def test_an_unauthenticated_request_writes_nothing(strict_gateway):
    before = strict_gateway.stored_quotes()
    body = strict_gateway.gql(
        'mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 1}]}) { quote { signature } } }',
        token=unsigned(claims()),
    )
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert strict_gateway.stored_quotes() == before


def test_error_messages_do_not_echo_the_token(strict_gateway):
    token = hs256(claims(exp=int(time.time()) - 3600))
    text = strict_gateway.post({"query": PRODUCTS}, token).text
    assert token not in text and "expired" in text


# ---- RS256 through a JWKS endpoint ------------------------------------------

@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_gateway(tmp_path_factory, rsa_key):
    public = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    jwks = {"keys": [{**public, "kid": "key-1", "use": "sig", "alg": "RS256"}]}
    issuer = ServerThread(Starlette(routes=[
        Route("/.well-known/jwks.json", lambda request: JSONResponse(jwks))])).start()
    env = gateway_env(tmp_path_factory.mktemp("jwks"),
                      JWT_JWKS_URL=f"{issuer.url}/.well-known/jwks.json", JWT_SECRET="")
    with running_gateway(env) as client:
        yield client, rsa_key
    issuer.stop()


def forge_hs256(payload: dict, key: bytes) -> str:
    """HS256 keyed with the RSA public key: the algorithm-confusion attack."""
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")
    head = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    signing_input = f"{head}.{part(json.dumps(payload).encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(mac)}"


def rs256(key, payload: dict, kid: str = "key-1") -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def test_rs256_tokens_from_the_jwks_are_accepted(jwks_gateway):
    gateway, key = jwks_gateway
    assert outcome(gateway, rs256(key, claims())) == "OK"


def test_rs256_rejections(jwks_gateway):
    gateway, key = jwks_gateway
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = forge_hs256(claims(), public_pem)
    cases = {
        "signed by another key": rs256(other, claims()),
        "unknown kid": rs256(key, claims(), kid="key-2"),
        "HS256 signed with the public key": forged,
        "HS256 with the shared secret": hs256(claims(), headers={"kid": "key-1"}),
        "alg none": unsigned(claims()),
        "expired": rs256(key, claims(exp=int(time.time()) - 3600)),
    }
    for name, token in cases.items():
        assert outcome(gateway, token) == "UNAUTHENTICATED", name


def test_a_critical_header_we_do_not_understand_is_refused(strict_gateway):
    for crit in (["exp"], ["b64"], ["x-custom"]):
        token = hs256(claims(), headers={"crit": crit, "b64": False} if crit == ["b64"] else {"crit": crit})
        assert outcome(strict_gateway, token) == "UNAUTHENTICATED", crit
