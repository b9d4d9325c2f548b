"""The gateway under a real uvicorn server, as the tests drive it: its environment, a
client (`Gateway`) for GraphQL, the store behind it and the emulator it mounts, and the
SESSION# records its checkout writes, for tests that start after checkout."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from tests.services import ServerThread, free_port, fresh_dynamodb_table

JWT_SECRET = "test-jwt-secret-0123456789abcdefghijklmnop"
QUOTE_SECRET = "test-quote-secret-0123456789abcdefghijklmn"


def gateway_env(tmp_path, **overrides: str) -> dict[str, str]:
    return {
        "GATEWAY_DB": str(tmp_path / "gateway.db"),
        "JWT_SECRET": JWT_SECRET,
        "QUOTE_SIGNING_SECRET": QUOTE_SECRET,
        # every test request comes from 127.0.0.1; the limits have their own tests
        "RATE_LIMIT_QUOTES": "100000", "RATE_LIMIT_CHECKOUTS": "100000", "RATE_LIMIT_WEBHOOKS": "1000000",
        "RATE_LIMIT_STRIPE_READS": "100000",
        # serve's email sender writes EMAIL_SENT onto orders whenever it runs: tests that
        # compare stores or count writes would race it. The email tests turn it on.
        "EMAIL_BACKGROUND_SEND": "false",
        **overrides,
    }


class Gateway:
    def __init__(self, url: str, settings, app=None) -> None:
        import httpx

        self.url = url
        self.settings = settings
        self.app = app
        self.http = httpx.Client(base_url=url, timeout=10)

    def post(self, body, token: str | None = None, **headers: str):
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return self.http.post("/graphql", json=body, headers=headers)

    def gql(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        response = self.post({"query": query, "variables": variables or {}}, token)
        assert response.status_code == 200, response.text
        return response.json()

    def token(self, sub: str = "user-1", **claims) -> str:
        from web.auth import mint_token

        return mint_token(JWT_SECRET, sub, **claims)

    def stored_quotes(self) -> int:
        return self.count_items("QUOTE#%", "CACHE")

    def count_items(self, pk_like: str, sk_like: str = "%") -> int:
        """Items whose keys match SQL LIKE patterns, read straight from the engine."""
        import re

        def like(pattern: str) -> re.Pattern:
            return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("%")) + "$", re.S)

        pk, sk = like(pk_like), like(sk_like)
        return sum(1 for i in self.all_items() if pk.match(i["PK"]) and sk.match(i["SK"]))

    def all_items(self) -> list[dict]:
        if not self.settings.commerce_table:
            import json
            import sqlite3

            with sqlite3.connect(self.settings.gateway_db) as db:
                return [json.loads(body) for (body,) in db.execute("SELECT body FROM items")]
        import boto3

        table = boto3.resource("dynamodb").Table(self.settings.commerce_table)
        items: list[dict] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = table.scan(ConsistentRead=True, **kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def open_store(self):
        """The gateway's store, opened again for a test to write into (call in a loop)."""
        from store import open_store

        return open_store(table=self.settings.commerce_table, sqlite_path=self.settings.gateway_db)

    def control(self, path: str, body: dict | None = None) -> dict:
        """A test control of the emulator this gateway mounts (/_stripe/_emulator/...)."""
        response = self.http.post(f"/_stripe/_emulator/{path}", json=body or {}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def calls(self) -> tuple[int, int]:
        """(store calls, Stripe calls) made by this gateway so far."""
        services = self.app.state.services
        return sum(services.store.calls.values()), services.payments.calls

    def stripe(self, base: str | None = None):
        """The real Stripe SDK (sync), pointed at this gateway's emulator."""
        import stripe

        return stripe.StripeClient("sk_test_inspector", base_addresses={"api": base or f"{self.url}/_stripe"})


def engine_env(request) -> dict[str, str]:
    """Extra environment for a gateway on the parametrized engine: nothing for SQLite;
    a fresh table for DynamoDB Local."""
    if request.param == "sqlite":
        return {}
    request.getfixturevalue("dynamodb_local")
    table = asyncio.run(fresh_dynamodb_table(None))
    return {"COMMERCE_TABLE": table, **{k: os.environ[k] for k in os.environ if k.startswith("AWS_")}}


def start_gateway(env: dict[str, str]):
    """The gateway app under uvicorn. Without STRIPE_SECRET in env, payments go to the
    emulator it mounts at /_stripe (the development default)."""
    from server import create_app
    from settings import load_settings

    port = free_port()
    settings = load_settings({"PUBLIC_URL": f"http://127.0.0.1:{port}", **env})
    app = create_app(settings)
    server = ServerThread(app, port=port).start()
    return server, Gateway(server.url, settings, app)


@contextlib.contextmanager
def running_gateway(env: dict[str, str], engine: str = "sqlite") -> Iterator[Gateway]:
    server, client = start_gateway(env)
    client.engine = engine
    try:
        yield client
    finally:
        client.http.close()
        server.stop()


def record_sessions(gateway, sessions: list[dict]) -> None:
    """Write the SESSION# records the gateway's checkout writes, for sessions a test made
    on the emulator directly (for tests about what happens after checkout: webhooks,
    reconciliation). Each entry: id, lines [(unit amount, quantity)], and optionally
    userId, guestEmail, quoteSignature (default "q" * 43), currency (default USD).
    A session without such a record is never an order (see test_abuse.py)."""
    from commerce.checkout import checkout_owner, session_record
    from commerce.orders import expected_charge
    from store.base import now_epoch

    async def write() -> None:
        store = await gateway.open_store()
        try:
            for s in sessions:
                lines = [tuple(line) for line in s["lines"]]
                expected = expected_charge(s.get("currency", "USD"), sum(u * q for u, q in lines), lines)
                await store.put(session_record(
                    s["id"], s.get("quoteSignature", "q" * 43), user_id=s.get("userId"),
                    guest_email=s.get("guestEmail"), owner=checkout_owner(s.get("userId"), s.get("guestEmail")),
                    expected=expected, now=now_epoch()).to_item())
        finally:
            await store.close()

    asyncio.run(write())
