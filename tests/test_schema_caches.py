"""Parsing and validation are cached across requests: the same document is validated
once, whatever the limits configured (they are part of the cache's key)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from strawberry.extensions.parser_cache import _get_parse_cache

from schema import build_schema
from schema.extensions import validate_document


async def test_the_second_request_of_a_document_is_neither_parsed_nor_validated_again():
    schema = build_schema(max_depth=7, max_aliases=3, max_tokens=500, max_cost=900, introspection=False)
    query = "query CacheProbe { __typename kind: __typename }"
    first = await schema.execute(query)
    assert first.errors is None and first.data == {"__typename": "Query", "kind": "Query"}
    parsed, validated = cache_info(_get_parse_cache(256)), cache_info(validate_document)
    for _ in range(3):
        again = await schema.execute(query)
        assert again.errors is None and again.data == first.data
    assert cache_info(_get_parse_cache(256)).hits == parsed.hits + 3
    assert cache_info(_get_parse_cache(256)).misses == parsed.misses
    assert cache_info(validate_document).hits == validated.hits + 3
    assert cache_info(validate_document).misses == validated.misses


async def test_the_limits_still_apply_to_a_cached_document():
    schema = build_schema(max_depth=2, introspection=False)
    deep = "{ viewer { orders { edges { node { id } } } } }"
    for _ in range(2):  # the second answer comes from the cache, and is the same refusal
        result = await schema.execute(deep)
        assert result.errors and "exceeds maximum operation depth" in result.errors[0].message
    hidden = await schema.execute("{ __schema { types { name } } }")
    assert hidden.errors and "introspection" in hidden.errors[0].message.lower()


def cache_info(cached: Callable[..., Any]) -> functools._CacheInfo:
    """The statistics of an lru_cache'd function that its library types as a plain callable."""
    return cast("functools._lru_cache_wrapper[Any]", cached).cache_info()
