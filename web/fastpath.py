"""The fast path of queries: an execution memoized on what it read.

A query whose root fields are all in MEMOIZABLE_ROOT_FIELDS (a trusted document by id,
web/trusted.py, or a short free-text query where free text runs) executes through
graphql-core as usual, but with a store that records its reads (store/recording.py). When
that execution wrote nothing, called no Stripe API, raised nothing (no errors) and logged no
unreadable item, its result is a function of (who asks, the document, its variables, the
reads' answers): it is kept, keyed by the first three, with the reads, their answers and
the store's change stamp taken before the first read.

A later identical request gets the kept bytes without executing when nothing can have
changed what it read:
- the store's change stamp has not moved (SQLite: PRAGMA data_version, which any commit
  by any connection moves, read in ~1.5 us without a store call), and no item read has
  reached its expiresAt since; or
- the stamp moved (or the engine has none: DynamoDB), so the same reads are made again
  (the dashboard: the same two store calls it would make anyway), and every answer is
  unchanged: the entry takes the new stamp.
Otherwise it executes, and the entry is replaced (or dropped).

So no write path has to invalidate anything, and a write path added later cannot make an
answer stale: whatever commits moves the stamp, and whatever changed an item the execution
read changes that read's answer. The key holds the verified viewer (user, email, whether
verified, roles), so one user's entry is never another's answer. Memory is bounded by
entries and by bytes (least recently used go).

Most hits never reach Strawberry's view: web/hotpath.py answers them from the request's
bytes. Either way what stays per request is authentication and its errors (a bad token is
never served from here), the request's log line and metrics, Cache-Control, rate limits and
every write (a request that writes is never a hit: it executes).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

import orjson
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
from prometheus_client import Counter
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from loaders import Loaders
from store import Store
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
# Free text is looked at (parsed once, to see its root fields) only when it is this short;
# at most MAX_TEXTS such texts are remembered, then the memory of them starts again.
MAX_FREE_TEXT = 2048
MAX_TEXTS = 1000
QUERY_ONLY = {OperationType.QUERY}

FAST_PATH = Counter("gateway_fast_path_total", "Memoizable queries by fast path outcome "
                    "(hit: kept answer served; miss: executed and kept; uncacheable: executed, not kept)",
                    ["outcome"], registry=REGISTRY)
HIT, MISS, UNCACHEABLE = (FAST_PATH.labels(o) for o in ("hit", "miss", "uncacheable"))

ViewerKey = tuple[str, str | None, bool, tuple[str, ...]] | None
# (who, the document: a trusted id, or ("text", operationName, text), the variables' canonical JSON)
CacheKey = tuple[ViewerKey, str | tuple[str, str | None, str], bytes]


@dataclass(slots=True)
class Entry:
    reads: tuple[Read, ...]
    data: bytes  # the result's `data`, as JSON
    size: int
    operation: str | None  # the operation's name, for the log line and metrics
    stamp: int | None  # the store's change stamp before the reads (None: it has none)
    fresh_until: float  # epoch seconds: the first expiresAt among the items read

    def body(self) -> bytes:
        """The whole answer, as Strawberry's view writes it (orjson, no extensions)."""
        return b'{"data":' + self.data + b"}"


def memoizable(document: TrustedDocument) -> bool:
    """A query, valid, whose root fields are all in MEMOIZABLE_ROOT_FIELDS."""
    if document.operation_type != "query" or document.errors:
        return False
    operation = next(d for d in document.document.definitions if isinstance(d, OperationDefinitionNode))
    return memoizable_operation(operation)


def memoizable_operation(operation: OperationDefinitionNode) -> bool:
    """No fragments at the root: what they select is not looked into."""
    return operation.operation.value == "query" and all(
        isinstance(s, FieldNode) and s.name.value in MEMOIZABLE_ROOT_FIELDS for s in operation.selection_set.selections)


def viewer_key(viewer: Viewer | None) -> ViewerKey:
    """Every claim a result can depend on (web/auth.Viewer holds only those)."""
    if viewer is None:
        return None
    return viewer.user_id, viewer.email, viewer.email_verified, tuple(sorted(viewer.roles))


def variables_key(variables: Mapping[str, Any] | None) -> bytes:
    return orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)


