"""Schemathesis generates GraphQL operations from the live schema (every query and
mutation, with generated arguments) and sends them to the real server: no 5xx, and no
INTERNAL_SERVER_ERROR, ever. (Its pytest plugin does not run on pytest 9 yet, so the
operations are drawn with Hypothesis directly.)"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

EXAMPLES = 25  # per operation: bounded so the whole suite stays quick


def test_no_generated_operation_makes_the_server_fail(gateway):
    schema = schemathesis.graphql.from_url(f"{gateway.url}/graphql")
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == 18  # 9 queries (adminOrders, adminOrder, guestOrder, adminProducts...), 9 mutations
    checked = []
    admin = {"authorization": "Bearer " + gateway.token("fuzzer", email="fuzz@example.com", admin=True)}
    for operation, headers in [(o, h) for o in operations for h in ({}, admin)]:
        fuzz(operation, headers)
        checked.append(operation.label)
    print(f"\nfuzzed {len(operations)} operations, anonymous and as an admin, up to {EXAMPLES} examples each")


def fuzz(operation, headers: dict[str, str]) -> None:
    """Generated calls of one operation, sent with these headers: no 5xx, no INTERNAL_SERVER_ERROR."""

    @given(operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              database=None, derandomize=True)  # the same examples every run: CI never flakes
    def no_server_error(case):
        response = case.call(headers=headers)
        assert response.status_code < 500, response.text
        for error in response.json().get("errors") or []:
            assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error

    no_server_error()
