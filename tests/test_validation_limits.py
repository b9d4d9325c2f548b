"""Validation costs time linear in the document, whatever its shape (issue 15, finding 1):
the operation limits are computed with each fragment summarised once, and checked before
GraphQL's own rules, so no document under the token limit holds the server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.hostile_documents import SHAPES, doubling_fragments, largest, repeated_field, tokens
from tests.live_gateway import gateway_env
from tests.services import ROOT, free_port, wait_for_port

MAX_TOKENS = 2000  # the default GRAPHQL_MAX_TOKENS
BOUND = 1.0  # seconds: generous; these documents take milliseconds now, and minutes to ages before


@pytest.fixture(scope="module")
def own_process(tmp_path_factory):
    """The gateway under uvicorn in a process of its own: a validation that never ends
    (as on the code before these limits) must not hold the test process's interpreter."""
    port = free_port()
    env = {**os.environ, **gateway_env(tmp_path_factory.mktemp("validation"))}
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(10)


def timed_post(base: str, document: str) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = httpx.post(f"{base}/graphql", json={"query": document}, timeout=BOUND * 5)
    return time.monotonic() - started, response


def refused(response: httpx.Response) -> list[str]:
    body = response.json()
    assert body.get("data") is None, body
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    return [e["message"] for e in body["errors"]]


def test_fragments_that_each_spread_the_next_twice_are_refused_within_a_second_while_healthz_answers(own_process):
    document = doubling_fragments(40)  # 2^40 fields once written out, in 1.6 KB
    assert tokens(document) <= MAX_TOKENS and len(document) < 2000
    answers: list[tuple[float, httpx.Response | None]] = []
    stop = threading.Event()

    def attack() -> None:
        while not stop.is_set() and len(answers) < 20:
            try:
                answers.append(timed_post(own_process, document))
            except httpx.TimeoutException:
                answers.append((float("inf"), None))
                return

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    try:
        for _ in range(5):  # the server keeps answering others while it is sent
            started = time.monotonic()
            health = httpx.get(f"{own_process}/healthz", timeout=BOUND)
            assert health.status_code == 200 and time.monotonic() - started < BOUND
            time.sleep(0.1)
    finally:
        stop.set()
        attacker.join(BOUND * 6)
    assert answers
    for seconds, response in answers:
        assert seconds < BOUND and response is not None
        assert any("selected over" in m for m in refused(response))


def test_a_field_repeated_five_hundred_times_is_refused_by_name_before_field_merging(own_process):
    """Field merging (graphql-core's OverlappingFieldsCanBeMerged) compares every pair of
    same-named fields: 495 repeats cost it about a second, then ended in "Validation
    aborted.". The limit names the field, and answers first."""
    seconds, response = timed_post(own_process, repeated_field(495))
    assert seconds < BOUND
    assert any("'products' is selected over" in m for m in refused(response))


@pytest.mark.parametrize("shape", SHAPES)
def test_the_worst_document_of_each_shape_under_the_token_limit_is_answered_within_a_second(own_process, shape):
    build, most = SHAPES[shape]
    document = largest(build, most, MAX_TOKENS)
    seconds, response = timed_post(own_process, document)
    assert response.status_code == 200, response.text
    assert seconds < BOUND, f"{shape}: {seconds:.2f} s"


