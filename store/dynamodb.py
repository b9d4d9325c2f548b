"""The DynamoDB engine (aioboto3): the production store, shared by every instance.

The endpoint, region and credentials come from the standard AWS configuration
(AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB Local). One client per process.
The region is AWS_DEFAULT_REGION, else AWS_REGION (what Lambda sets, and what most people
export; botocore alone reads only the first), else the AWS config file's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

import aioboto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from store.base import (
    BATCH_GET_LIMIT,
    Having,
    IndexEntry,
    IndexPage,
    Item,
    Page,
    StoreConfigError,
    StoreError,
    TableMissing,
    check_attribute,
    check_having,
    check_limit,
    check_put,
    decode_cursor,
    decode_scan_cursor,
    encode_cursor,
    encode_scan_cursor,
    is_expired,
    now_epoch,
    unique_keys,
)
from store.dynamodb_transact import put_condition, transact
from store.keys import (
    CUSTOMER_ID,
    CUSTOMER_INDEX,
    EXPIRES_AT,
    ORDER_INDEXES,
    PK,
    SK,
    Index,
    Key,
    key_of,
)
from store.transact import Op, Refused

log = logging.getLogger("gateway.store")
def client_config() -> Config:
    """Bounded: a DynamoDB that refuses or does not answer costs a request seconds, not a
    minute (it was 14-20 s refusing and 56-65 s silent with botocore's defaults and ours).
    STORE_CONNECT_TIMEOUT_SECONDS, STORE_READ_TIMEOUT_SECONDS, STORE_MAX_ATTEMPTS (settings.py
    checks them; read here so the store needs nothing of ours)."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": int(os.environ.get("STORE_MAX_ATTEMPTS", "3"))},
        connect_timeout=float(os.environ.get("STORE_CONNECT_TIMEOUT_SECONDS", "1")),
        read_timeout=float(os.environ.get("STORE_READ_TIMEOUT_SECONDS", "2")),
    )
UNPROCESSED_RETRIES = 8

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_wire(item: Item) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def from_wire(wire: dict[str, Any]) -> Item:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in wire.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def _wire_key(key: Key) -> dict[str, Any]:
    return {PK: {"S": key.pk}, SK: {"S": key.sk}}


