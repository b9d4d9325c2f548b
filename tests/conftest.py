"""Fixtures only: the real services a test session starts, once. The helpers they and the
tests use live in modules (tests/services.py, tests/live_gateway.py, tests/emulator_helpers.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from store.base import Store
from tests.live_gateway import Gateway, gateway_env, running_gateway
from tests.services import AWS_ENV, DynamoDBLocal, ServerThread, fresh_dynamodb_table


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    service = DynamoDBLocal()
    saved = {k: os.environ.get(k) for k in AWS_ENV}
    os.environ.update({**AWS_ENV, "AWS_ENDPOINT_URL_DYNAMODB": service.endpoint})
    try:
        yield service
    finally:
        service.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(params=["sqlite", "dynamodb"])
async def store(request, tmp_path) -> AsyncIterator[Store]:
    """Each engine, empty, behind the one interface."""
    if request.param == "sqlite":
        from store.sqlite import SQLiteStore

        engine: Store = await SQLiteStore.open(tmp_path / "gateway.db")
    else:
        from store.dynamodb import DynamoDBStore

        table = await fresh_dynamodb_table(request.getfixturevalue("dynamodb_local"))
        engine = await DynamoDBStore.open(table)
    try:
        yield engine
    finally:
        await engine.close()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory) -> Iterator[Gateway]:
    """The gateway on the embedded SQLite store, as a newcomer runs it."""
    with running_gateway(gateway_env(tmp_path_factory.mktemp("gateway"))) as client:
        yield client


@pytest.fixture(scope="session")
def stripe_emulator_url() -> Iterator[str]:
    """A standalone Stripe emulator under uvicorn, as `gateway emulator` runs it."""
    from stripe_emulator import Emulator

    server = ServerThread(Emulator(webhook_urls=[], webhook_secret=None, public_url=None).app).start()
    try:
        yield server.url
    finally:
        server.stop()
