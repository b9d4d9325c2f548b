"""The store failing under the gateway: an outage costs a request seconds and a retryable
code, /readyz says so at once, nothing is lost after recovery; contention on one item is
resolved, not reported."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.live_gateway import engine_env, gateway_env, running_gateway
from tests.services import ROOT, FaultyProxy, command_env, free_port, fresh_dynamodb_table, wait_for_port

QUOTE = ('mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 1}]}) '
         '{ quote { signature total { amount } } userErrors { code } } }')


def codes(body: dict) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors", [])}


@pytest.fixture
def behind_a_proxy(dynamodb_local, tmp_path):
    """`gateway serve` in its own process on DynamoDB Local, reached through a proxy that
    can refuse or blackhole its connections."""
    table = asyncio.run(fresh_dynamodb_table(dynamodb_local))
    proxy = FaultyProxy(dynamodb_local.port)
    port = free_port()
    env = {**command_env(tmp_path), **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
           "COMMERCE_TABLE": table, "AWS_ENDPOINT_URL_DYNAMODB": proxy.endpoint,
           "JWT_SECRET": "x" * 40, "QUOTE_SIGNING_SECRET": "y" * 40}
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout=60)
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(15)
        proxy.stop()


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize("outage", ["refuse", "blackhole"])
def test_a_store_outage_is_a_retryable_code_within_seconds_and_readyz_says_so_at_once(behind_a_proxy, outage):
    proxy, base = behind_a_proxy
    with httpx.Client(base_url=base, timeout=60) as http:
        assert "errors" not in http.post("/graphql", json={"query": QUOTE}).json()
        proxy.set(outage)
        ready, ready_seconds = timed(lambda: http.get("/readyz"))
        assert ready.status_code == 503 and ready.json()["store"] == "unreachable"
        assert ready_seconds < 3, ready_seconds  # it took 57 s
        body, seconds = timed(lambda: http.post("/graphql", json={"query": QUOTE}).json())
        assert codes(body) == {"SERVICE_UNAVAILABLE"}, body
        assert seconds < 15, seconds  # 14-20 s refused, 56-65 s silent, then "Unexpected error."
        print(f"{outage}: /readyz 503 in {ready_seconds:.2f} s, a mutation SERVICE_UNAVAILABLE in {seconds:.2f} s")
        hook, _ = timed(lambda: http.post("/stripe/webhook", content=b"{}"))
        assert hook.status_code == 400  # unsigned: refused before the store is asked
        proxy.set("pass")
        deadline = time.monotonic() + 20
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready again after the outage"
            time.sleep(0.2)
        assert "errors" not in http.post("/graphql", json={"query": QUOTE}).json()


UPDATE = """mutation($name: String) { updateProfile(input: {displayName: $name}) {
  profile { displayName } userErrors { code } } }"""


async def forty_updates(url: str, token: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        answers = await asyncio.gather(*(
            client.post("/graphql", json={"query": UPDATE, "variables": {"name": f"Name {n}"}},
                        headers={"authorization": f"Bearer {token}"}) for n in range(40)))
    return [a.json() for a in answers]


@pytest.fixture(params=["sqlite", "dynamodb"])
def one_gateway(request, tmp_path):
    with running_gateway(gateway_env(tmp_path, **engine_env(request)), request.param) as gateway:
        yield gateway


def test_forty_concurrent_updates_of_one_profile_all_succeed(one_gateway):
    token = one_gateway.token("contended", email="contended@example.com")
    one_gateway.gql("{ viewer { userId } }", token=token)
    bodies = asyncio.run(forty_updates(one_gateway.url, token))
    assert [b for b in bodies if "errors" in b or b["data"]["updateProfile"]["userErrors"]] == []
    final = one_gateway.gql("{ viewer { displayName } }", token=token)["data"]["viewer"]["displayName"]
    assert final in {f"Name {n}" for n in range(40)}


def test_forty_concurrent_updates_across_two_worker_processes_on_sqlite_all_succeed(tmp_path, stripe_emulator_url):
    from tests.live_gateway import JWT_SECRET

    port = free_port()
    env = {**command_env(tmp_path), "JWT_SECRET": JWT_SECRET, "QUOTE_SIGNING_SECRET": "q" * 40,
           "STRIPE_SECRET": "sk_test_workers", "STRIPE_API_BASE": stripe_emulator_url}
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port),
                                 "--workers", "2"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        wait_for_port(port, proc, timeout=60)
        from web.auth import mint_token

        token = mint_token(JWT_SECRET, "contended-workers")
        bodies = asyncio.run(forty_updates(f"http://127.0.0.1:{port}", token))
        failures = [b for b in bodies if "errors" in b or b["data"]["updateProfile"]["userErrors"]]
        assert failures == [], json.dumps(failures[:3]) + log.read_text()[-3000:]
    finally:
        proc.terminate()
        proc.wait(20)
