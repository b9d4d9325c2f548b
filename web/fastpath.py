"""The fast path of trusted documents: an execution memoized on what it read.

A trusted query (web/trusted.py) runs through graphql-core as usual, but with a store that
records its reads (store/recording.py). When that execution wrote nothing, called no Stripe
API, raised nothing (no errors), logged no unreadable item and its root fields read no clock,
its result is a function of (who asks, the document, its variables, the reads' answers): it
is kept, keyed by the first three, with the reads and their answers. The next identical
request makes the same reads again (the dashboard: the same two store calls it would make
anyway) and, when every answer is unchanged, gets the kept response bytes without executing.
Otherwise it executes, and the entry is replaced (or dropped).

So no write path has to invalidate anything, and a write path added later cannot make an
answer stale: whatever changed an item the execution read changes that read's answer. The
key holds the verified viewer (user, email, whether verified, roles), so one user's entry is
never another's answer. Memory is bounded by entries and by bytes (least recently used go).

What stays per request, hit or not: authentication and its errors (a bad token is never
served from here), the request's log line and metrics, Cache-Control, rate limits and every
write (a request that writes is never a hit: it executes).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

import orjson
from graphql import FieldNode, OperationDefinitionNode
from prometheus_client import Counter
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from loaders import Loaders
from store.recording import Read, RecordingStore, answers_unchanged
from telemetry.metrics import REGISTRY, UNREADABLE_ORDERS
from web.auth import Viewer
from web.context import Context
from web.trusted import TrustedDocument

# Root fields whose resolvers (and the fields below them) read no clock and no request
# header: their result depends only on the viewer, the variables and the store's answers.
# A new root field is not memoized until it is checked and added here.
MEMOIZABLE_ROOT_FIELDS = frozenset({"viewer", "order", "products", "__typename"})
MAX_ENTRIES = 10_000
MAX_BYTES = 64 * 1024 * 1024
QUERY_ONLY = {OperationType.QUERY}

FAST_PATH = Counter("gateway_fast_path_total", "Trusted queries by fast path outcome "
                    "(hit: kept answer served; miss: executed and kept; uncacheable: executed, not kept)",
                    ["outcome"], registry=REGISTRY)
HIT, MISS, UNCACHEABLE = (FAST_PATH.labels(o) for o in ("hit", "miss", "uncacheable"))

CacheKey = tuple[tuple[str, str | None, bool, tuple[str, ...]] | None, str, bytes]


@dataclass(frozen=True, slots=True)
class Entry:
    reads: tuple[Read, ...]
    data: bytes  # the result's `data`, as JSON
    size: int


def memoizable(document: TrustedDocument) -> bool:
    """A query, valid, whose root fields are all in MEMOIZABLE_ROOT_FIELDS (no fragments at
    the root: what they select is not looked into)."""
    if document.operation_type != "query" or document.errors:
        return False
    operation = next(d for d in document.document.definitions if isinstance(d, OperationDefinitionNode))
    return all(isinstance(s, FieldNode) and s.name.value in MEMOIZABLE_ROOT_FIELDS
               for s in operation.selection_set.selections)


def viewer_key(viewer: Viewer | None) -> tuple[str, str | None, bool, tuple[str, ...]] | None:
    """Every claim a result can depend on (web/auth.Viewer holds only those)."""
    if viewer is None:
        return None
    return viewer.user_id, viewer.email, viewer.email_verified, tuple(sorted(viewer.roles))


class FastPathCache:
    """server.GatewayGraphQL.fast_path: an answer for a trusted document, or None to
    execute as usual (mutations, documents not memoizable, bad tokens)."""

    def __init__(self, schema: Any, documents: Any, *, max_entries: int = MAX_ENTRIES,
                 max_bytes: int = MAX_BYTES) -> None:
        self.schema = schema
        self.memoizable = {document.id for document in documents if memoizable(document)}
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.entries: OrderedDict[CacheKey, Entry] = OrderedDict()
        self.bytes = 0

    async def __call__(self, document: TrustedDocument, variables: Mapping[str, Any] | None,
                       context: Context) -> ExecutionResult | None:
        if document.id not in self.memoizable or context.auth_error is not None:
            return None
        key: CacheKey = (viewer_key(context.viewer), document.id,
                         orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS))
        entry = self.entries.get(key)
        if entry is not None and await self._unchanged(entry, context):
            self.entries.move_to_end(key)
            context.request.state.operation = document.operation_name  # for the log line and metrics
            HIT.inc()
            return ExecutionResult(data=cast(dict, orjson.Fragment(entry.data)), errors=None)
        return await self._execute(key, document, variables, context)

    async def _execute(self, key: CacheKey, document: TrustedDocument, variables: Mapping[str, Any] | None,
                       context: Context) -> ExecutionResult:
        services = context.services
        recording = RecordingStore(services.store)
        context.services = replace(services, store=recording)
        context.loaders = Loaders(recording, services.payments)
        state = context.request.state
        stripe_before = state.stripe_calls[0]
        unreadable_before = UNREADABLE_ORDERS._value.get()
        result = await self.schema.execute(document.text, variable_values=variables, context_value=context,
                                           operation_name=document.operation_name,
                                           allowed_operation_types=QUERY_ONLY)
        context.services = services
        self._forget(key)
        if (result.errors or result.data is None or recording.wrote or state.stripe_calls[0] != stripe_before
                or UNREADABLE_ORDERS._value.get() != unreadable_before):
            UNCACHEABLE.inc()
            return result
        data = orjson.dumps(result.data)
        reads = tuple(recording.reads)
        entry = Entry(reads, data, len(data) + sum(read.size for read in reads) + 256)
        if entry.size <= self.max_bytes:
            self.entries[key] = entry
            self.bytes += entry.size
            while len(self.entries) > self.max_entries or self.bytes > self.max_bytes:
                _, dropped = self.entries.popitem(last=False)
                self.bytes -= dropped.size
        MISS.inc()
        return result

    @staticmethod
    async def _unchanged(entry: Entry, context: Context) -> bool:
        try:
            return await answers_unchanged(context.services.store, entry.reads)
        except Exception:  # the store failed (StoreError, a timeout): executing reports it as usual
            return False

    def _forget(self, key: CacheKey) -> None:
        dropped = self.entries.pop(key, None)
        if dropped is not None:
            self.bytes -= dropped.size
