"""A start that cannot work stops at once: non-zero, within seconds, with one line that names
the variable and the fix; never a traceback, never a process left hanging."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
START_BUDGET_SECONDS = 10


@pytest.fixture
def env(tmp_path) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("JWT_", "QUOTE_", "STRIPE_", "COMMERCE_", "CHECKOUT_", "AWS_", "LOG_"))}
    return {**clean, "GATEWAY_DB": str(tmp_path / "g.db"), "ENVIRONMENT": "development",
            "JWT_SECRET": "j" * 40, "QUOTE_SIGNING_SECRET": "q" * 40, "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def aws(dynamodb_local) -> dict:
    return {k: os.environ[k] for k in os.environ if k.startswith("AWS_")}


def serve_fails(env: dict) -> str:
    """Start `gateway serve`; it must exit non-zero within the budget with one line."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(free_port())],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=START_BUDGET_SECONDS)
    assert time.monotonic() - started < START_BUDGET_SECONDS
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_corrupt_sqlite_file_stops_the_start_and_names_gateway_db(env, tmp_path):
    (tmp_path / "g.db").write_bytes(b"this is not a database, just some bytes " * 200)
    line = serve_fails(env)
    assert "GATEWAY_DB" in line and "not a SQLite database" in line and "move it aside" in line


def test_an_unopenable_sqlite_path_stops_the_start(env, tmp_path):
    (tmp_path / "g.db").mkdir()  # a directory where the file should be
    line = serve_fails(env)
    assert "GATEWAY_DB" in line and "cannot open" in line


async def test_a_failed_sqlite_open_leaves_no_thread_behind(tmp_path):
    import threading

    from store import StoreConfigError
    from store.sqlite import SQLiteStore

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"garbage" * 1000)
    def connection_threads() -> set:  # all but the loop's executor pool
        return {t for t in threading.enumerate() if not t.name.startswith("asyncio_")}

    before = connection_threads()
    with pytest.raises(StoreConfigError, match="GATEWAY_DB"):
        await SQLiteStore.open(corrupt)
    assert connection_threads() == before  # aiosqlite's thread is gone, or it keeps the process


@pytest.mark.parametrize("key, says", [
    ("garbage", "sk_test_"), ("pk_test_0123456789abc", "publishable"), ("whsec_0123456789", "STRIPE_WEBHOOK_SECRET"),
])
def test_a_malformed_stripe_key_stops_the_start(env, key, says):
    line = serve_fails({**env, "STRIPE_SECRET": key})
    assert line.startswith("gateway: invalid configuration: STRIPE_SECRET:") and says in line
    assert key not in line  # a secret is never echoed


def test_a_missing_table_stops_the_start_and_names_create_table(env, dynamodb_local):
    line = serve_fails({**env, **aws(dynamodb_local), "COMMERCE_TABLE": f"missing-{uuid.uuid4().hex[:8]}"})
    assert "COMMERCE_TABLE" in line and "`gateway create-table`" in line and "us-east-1" in line


def test_no_region_stops_the_start_and_names_aws_default_region(env, dynamodb_local):
    no_region = {k: v for k, v in aws(dynamodb_local).items() if k not in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    line = serve_fails({**env, **no_region, "COMMERCE_TABLE": "babesclub-commerce"})
    assert "AWS_DEFAULT_REGION" in line and "AWS_REGION" in line


def test_aws_region_alone_is_accepted_and_said(env, dynamodb_local):
    import asyncio

    from tests.services import fresh_dynamodb_table

    table = asyncio.run(fresh_dynamodb_table(dynamodb_local))
    only_aws_region = {k: v for k, v in aws(dynamodb_local).items() if k != "AWS_DEFAULT_REGION"}
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)],
                            env={**env, **only_aws_region, "AWS_REGION": "us-east-1", "COMMERCE_TABLE": table},
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc, timeout=30)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json() == {"status": "ok", "store": "ok"}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "AWS_DEFAULT_REGION is unset: using AWS_REGION=us-east-1" in err


def test_readyz_says_the_table_is_missing_and_names_the_fix(dynamodb_local, tmp_path):
    import boto3

    from tests.live_gateway import engine_env, gateway_env, running_gateway

    class Param:
        param = "dynamodb"

        def getfixturevalue(self, name):
            return dynamodb_local

    env = gateway_env(tmp_path, **engine_env(Param()))
    with running_gateway(env) as gw:
        assert gw.http.get("/readyz").json() == {"status": "ok", "store": "ok"}
        boto3.client("dynamodb").delete_table(TableName=env["COMMERCE_TABLE"])
        missing = gw.http.get("/readyz")
        assert missing.status_code == 503
        assert missing.json() == {"status": "unavailable", "store": "table missing", "fix": "gateway create-table"}


def test_create_table_turns_point_in_time_recovery_on_or_says_it_cannot(env, dynamodb_local):
    table = f"pitr-{uuid.uuid4().hex[:8]}"
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "create-table", "--table", table],
                            env={**env, **aws(dynamodb_local)}, cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    # DynamoDB Local keeps no backups and says so; AWS answers "turned on", then "on"
    assert "point-in-time recovery not available on this endpoint (UnknownOperationException)" in result.stdout
