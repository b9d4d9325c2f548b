"""Trusted documents: the storefront's own operations, known by their sha256 id.

graphql-codegen's client preset writes the manifest (examples/storefront/codegen.yml,
`persistedDocuments`: sha256 hex → document text); the gateway loads it once at start and
serves `{"documentId": "sha256:<hex>", "variables": …}` (the GraphQL-over-HTTP persisted
documents form) by POST and, for queries, by GET. With TRUSTED_DOCUMENTS=only nothing else
runs.

Each document is parsed here once; `TrustedDocuments.prepared` attaches what validating it
against the schema found (limits included), also once, so a request by id neither parses
nor validates. The fast path (a separate module) looks documents up here too: iterate over
a `TrustedDocuments` to prepare each one at start.

Status codes follow the GraphQL-over-HTTP draft and the Apollo router: an unknown id is
404 (PERSISTED_QUERY_NOT_FOUND), a malformed request 400, a mutation by GET 405, and free
text where only trusted documents run 400 (TRUSTED_DOCUMENT_REQUIRED).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import orjson
from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode, parse
from strawberry.http import GraphQLRequestData

PREFIX = "sha256:"
# Root fields whose answer is the same for every caller: a query of only these may be
# cached by a CDN when asked by GET without credentials.
PUBLIC_ROOT_FIELDS = frozenset({"products", "__typename"})
PUBLIC_CACHE_CONTROL = "public, max-age=60"
PRIVATE_CACHE_CONTROL = "private, no-store"
DOCUMENT_ID = re.compile(r"sha256:[0-9a-f]{64}")
# The storefront's variables are a few short strings and a cart: kilobytes at most. Bounded
# here for GET (a URL has no body limit of ours), and for POST below the body limit.
MAX_VARIABLES_BYTES = 16 * 1024
# GraphQL variables nest a few levels (input.items[0].sku); nothing legitimate comes near.
MAX_JSON_DEPTH = 32
OperationType = Literal["query", "mutation", "subscription"]
Mode = Literal["only", "allow"]


class ManifestError(Exception):
    """The manifest cannot be read or holds something that is not a trusted document."""


class TrustedRequestRefused(Exception):
    """A request by id (or without one, where ids are required) that cannot run."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    id: str  # "sha256:<hex>", as clients send it
    text: str
    operation_type: OperationType
    operation_name: str | None
    document: DocumentNode  # parsed once, at load
    public: bool = False  # reads no user's data: a CDN may cache its GET answers
    # What validation (operation limits, then GraphQL's rules) found, computed once by
    # `TrustedDocuments.prepared`; None until then.
    errors: tuple[GraphQLError, ...] | None = None


@dataclass(slots=True)
class TrustedRequestData(GraphQLRequestData):
    """Strawberry's request data, for a request by id: carries the resolved document."""

    trusted: TrustedDocument | None = None


class TrustedDocuments:
    """The manifest, keyed by document id."""

    def __init__(self, documents: Mapping[str, TrustedDocument]) -> None:
        self._documents = dict(documents)

    def get(self, document_id: str) -> TrustedDocument | None:
        return self._documents.get(document_id)

    def __iter__(self) -> Iterator[TrustedDocument]:
        return iter(self._documents.values())

    def __len__(self) -> int:
        return len(self._documents)

    def prepared(self, validate: Callable[[DocumentNode], list[GraphQLError]]) -> TrustedDocuments:
        """The same documents, each with its validation errors computed once."""
        return TrustedDocuments({key: replace(doc, errors=tuple(validate(doc.document)))
                                 for key, doc in self._documents.items()})


def load_manifest(path: Path) -> TrustedDocuments:
    """Read graphql-codegen's persisted-documents manifest (hex sha256 → text). Each key must
    be the sha256 of its text, and each text one operation (with its fragments)."""
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ManifestError(f"cannot read the trusted documents manifest {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{path}: the manifest must be a JSON object (sha256 hex → document)")
    documents: dict[str, TrustedDocument] = {}
    for digest, text in raw.items():
        if not isinstance(text, str) or hashlib.sha256(text.encode()).hexdigest() != digest:
            raise ManifestError(f"{path}: {digest!r} is not the sha256 of its document; "
                                "regenerate the manifest (scripts/persisted-documents)")
        document = parse(text)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1:
            raise ManifestError(f"{path}: document {digest} holds {len(operations)} operations, not one")
        operation = operations[0]
        documents[PREFIX + digest] = TrustedDocument(
            id=PREFIX + digest, text=text, operation_type=operation.operation.value,
            operation_name=operation.name.value if operation.name else None, document=document,
            public=_reads_no_user(operation))
    return TrustedDocuments(documents)