class DynamoDBStore:
    def __init__(self, client: Any, table: str, stack: contextlib.AsyncExitStack) -> None:
        self._client = client
        self._table = table
        self._stack = stack

    @classmethod
    async def open(cls, table: str, *, session: aioboto3.Session | None = None) -> DynamoDBStore:
        """The store on `table`; TableMissing when it does not exist in this region, so a
        start with a wrong COMMERCE_TABLE or region stops with the fix named. Other
        failures (unreachable) are left to /readyz and the requests."""
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(_client(session))
        store = cls(client, table, stack)
        try:
            await store.ping()
        except TableMissing:
            await stack.aclose()
            raise
        except StoreError as exc:
            log.warning("DynamoDB table %s not reachable at start: %s", table, exc)
        return store

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return await getattr(self._client, operation)(TableName=self._table, **params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise
            raise StoreError(f"DynamoDB {operation} failed: {code}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB {operation} failed: {exc}") from exc

    async def get(self, key: Key) -> Item | None:
        response = await self._call("get_item", Key=_wire_key(key), ConsistentRead=True)
        wire = response.get("Item")
        if wire is None:
            return None
        item = from_wire(wire)
        return None if is_expired(item, now_epoch()) else item

    async def batch_get(self, keys: Sequence[Key]) -> dict[Key, Item]:
        wanted = unique_keys(keys)
        chunks = [wanted[i:i + BATCH_GET_LIMIT] for i in range(0, len(wanted), BATCH_GET_LIMIT)]
        found: dict[Key, Item] = {}
        for part in await asyncio.gather(*(self._batch_get_chunk(c) for c in chunks)):
            found.update(part)
        return found

    async def _batch_get_chunk(self, keys: list[Key]) -> dict[Key, Item]:
        request = {self._table: {"Keys": [_wire_key(k) for k in keys], "ConsistentRead": True}}
        found: dict[Key, Item] = {}
        now = now_epoch()
        for attempt in range(UNPROCESSED_RETRIES + 1):
            try:
                response = await self._client.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"DynamoDB batch_get_item failed: {exc}") from exc
            for wire in response.get("Responses", {}).get(self._table, []):
                item = from_wire(wire)
                if not is_expired(item, now):
                    found[key_of(item)] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
            # Full jitter backoff (AWS's advice for UnprocessedKeys).
            await asyncio.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
        raise StoreError("DynamoDB left keys unprocessed after retries")

    async def put(self, item: Item, *, if_absent: bool = False, if_version: int | None = None) -> bool:
        check_put(item, if_absent, if_version)
        params: dict[str, Any] = {"Item": to_wire(item), **put_condition(if_absent, if_version, now_epoch())}
        try:
            await self._call("put_item", **params)
        except ClientError:
            return False
        return True

    async def add(self, key: Key, attribute: str, amount: int, *, expires_at: int) -> int:
        check_attribute(attribute)
        response = await self._call(
            "update_item", Key=_wire_key(key), ReturnValues="UPDATED_NEW",
            UpdateExpression="ADD #attr :amount SET #exp = if_not_exists(#exp, :exp), "
                             "#entity = if_not_exists(#entity, :entity)",
            ExpressionAttributeNames={"#attr": attribute, "#exp": EXPIRES_AT, "#entity": "entity"},
            ExpressionAttributeValues={":amount": {"N": str(amount)}, ":exp": {"N": str(expires_at)},
                                       ":entity": {"S": "Counter"}})
        return int(response["Attributes"][attribute]["N"])

    async def delete(self, key: Key) -> None:
        await self._call("delete_item", Key=_wire_key(key))

    async def transact(self, ops: Sequence[Op]) -> Refused | None:
        """One TransactWriteItems (store/dynamodb_transact.py), contention retried."""
        return await transact(self._client, self._table, ops, serialize=_serializer.serialize,
                              to_wire=to_wire, from_wire=from_wire)

    async def query(
        self, pk: str, *, prefix: str = "", limit: int = 20, cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page:
        check_limit(limit)
        condition = "#pk = :pk"
        values: dict[str, Any] = {":pk": {"S": pk}}
        names = {"#pk": PK}
        if prefix:
            condition += " AND begins_with(#sk, :prefix)"
            values[":prefix"] = {"S": prefix}
            names["#sk"] = SK
        start = None
        if cursor is not None:
            start = {PK: {"S": pk}, SK: {"S": decode_cursor(cursor, prefix)}}
        items: list[Item] = []
        now = now_epoch()
        # Read one past the limit, so the cursor is only handed out when more exist.
        while len(items) <= limit:
            params: dict[str, Any] = {
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": not newest_first,
                "Limit": limit + 1 - len(items),
                "ConsistentRead": True,
            }
            if start:
                params["ExclusiveStartKey"] = start
            response = await self._call("query", **params)
            items += [i for i in map(from_wire, response.get("Items", [])) if not is_expired(i, now)]
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        page = items[:limit]
        return Page(page, encode_cursor(page[-1][SK]) if len(items) > limit else None)

    async def query_index(
        self, index: Index, partition: str, *, below: str | None = None, at_least: str | None = None,
        limit: int = 20, having: Having | None = None,
    ) -> IndexPage:
        check_limit(limit)
        check_having(index, having)
        if below is not None and at_least is not None and at_least >= below:
            return IndexPage([], None)  # an empty range (and BETWEEN refuses a reversed one)
        params = _index_query(index, partition, below, at_least, having)
        entries: list[IndexEntry] = []
        read, last = 0, None
        # Limit counts entries read, before the filter: `limit` read is the cost, whatever passes.
        while read < limit:
            response = await self._call("query", **params, Limit=limit - read, ScanIndexForward=False)
            read += response.get("ScannedCount", 0)
            entries += [IndexEntry(Key(i[PK]["S"], i[SK]["S"]), i[index.sort]["S"])
                        for i in response.get("Items", []) if i[index.sort]["S"] != below]
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            params["ExclusiveStartKey"] = last
        return IndexPage(entries, last[index.sort]["S"] if last and read >= limit else None)

    async def count_index(
        self, index: Index, partition: str, *, below: str | None = None, at_least: str | None = None,
        having: Having | None = None,
    ) -> int:
        check_having(index, having)
        if below is not None and at_least is not None and at_least >= below:
            return 0
        params = _index_query(index, partition, below, at_least, having)
        total = 0
        if below is not None and at_least is not None:  # BETWEEN counts `below` itself: leave it out
            exact = {**params, "KeyConditionExpression": "#p = :p AND #s = :hi",
                     "ExpressionAttributeValues": {k: v for k, v in params["ExpressionAttributeValues"].items()
                                                   if k != ":lo"}}
            total -= (await self._call("query", **exact, Select="COUNT")).get("Count", 0)
        while True:
            response = await self._call("query", **params, Select="COUNT")
            total += response.get("Count", 0)
            if not (last := response.get("LastEvaluatedKey")):
                return total
            params["ExclusiveStartKey"] = last

    async def scan(self, *, limit: int = 100, cursor: str | None = None) -> Page:
        check_limit(limit)
        params: dict[str, Any] = {"ConsistentRead": True}
        if cursor is not None:
            params["ExclusiveStartKey"] = _wire_key(decode_scan_cursor(cursor))
        items: list[Item] = []
        now = now_epoch()
        while len(items) < limit:
            response = await self._call("scan", **params, Limit=limit - len(items))
            items += [i for i in map(from_wire, response.get("Items", [])) if not is_expired(i, now)]
            if not (last := response.get("LastEvaluatedKey")):
                return Page(items, None)
            params["ExclusiveStartKey"] = last
        return Page(items, encode_scan_cursor(key_of(items[-1])))

    def change_stamp(self) -> int | None:
        return None  # no such number in DynamoDB: the fast path makes its reads again

    async def ping(self) -> None:
        try:
            response = await self._client.describe_table(TableName=self._table)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise TableMissing(_missing(self._table, self._client)) from None
            raise StoreError(f"DynamoDB describe_table failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB describe_table failed: {exc}") from exc
        status = response["Table"]["TableStatus"]
        if status not in ("ACTIVE", "UPDATING"):
            raise StoreError(f"DynamoDB table {self._table} is {status}")

    async def close(self) -> None:
        await self._stack.aclose()


def _index_query(index: Index, partition: str, below: str | None, at_least: str | None,
                 having: Having | None) -> dict[str, Any]:
    """One key condition on the sort key. BETWEEN is inclusive at both ends, and a filter
    may not name a key of the index, so with both bounds query_index drops the upper one
    itself (read, then left out: at most one entry, sort values being unique)."""
    names = {"#p": index.partition}
    if below is not None or at_least is not None:
        names["#s"] = index.sort
    values: dict[str, Any] = {":p": {"S": partition}}
    condition, filters = "#p = :p", []
    if below is not None and at_least is not None:
        condition += " AND #s BETWEEN :lo AND :hi"
        values.update({":lo": {"S": at_least}, ":hi": {"S": below}})
    elif below is not None:
        condition += " AND #s < :hi"
        values[":hi"] = {"S": below}
    elif at_least is not None:
        condition += " AND #s >= :lo"
        values[":lo"] = {"S": at_least}
    if having is not None:
        names["#h"] = having[0]
        options = sorted(having[1])
        values.update({f":h{n}": {"S": v} for n, v in enumerate(options)})
        filters.append(f"#h IN ({', '.join(f':h{n}' for n in range(len(options)))})")
    params: dict[str, Any] = {"IndexName": index.name, "KeyConditionExpression": condition,
                              "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
    if filters:
        params["FilterExpression"] = " AND ".join(filters)
    return params


def aws_session() -> aioboto3.Session:
    """botocore reads only AWS_DEFAULT_REGION; when just AWS_REGION is set (as on Lambda, or
    by habit), that one, said once."""
    region = os.environ.get("AWS_DEFAULT_REGION") or None
    if region is None and (region := os.environ.get("AWS_REGION") or None) and region not in _told:
        _told.add(region)
        log.info("AWS_DEFAULT_REGION is unset: using AWS_REGION=%s", region)
    return aioboto3.Session(region_name=region)


_told: set[str] = set()


@contextlib.asynccontextmanager
async def _client(session: aioboto3.Session | None) -> AsyncIterator[Any]:
    try:
        async with (session or aws_session()).client("dynamodb", config=client_config()) as client:
            yield client
    except NoRegionError:
        raise StoreConfigError(
            "AWS_DEFAULT_REGION: no AWS region configured for DynamoDB (COMMERCE_TABLE is set): "
            "set AWS_DEFAULT_REGION (or AWS_REGION) to the table's region, e.g. us-east-1") from None


def _missing(table: str, client: Any) -> str:
    region = client.meta.region_name
    endpoint = client.meta.endpoint_url
    return (f"COMMERCE_TABLE: DynamoDB table {table!r} does not exist in region {region} "
            f"({endpoint}): create it with `gateway create-table`, or set AWS_DEFAULT_REGION to "
            "the region it is in")


async def create_table(table: str, *, session: aioboto3.Session | None = None) -> str:
    """Create the table (keys, GSI, TTL) if missing; safe to run any number of times.

    Returns what it did, for the CLI to print."""
    async with _client(session) as client:
        created = True
        try:
            await client.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=_attribute_definitions(),
                KeySchema=[
                    {"AttributeName": PK, "KeyType": "HASH"},
                    {"AttributeName": SK, "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[{
                    "IndexName": CUSTOMER_INDEX,
                    "KeySchema": [
                        {"AttributeName": CUSTOMER_ID, "KeyType": "HASH"},
                        {"AttributeName": PK, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }, *map(_order_index, ORDER_INDEXES)],
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
            created = False
        await client.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        ttl = await client.describe_time_to_live(TableName=table)
        if ttl["TimeToLiveDescription"].get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            await client.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRES_AT},
            )
        added = [] if created else await _add_order_indexes(client, table)
        recovery = await _point_in_time_recovery(client, table)
    indexes = f"; added {', '.join(added)} (run `gateway index-orders` to list older orders)" if added else ""
    return (f"table {table} {'created' if created else 'already exists'}{indexes}; TTL on {EXPIRES_AT}; "
            f"point-in-time recovery {recovery}")


def _attribute_definitions() -> list[dict[str, str]]:
    names = [PK, SK, CUSTOMER_ID, *dict.fromkeys(a for i in ORDER_INDEXES for a in (i.partition, i.sort))]
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def _order_index(index: Index) -> dict[str, Any]:
    """KEYS_ONLY (plus what `having` filters read): an entry is ~100 bytes, so an index
    write is 1 WCU whatever the order's size, and a count reads ~8,000 entries a call."""
    projection: dict[str, Any] = {"ProjectionType": "KEYS_ONLY"}
    if index.included:
        projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.included)}
    return {"IndexName": index.name, "Projection": projection,
            "KeySchema": [{"AttributeName": index.partition, "KeyType": "HASH"},
                          {"AttributeName": index.sort, "KeyType": "RANGE"}]}


