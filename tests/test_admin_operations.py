"""The admin's operations (examples/admin/operations/*.graphql) are valid against the
committed schema.graphql, generate a typed client, and run against the gateway."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from graphql import build_schema, parse, validate

from tests.admin_seed import make_order, seed

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ROOT / "examples" / "admin"
OPERATIONS = sorted((ADMIN / "operations").glob("*.graphql"))


def test_every_admin_operation_is_valid_against_the_committed_schema():
    schema = build_schema((ROOT / "schema.graphql").read_text())
    assert len(OPERATIONS) >= 2
    problems = {path.name: [e.message for e in validate(schema, parse(path.read_text()))]
                for path in OPERATIONS}
    assert {name: errors for name, errors in problems.items() if errors} == {}


def test_the_admin_client_generates():
    generated = subprocess.run([str(ROOT / "node_modules" / ".bin" / "graphql-codegen"), "--config", "codegen.yml"],
                               cwd=ADMIN, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert generated.returncode == 0, generated.stdout + generated.stderr


def run(gateway, file: str, operation: str, variables: dict, token: str) -> dict:
    document = (ADMIN / "operations" / file).read_text()
    body = gateway.post({"query": document, "operationName": operation, "variables": variables}, token).json()
    assert "errors" not in body, body
    return body["data"]


def test_todays_paid_orders_and_one_order_run_with_the_admins_own_operations(gateway):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    now, start = int(datetime.now(UTC).timestamp()), int(today.timestamp())
    paid_today, refunded_today, paid_before = (make_order(899_997, created=max(now - 1, start)),
                                               make_order(900_000, created=max(now - 2, start)),  # REFUNDED
                                               make_order(899_998, created=start - 60))
    assert (paid_today.status, refunded_today.status, paid_before.status) == ("PAID", "REFUNDED", "PAID")
    seed(gateway, [paid_today, refunded_today, paid_before])
    token = gateway.token("shop-owner", admin=True)
    listing = run(gateway, "orders.graphql", "TodaysPaidOrders",
                  {"createdFrom": today.isoformat(), "createdTo": (today + timedelta(days=1)).isoformat()},
                  token)["adminOrders"]
    listed = [e["node"]["id"] for e in listing["edges"]]
    assert paid_today.order_id in listed
    assert refunded_today.order_id not in listed and paid_before.order_id not in listed
    detail = run(gateway, "order.graphql", "AdminOrder", {"id": paid_today.order_id}, token)["adminOrder"]
    assert detail["orderNumber"] == paid_today.order_number and detail["total"]["amount"] == 3000