class FastPathCache:
    """server.GatewayGraphQL.fast_path: an answer for a memoizable query, or None to
    execute as usual (mutations, documents not memoizable, bad tokens)."""

    def __init__(self, schema: Any, documents: Iterable[TrustedDocument], *, max_entries: int = MAX_ENTRIES,
                 max_bytes: int = MAX_BYTES) -> None:
        self.schema = schema
        self.memoizable = {document.id for document in documents if memoizable(document)}
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.entries: OrderedDict[CacheKey, Entry] = OrderedDict()
        self.bytes = 0
        self._texts: dict[tuple[str, str | None], bool] = {}

    # ---- what a request may be answered with --------------------------------------------

    async def kept(self, key: CacheKey, store: Store) -> Entry | None:
        """The entry for `key`, when nothing it read can have changed (the module's rules)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        if time.time() >= entry.fresh_until:
            self._forget(key)
            return None
        stamp = store.change_stamp()
        if stamp is None or stamp != entry.stamp:
            try:
                if not await answers_unchanged(store, entry.reads):
                    return None
            except Exception:  # the store failed (StoreError, a timeout): executing reports it as usual
                return None
            entry.stamp = stamp
        self.entries.move_to_end(key)
        HIT.inc()
        return entry

    def text_memoizable(self, query: str, operation_name: str | None) -> bool:
        """Whether free text is a query of memoizable root fields (parsed once per text)."""
        if len(query) > MAX_FREE_TEXT:
            return False
        known = self._texts.get((query, operation_name))
        if known is None:
            known = _text_memoizable(query, operation_name)
            if len(self._texts) >= MAX_TEXTS:
                self._texts.clear()
            self._texts[(query, operation_name)] = known
        return known

    # ---- the seams in Strawberry's view (server.GatewayGraphQL.execute_single) ------------

    async def __call__(self, document: TrustedDocument, variables: Mapping[str, Any] | None,
                       context: Context) -> ExecutionResult | None:
        if document.id not in self.memoizable or context.auth_error is not None:
            return None
        return await self._run((viewer_key(context.viewer), document.id, variables_key(variables)),
                               document.text, document.operation_name, variables, context)

    async def free_text(self, query: object, operation_name: object, variables: object,
                        context: Context) -> ExecutionResult | None:
        if (context.auth_error is not None or not isinstance(query, str) or not isinstance(
                operation_name, (str, type(None))) or not isinstance(variables, (dict, type(None)))
                or not self.text_memoizable(query, operation_name)):
            return None
        return await self._run((viewer_key(context.viewer), ("text", operation_name, query),
                                variables_key(variables)), query, operation_name, variables, context)

    async def _run(self, key: CacheKey, text: str, operation_name: str | None,
                   variables: Mapping[str, Any] | None, context: Context) -> ExecutionResult:
        entry = await self.kept(key, context.services.store)
        if entry is not None:
            context.request.state.operation = entry.operation
            return ExecutionResult(data=cast(dict, orjson.Fragment(entry.data)), errors=None)
        return await self._execute(key, text, operation_name, variables, context)

    async def _execute(self, key: CacheKey, text: str, operation_name: str | None,
                       variables: Mapping[str, Any] | None, context: Context) -> ExecutionResult:
        services = context.services
        recording = RecordingStore(services.store)
        context.services = replace(services, store=recording)
        context.loaders = Loaders(recording, services.payments)
        state = context.request.state
        stripe_before = state.stripe_calls[0]
        unreadable_before = UNREADABLE_ORDERS._value.get()
        stamp = services.store.change_stamp()  # before the first read: a commit after it moves it
        try:
            result = await self.schema.execute(text, variable_values=variables, context_value=context,
                                               operation_name=operation_name, allowed_operation_types=QUERY_ONLY)
        finally:
            context.services = services
        self._forget(key)
        if (result.errors or result.data is None or recording.wrote or state.stripe_calls[0] != stripe_before
                or UNREADABLE_ORDERS._value.get() != unreadable_before):
            UNCACHEABLE.inc()
            return result
        data = orjson.dumps(result.data)
        reads = tuple(recording.reads)
        size = len(data) + sum(read.size for read in reads) + (len(text) if isinstance(key[1], tuple) else 0) + 256
        entry = Entry(reads, data, size, getattr(state, "operation", None), stamp, recording.fresh_until)
        if entry.size <= self.max_bytes:
            self.entries[key] = entry
            self.bytes += entry.size
            while len(self.entries) > self.max_entries or self.bytes > self.max_bytes:
                _, dropped = self.entries.popitem(last=False)
                self.bytes -= dropped.size
        MISS.inc()
        return result

    def _forget(self, key: CacheKey) -> None:
        dropped = self.entries.pop(key, None)
        if dropped is not None:
            self.bytes -= dropped.size


def _text_memoizable(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query, max_tokens=MAX_FREE_TEXT)
    except GraphQLError:
        return False  # executing reports it
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        chosen = operations if len(operations) == 1 else []
    else:
        chosen = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return len(chosen) == 1 and memoizable_operation(chosen[0])