def expand(document: str) -> str:
    """The document with every spread replaced by its fragment's selections (exponential:
    for small documents only)."""
    from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, parse, print_ast
    from graphql.language import OperationDefinitionNode, SelectionNode, SelectionSetNode

    parsed = parse(document)
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}

    def inline(selection_set: SelectionSetNode) -> SelectionSetNode:
        out: list[SelectionNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                out.extend(inline(fragments[selection.name.value].selection_set).selections)
                continue
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                selection = type(selection)(**{**{k: getattr(selection, k) for k in selection.keys},
                                               "selection_set": inline(selection.selection_set)})
            out.append(selection)
        return SelectionSetNode(selections=tuple(out))

    [operation] = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    assert not any(isinstance(s, InlineFragmentNode) for s in operation.selection_set.selections)
    return print_ast(OperationDefinitionNode(operation=operation.operation,
                                             selection_set=inline(operation.selection_set)))


@pytest.mark.parametrize("levels", [3, 6])
def test_the_limits_count_through_fragments_as_if_every_spread_were_written_out(levels):
    """Summarising each fragment once changes the time, not the figures: depth, aliases
    and cost through fragments spread at every level are those of the expanded text."""
    from graphql import parse

    from schema.operation_limits import Limits, check_limits

    parts = ["query { ...F0 }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on T {{ a: viewer {{ ...F{i + 1} }} b: viewer {{ ...F{i + 1} }} "
                     f"orders(first: 3) {{ ...F{i + 1} }} }}")
    parts.append(f"fragment F{levels} on T {{ leaf }}")
    document = " ".join(parts)
    tight = Limits(max_depth=levels - 1, max_aliases=3, max_cost=50)
    summarised = [e.message for e in check_limits(parse(document), tight)]
    written_out = [e.message for e in check_limits(parse(expand(document)), tight)]
    assert summarised == written_out and len(summarised) == 3
    aliases = 3 ** levels - 1  # two aliased fields per fragment, which is spread 3 times below
    assert f"{aliases} aliases found" in summarised[1]


def test_fragment_cycles_unknown_and_duplicate_fragments_are_refused_without_walking_them():
    from graphql import parse

    from schema.operation_limits import Limits, check_limits

    cases = {
        "query { ...A } fragment A on Q { ...B } fragment B on Q { x ...A }": "within itself via 'B'",
        "query { ...A } fragment A on Q { ...A }": "Cannot spread fragment 'A' within itself.",
        "query { ...A } fragment A on Q { ...Nope }": "Unknown fragment 'Nope'.",
        "query { ...A } fragment A on Q { x } fragment A on Q { y }": "only one fragment named 'A'",
    }
    for document, message in cases.items():
        [error] = check_limits(parse(document), Limits())
        assert message in error.message, document
    chain = " ".join(f"fragment F{i} on Q {{ ...F{i + 1} }}" for i in range(600))  # no deep stack
    [error] = check_limits(parse("query { ...F0 } " + chain + " fragment F600 on Q { ...F0 }"), Limits())
    assert "Cannot spread fragment 'F0' within itself" in error.message


def test_two_texts_of_one_deeply_nested_document_are_both_answered(own_process):
    """The validation cache compared parsed documents, recursing through their trees: the
    second text of a shape nested 190 levels deep (another comment of the same length: equal
    trees, equal hashes) overflowed the stack, an INTERNAL_SERVER_ERROR. The cache is keyed
    by the text now."""
    from tests.hostile_documents import nested_inline_fragments

    document = nested_inline_fragments(190)
    for text in (f"# one\n{document}", f"# two\n{document}"):
        _, response = timed_post(own_process, text)
        assert response.json() == {"data": {"__typename": "Query"}}, response.text[:300]


def test_graphiql_introspection_and_composed_fragments_stay_within_the_limits():
    """The limits refuse shapes, not ordinary clients: GraphiQL's full introspection query
    (fragments nested eight levels through ofType) and a field selected by several
    colocated fragments pass, as does every rule after them."""
    from graphql import get_introspection_query, parse, specified_rules

    from schema import build_schema
    from schema.extensions import _validate
    from schema.operation_limits import Limits

    schema = build_schema()._schema
    full = get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                   schema_description=True, input_value_deprecation=True)
    composed = """{ viewer { ...A ...B ...C userId } }
      fragment A on Profile { userId orders { edges { node { id total { amount currency } } } } }
      fragment B on Profile { userId orders { edges { node { id status } } pageInfo { hasNextPage } } }
      fragment C on Profile { userId email orders { edges { cursor node { id orderNumber } } } }"""
    for document in (full, composed):
        assert _validate(schema, parse(document), Limits(), tuple(specified_rules), True) == []