async def _add_order_indexes(client: Any, table: str) -> list[str]:
    """An existing table (made before the order indexes, or by the system we replace) gets
    the ones it lacks: DynamoDB builds one GSI per UpdateTable, so each is waited for."""
    added = []
    for index in ORDER_INDEXES:
        described = (await client.describe_table(TableName=table))["Table"]
        if index.name in {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}:
            continue
        await client.update_table(TableName=table, AttributeDefinitions=_attribute_definitions(),
                                  GlobalSecondaryIndexUpdates=[{"Create": _order_index(index)}])
        await _wait_for_indexes(client, table)
        added.append(index.name)
    return added


async def _wait_for_indexes(client: Any, table: str, seconds: int = 1800) -> None:
    for _ in range(seconds):
        described = (await client.describe_table(TableName=table))["Table"]
        if all(i.get("IndexStatus") == "ACTIVE" for i in described.get("GlobalSecondaryIndexes", [])):
            return
        await asyncio.sleep(1)
    raise StoreError(f"DynamoDB table {table}: indexes still building after {seconds} s")


async def describe_setup(table: str, *, session: aioboto3.Session | None = None) -> dict[str, Any]:
    """What `gateway doctor` checks of the table: status, keys, indexes, TTL, point-in-time
    recovery (None when the endpoint has none, as DynamoDB Local)."""
    async with _client(session) as client:
        described = (await client.describe_table(TableName=table))["Table"]
        ttl = (await client.describe_time_to_live(TableName=table))["TimeToLiveDescription"]
        try:
            backups = await client.describe_continuous_backups(TableName=table)
            pitr = backups["ContinuousBackupsDescription"].get(
                "PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "UnknownOperationException":
                raise
            pitr = None
    return {
        "status": described["TableStatus"],
        "keys": [(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]],
        "indexes": [i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])],
        "ttl": (ttl.get("TimeToLiveStatus", "DISABLED"), ttl.get("AttributeName")),
        "pitr": pitr,
    }


async def _point_in_time_recovery(client: Any, table: str) -> str:
    """Turn point-in-time recovery on (35 days of restorable history); says what it found.
    DynamoDB Local does not keep backups: there it is reported, not fatal."""
    try:
        described = await client.describe_continuous_backups(TableName=table)
        status = described["ContinuousBackupsDescription"].get(
            "PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
        if status == "ENABLED":
            return "on"
        await client.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        return "turned on"
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return f"not available on this endpoint ({error.get('Code')})"
