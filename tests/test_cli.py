"""The `gateway` command as a person runs it: real processes, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest

from tests.services import command_env, free_port, run_gateway, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


def gateway(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return run_gateway(*args, env=env, timeout=timeout)


@pytest.fixture
def env(tmp_path) -> dict:
    return command_env(tmp_path)


def test_token_mints_a_token_the_gateway_accepts(env):
    minted = gateway("token", "--sub", "u1", "--email", "a@b.c", "--admin", env=env)
    assert minted.returncode == 0, minted.stderr
    secret = (Path(env["GATEWAY_DB"]).parent / "dev-secrets.json").read_text()
    token = minted.stdout.strip()
    import json
    claims = jwt.decode(token, json.loads(secret)["jwt_secret"], algorithms=["HS256"])
    assert claims["sub"] == "u1" and claims["email"] == "a@b.c" and claims["roles"] == ["admin"]
    assert claims["email_verified"] is True and claims["exp"] > time.time()


@pytest.mark.parametrize("args, says", [
    (["token"], "--sub"),
    (["token", "--sub", ""], "user id"),
    (["token", "--sub", "u1", "--email", "not-an-email"], "not an email"),
    (["token", "--sub", "u1", "--ttl", "-5"], "seconds"),
    (["token", "--sub", "u1", "--ttl", "abc"], "seconds"),
    (["serve", "--port", "99999"], "port"),
    (["serve", "--port", "http"], "port"),
    (["no-such-command"], "invalid choice"),
    ([], "COMMAND"),
])
def test_bad_flags_are_refused_with_a_message(env, args, says):
    result = gateway(*args, env=env)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name, value", [("QUOTE_TTL_MINUTES", "soon"), ("ENVIRONMENT", "staging")])
def test_serve_with_a_bad_variable_stops_and_names_it(env, name, value):
    result = gateway("serve", "--port", str(free_port()), env={**env, name: value})
    assert result.returncode == 2
    assert name in result.stderr and "Traceback" not in result.stderr


def test_serve_with_a_bad_catalog_stops_and_names_the_entry(env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"currency": "USD", "products": [{"sku": "N-RED", "name": "x", '
                   '"category": "necklaces", "price": 12.5}]}')
    result = gateway("serve", "--port", str(free_port()), env={**env, "CATALOG_PATH": str(bad)})
    assert result.returncode == 2
    assert "products[0].price" in result.stderr


def test_serve_prints_the_graphiql_url_and_answers(env):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for_port(port, proc, timeout=30)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["status"] == "ok"
        body = httpx.post(f"http://127.0.0.1:{port}/graphql",
                          json={"query": "{ products { sku } }"}).json()
        assert len(body["data"]["products"]) >= 18
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/graphql" in err


def test_create_table_is_idempotent_and_the_gateway_runs_on_it(env, dynamodb_local):
    table = f"babesclub-{uuid.uuid4().hex[:8]}"
    env = {**env, **{k: os.environ[k] for k in os.environ if k.startswith("AWS_")},
           "COMMERCE_TABLE": table}
    first = gateway("create-table", env=env)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    again = gateway("create-table", env=env)
    assert again.returncode == 0 and "already exists" in again.stdout

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc, timeout=30)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["status"] == "ok"
        body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": (
            'mutation { createCartQuote(input: {items: [{sku: "E-MAG-SIL", quantity: 2}]}) '
            '{ quote { signature total { amount } } } }')}).json()
        quote = body["data"]["createCartQuote"]["quote"]
        assert quote["total"]["amount"] == 5000
        read = httpx.post(f"http://127.0.0.1:{port}/graphql", json={
            "query": "query($s: ID!) { quote(signature: $s) { total { amount } } }",
            "variables": {"s": quote["signature"]}}).json()
        assert read["data"]["quote"]["total"]["amount"] == 5000
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_create_table_without_a_name_says_so(env):
    result = gateway("create-table", env=env)
    assert result.returncode == 2 and "COMMERCE_TABLE" in result.stderr


def test_export_schema_prints_sdl(env):
    result = gateway("export-schema", env=env)
    assert result.returncode == 0
    assert "createCartQuote(input: CreateCartQuoteInput!): CreateCartQuotePayload!" in result.stdout


def test_the_emulator_command_serves_stripe_and_prints_its_secret(env):
    import stripe

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "emulator", "--port", str(port),
                             "--webhook-secret", "whsec_cli_test_123"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc, timeout=30)
        client = stripe.StripeClient("sk_test_cli", base_addresses={"api": f"http://127.0.0.1:{port}"})
        assert client.v1.customers.create(params={"email": "cli@example.com"}).id.startswith("cus_")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in out and "whsec_cli_test_123" in out


@pytest.mark.parametrize("args, says", [
    (["emulator", "--webhook-secret", "nope"], "whsec_"),
    (["emulator", "--webhook-url", "ftp://x"], "URL"),
    (["replay-dead-letters"], "STRIPE_SECRET"),
])
def test_emulator_and_replay_flags_are_checked(env, args, says):
    result = gateway(*args, env=env)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr


def test_serve_with_workers(env, stripe_emulator_url):
    port = free_port()
    env = {**env, "STRIPE_SECRET": "sk_test_workers", "STRIPE_API_BASE": stripe_emulator_url}
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port),
                             "--workers", "2"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc, timeout=60)
        for _ in range(4):
            body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "query Workers { products { sku } }"},
                              timeout=30).json()
            assert len(body["data"]["products"]) == 20
        # whichever worker answers /metrics counts every worker's requests (multiprocess mode)
        for _ in range(6):
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
            assert 'gateway_request_seconds_count{operation="Workers"} 4.0' in metrics, metrics[-2000:]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


@pytest.mark.parametrize("workers", ["0", "x", "65"])
def test_bad_worker_counts_are_refused(env, workers):
    result = gateway("serve", "--workers", workers, env=env)
    assert result.returncode == 2 and "workers" in result.stderr


def test_workers_need_a_real_stripe(env):
    result = gateway("serve", "--port", str(free_port()), "--workers", "2", env=env)
    assert result.returncode == 2 and "STRIPE_SECRET" in result.stderr
