from __future__ import annotations

import os
import uuid
from typing import AsyncIterator, Iterator

import pytest

from services import DynamoDBLocal
from store.base import Store


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


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL_DYNAMODB": "",
}


async def fresh_dynamodb_table(dynamodb_local: DynamoDBLocal) -> str:
    from store.dynamodb import create_table

    name = f"commerce-{uuid.uuid4().hex[:10]}"
    await create_table(name)
    return name


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