def wants_document_id(method: str, query_params: Mapping[str, object], body: bytes | None) -> bool:
    """Whether a request names a document id: cheap, before any JSON is parsed."""
    if method == "GET":
        return "documentId" in query_params
    return body is not None and b'"documentId"' in body


def trusted_request(data: object, method: str, documents: TrustedDocuments) -> TrustedRequestData:
    """Resolve a request that names a `documentId` (parsed JSON body, or the query string's
    parameters with `variables` already parsed) into request data for the document."""
    if not isinstance(data, dict):
        raise TrustedRequestRefused(400, "BAD_USER_INPUT", "A request by documentId must be one JSON object "
                                                           "(batches are not accepted).")
    document_id = data.get("documentId")
    if not isinstance(document_id, str):
        raise TrustedRequestRefused(400, "BAD_USER_INPUT", "documentId must be a string: \"sha256:<64 hex>\".")
    if data.get("query") not in (None, ""):
        raise TrustedRequestRefused(400, "BAD_USER_INPUT", "Send either query or documentId, not both.")
    if not DOCUMENT_ID.fullmatch(document_id):
        raise TrustedRequestRefused(400, "BAD_USER_INPUT",
                                    "documentId must be \"sha256:\" followed by 64 lowercase hex digits.")
    variables = data.get("variables")
    if not isinstance(variables, (dict, type(None))):
        raise TrustedRequestRefused(400, "BAD_USER_INPUT", "variables must be an object or null.")
    if variables and len(orjson.dumps(variables)) > MAX_VARIABLES_BYTES:
        raise TrustedRequestRefused(400, "BAD_USER_INPUT", f"variables over {MAX_VARIABLES_BYTES} bytes.")
    extensions = data.get("extensions")
    if not isinstance(extensions, (dict, type(None))):
        raise TrustedRequestRefused(400, "BAD_USER_INPUT", "extensions must be an object or null.")
    document = documents.get(document_id)
    if document is None:
        raise TrustedRequestRefused(404, "PERSISTED_QUERY_NOT_FOUND", "No trusted document has this documentId.")
    name = data.get("operationName")
    if name is not None and name != document.operation_name:
        raise TrustedRequestRefused(400, "BAD_USER_INPUT", "operationName does not match the document.")
    if method == "GET" and document.operation_type != "query":
        raise TrustedRequestRefused(405, "METHOD_NOT_ALLOWED", "Only queries run by GET; send mutations by POST.")
    return TrustedRequestData(query=document.text, variables=variables, operation_name=document.operation_name,
                              extensions=extensions, trusted=document)


def refuse_free_text(mode: Mode) -> None:
    """Where only trusted documents run, a request that sends document text is refused."""
    if mode == "only":
        raise TrustedRequestRefused(400, "TRUSTED_DOCUMENT_REQUIRED",
                                    "This gateway runs only trusted documents: send documentId "
                                    "(\"sha256:<hex>\" from the storefront's manifest), not query.")


def cache_control(document: TrustedDocument | None, method: str, *, authorized: bool, failed: bool) -> str:
    """The Cache-Control of a /graphql answer: a shared cache (a CDN) may keep, for a short
    while, an anonymous GET by id of a query that reads no user's data (products) and
    succeeded; everything else is private and not stored."""
    return public_cache_control(document is not None and document.public, method, authorized=authorized,
                                failed=failed)


def public_cache_control(public: bool, method: str, *, authorized: bool, failed: bool) -> str:
    """cache_control, given whether the document is public."""
    if public and method == "GET" and not authorized and not failed:
        return PUBLIC_CACHE_CONTROL
    return PRIVATE_CACHE_CONTROL


def _reads_no_user(operation: OperationDefinitionNode) -> bool:
    """A query whose root fields are all public catalog fields (no fragments at the root:
    what they select is not looked into)."""
    selections = operation.selection_set.selections
    return operation.operation.value == "query" and all(
        isinstance(s, FieldNode) and s.name.value in PUBLIC_ROOT_FIELDS for s in selections)


def json_depth(value: object) -> int:
    """How deeply a parsed JSON value nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in item)
    return deepest
