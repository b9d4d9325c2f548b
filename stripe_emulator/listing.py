"""List objects as Stripe pages them: newest first, `limit`, `starting_after`,
`ending_before`, and `created` as an exact time or `created[gt|gte|lt|lte]` bounds."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

from stripe_emulator.errors import invalid
from stripe_emulator.params import integer, mapping, text
from stripe_emulator.state import public

LIST_PARAMS = {"limit", "starting_after", "ending_before", "created", "expand"}
_BOUNDS: dict[str, Callable[[int, int], bool]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def paginate(objects: Iterable[dict], params: dict, url: str) -> dict[str, Any]:
    keep = created_filter(params)
    rows = [o for o in reversed(list(objects)) if keep(o.get("created", 0))]  # stored oldest first
    limit = integer(params, "limit", minimum=1, maximum=100) or 10
    after = text(params, "starting_after", max_length=255)
    before = text(params, "ending_before", max_length=255)
    if after and before:
        raise invalid("You may only specify one of these parameters: starting_after, ending_before.",
                      param="ending_before")
    if after is not None:
        rows = rows[_position(rows, after, "starting_after") + 1:]
        page, more = rows[:limit], len(rows) > limit
    elif before is not None:
        rows = rows[:_position(rows, before, "ending_before")]
        page, more = rows[-limit:], len(rows) > limit
    else:
        page, more = rows[:limit], len(rows) > limit
    return {"object": "list", "data": [public(o) for o in page], "has_more": more, "url": url}


def _position(rows: list[dict], object_id: str, param: str) -> int:
    for n, row in enumerate(rows):
        if row["id"] == object_id:
            return n
    raise invalid(f"No such object: '{object_id[:100]}'", param=param, code="resource_missing")


def created_filter(params: dict) -> Callable[[int], bool]:
    created = params.get("created")
    if created is None:
        return lambda _: True
    if isinstance(created, str):
        exact = integer(params, "created")
        return lambda value: value == exact
    bounds = mapping(params, "created") or {}
    unknown = set(bounds) - set(_BOUNDS)
    if unknown:
        name = f"created[{sorted(unknown)[0][:20]}]"
        raise invalid(f"Received unknown parameter: {name}", param=name)
    tests = [(_BOUNDS[op], integer(bounds, op, required=True, where=f"created[{op}]")) for op in bounds]
    return lambda value: all(test(value, limit) for test, limit in tests)
