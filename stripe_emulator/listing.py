"""List objects (newest first, limit, starting_after, ending_before, created filters)
and expansion of ids into objects (`expand[]`, dotted paths)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from stripe_emulator.errors import invalid
from stripe_emulator.params import array, integer, mapping, text
from stripe_emulator.state import State, public

LIST_PARAMS = {"limit", "starting_after", "ending_before", "created", "expand"}


def paginate(objects: Iterable[dict], params: dict, url: str) -> dict[str, Any]:
    rows = [o for o in reversed(list(objects)) if _created_ok(o, params)]  # newest first
    limit = integer(params, "limit", minimum=1, maximum=100) or 10
    after, before = text(params, "starting_after", max_length=255), text(params, "ending_before", max_length=255)
    if after and before:
        raise invalid("You may only specify one of these parameters: starting_after, ending_before.",
                      param="ending_before")
    ids = [o["id"] for o in rows]
    if after is not None:
        if after not in ids:
            raise invalid(f"No such object: '{after[:100]}'", param="starting_after", code="resource_missing")
        rows = rows[ids.index(after) + 1:]
        page, more = rows[:limit], len(rows) > limit
    elif before is not None:
        if before not in ids:
            raise invalid(f"No such object: '{before[:100]}'", param="ending_before", code="resource_missing")
        rows = rows[:ids.index(before)]
        page, more = rows[-limit:], len(rows) > limit
    else:
        page, more = rows[:limit], len(rows) > limit
    return {"object": "list", "data": [public(o) for o in page], "has_more": more, "url": url}


def _created_ok(obj: dict, params: dict) -> bool:
    created = params.get("created")
    if created is None:
        return True
    if isinstance(created, str):
        return obj["created"] == integer(params, "created")
    bounds = mapping(params, "created") or {}
    for op, test in (("gt", lambda a, b: a > b), ("gte", lambda a, b: a >= b),
                     ("lt", lambda a, b: a < b), ("lte", lambda a, b: a <= b)):
        value = integer(bounds, op, where=f"created[{op}]")
        if value is not None and not test(obj["created"], value):
            return False
    unknown = set(bounds) - {"gt", "gte", "lt", "lte"}
    if unknown:
        raise invalid(f"Received unknown parameter: created[{sorted(unknown)[0][:20]}]", param="created")
    return True


def expand(state: State, obj: dict[str, Any], params: dict,
           extra: dict[str, Callable[[dict], Any]] | None = None) -> dict[str, Any]:
    """Replace the ids named in expand[] by their objects; `extra` computes fields that
    exist only when expanded (a session's line_items)."""
    paths = array(params, "expand", max_items=20) or []
    for path in paths:
        if not isinstance(path, str) or len(path) > 200:
            raise invalid("Invalid expand path.", param="expand")
        _expand_path(state, obj, path.split("."), extra or {}, path)
    return obj


def _expand_path(state: State, node: Any, parts: list[str], extra: dict, full: str) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict) and node.get("object") == "list" and head == "data":
        for item in node["data"]:
            _expand_path(state, item, rest, extra, full)
        return
    if not isinstance(node, dict) or (head not in node and head not in extra):
        raise invalid(f"This property cannot be expanded ({full[:100]}).", param="expand")
    if head in extra and head not in node:
        node[head] = extra[head](node)
    value = node[head]
    if isinstance(value, str):
        found = state.find(value)
        if found is None:
            raise invalid(f"This property cannot be expanded ({full[:100]}).", param="expand")
        value = node[head] = public(found)
    if rest:
        _expand_path(state, value, rest, {}, full)
