"""Store.transact on DynamoDB: one TransactWriteItems, its conditions the same rules
store/transact.py evaluates for SQLite, and its cancellation reasons read apart.

A transaction DynamoDB cancels says why, per item (CancellationReasons): a condition that
did not hold (ConditionalCheckFailed: the answer, with the item as it stood, asked for with
ReturnValuesOnConditionCheckFailure) or contention (TransactionConflict: another
transaction held one of the items; throttling): those are tried again, after a jittered
pause that grows, then given up as Conflict.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from store.base import Conflict, StoreError, now_epoch
from store.keys import EXPIRES_AT, PK, SK, VERSION, Key
from store.transact import Adjust, Delete, Op, Put, Refused, check_transaction, starts_valid

CONTENTION = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded",
                        "RequestLimitExceeded", "TransactionInProgress"})
TRANSACT_ATTEMPTS = 12  # 50 checkouts racing for one piece on DynamoDB Local needed up to 6


def put_condition(if_absent: bool, if_version: int | None, now: int) -> dict[str, Any]:
    """Store.put's condition as expression parameters ({} for an unconditional put)."""
    if if_version is not None:
        matches = "(attribute_not_exists(#ver) OR #ver = :ver)" if if_version == 0 else "#ver = :ver"
        return {"ConditionExpression": f"attribute_exists(#pk) AND {matches} "
                                       "AND (attribute_not_exists(#exp) OR #exp > :now)",
                "ExpressionAttributeNames": {"#pk": PK, "#ver": VERSION, "#exp": EXPIRES_AT},
                "ExpressionAttributeValues": {":ver": {"N": str(if_version)}, ":now": {"N": str(now)}}}
    if if_absent:
        # An expired item that TTL has not yet removed counts as absent.
        return {"ConditionExpression": "attribute_not_exists(#pk) OR #exp <= :now",
                "ExpressionAttributeNames": {"#pk": PK, "#exp": EXPIRES_AT},
                "ExpressionAttributeValues": {":now": {"N": str(now)}}}
    return {}


def adjust_update(op: Adjust, serialize: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """SET #c = if_not_exists(#c, :start) + :amount for each counter, the start item's other
    attributes if not there yet, under the guards (the value before >= bound - amount)."""
    placeholders: dict[str, str] = {}  # attribute -> #n{i}
    values: dict[str, Any] = {}

    def name(attribute: str) -> str:
        return placeholders.setdefault(attribute, f"#n{len(placeholders)}")

    start = op.start or {}
    sets = []
    for i, (attribute, amount) in enumerate(op.add.items()):
        values[f":s{i}"], values[f":d{i}"] = {"N": str(start.get(attribute, 0))}, {"N": str(amount)}
        sets.append(f"{name(attribute)} = if_not_exists({name(attribute)}, :s{i}) + :d{i}")
    for i, (attribute, value) in enumerate(start.items()):
        if attribute not in op.add and attribute not in (PK, SK):
            values[f":f{i}"] = serialize(value)
            sets.append(f"{name(attribute)} = if_not_exists({name(attribute)}, :f{i})")
    guards = []
    for i, (attribute, bound) in enumerate(op.at_least.items()):
        values[f":g{i}"] = {"N": str(bound - op.add.get(attribute, 0))}
        guards.append(f"{name(attribute)} >= :g{i}")
    guard = " AND ".join(guards)
    if starts_valid(op):
        condition = f"attribute_not_exists(#pk) OR ({guard})" if guard else ""
    else:
        condition = "attribute_exists(#pk)" + (f" AND {guard}" if guard else "")
    names = {placeholder: attribute for attribute, placeholder in placeholders.items()}
    update: dict[str, Any] = {"UpdateExpression": "SET " + ", ".join(sets), "ExpressionAttributeNames": names,
                              "ExpressionAttributeValues": values}
    if condition:
        names["#pk"] = PK
        update["ConditionExpression"] = condition
    return update


def wire_ops(table: str, ops: Sequence[Op], serialize: Callable[[Any], dict[str, Any]],
             to_wire: Callable[[dict[str, Any]], dict[str, Any]], now: int) -> list[dict[str, Any]]:
    def key(k: Key) -> dict[str, Any]:
        return {PK: {"S": k.pk}, SK: {"S": k.sk}}

    wired: list[dict[str, Any]] = []
    for op in ops:
        if isinstance(op, Put):
            wired.append({"Put": {"TableName": table, "Item": to_wire(op.item),
                                  "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                                  **put_condition(op.if_absent, op.if_version, now)}})
        elif isinstance(op, Adjust):
            wired.append({"Update": {"TableName": table, "Key": key(op.key),
                                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                                     **adjust_update(op, serialize)}})
        elif isinstance(op, Delete):
            wired.append({"Delete": {"TableName": table, "Key": key(op.key)}})
    return wired


async def transact(client: Any, table: str, ops: Sequence[Op], *, serialize: Callable[[Any], dict[str, Any]],
                   to_wire: Callable[[dict[str, Any]], dict[str, Any]],
                   from_wire: Callable[[dict[str, Any]], dict[str, Any]]) -> Refused | None:
    check_transaction(ops)
    for attempt in range(TRANSACT_ATTEMPTS):
        items = wire_ops(table, ops, serialize, to_wire, now_epoch())
        try:
            await client.transact_write_items(TransactItems=items)
            return None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("TransactionCanceledException", "TransactionInProgressException"):
                raise StoreError(f"DynamoDB transact_write_items failed: {code}") from exc
            reasons = exc.response.get("CancellationReasons") or []
            for index, reason in enumerate(reasons):
                if reason.get("Code") == "ConditionalCheckFailed":
                    item = reason.get("Item")
                    return Refused(index, from_wire(item) if item else None)
            codes = {reason.get("Code") for reason in reasons} - {"None", None}
            if code == "TransactionCanceledException" and not codes <= CONTENTION:
                raise StoreError(f"DynamoDB cancelled the transaction: {sorted(codes)}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB transact_write_items failed: {exc}") from exc
        await asyncio.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** attempt)))
    raise Conflict(f"a transaction of {len(ops)} items met contention {TRANSACT_ATTEMPTS} times")
