"""`expand[]`: replace ids by their objects along dotted paths (`payment_intent.latest_charge`,
`data.price.product` through lists), and add fields that exist only when expanded."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from stripe_emulator.errors import invalid
from stripe_emulator.params import array
from stripe_emulator.state import State, public

# Fields computed only on request, by object type and the path below the object:
# {"checkout.session": {"line_items": f, "total_details.breakdown": g}}, each f(state, object) -> value.
Extras = dict[str, Callable[[State, dict[str, Any]], Any]]


def expand(state: State, obj: dict[str, Any], params: dict,
           extras: dict[str, Extras] | None = None) -> dict[str, Any]:
    paths = array(params, "expand", max_items=20) or []
    for path in paths:
        if not isinstance(path, str) or not path or len(path) > 200:
            raise invalid("Invalid expand path.", param="expand")
        if path.count(".") > 3:  # four levels at most
            raise invalid(f"You cannot expand more than 4 levels of a property ({path[:100]}).", param="expand")
        _expand_path(state, obj, path.split("."), extras or {}, path)
    return obj


def _expand_path(state: State, node: Any, parts: list[str], extras: dict[str, Extras], full: str,
                 computed: dict[str, Callable] | None = None) -> None:
    """`computed` holds the extras of the nearest enclosing Stripe object, keyed by the path
    below it (`total_details.breakdown` on a session)."""
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict) and node.get("object") == "list" and head == "data":
        for item in node["data"]:
            _expand_path(state, item, rest, extras, full)
        return
    if not isinstance(node, dict):
        raise invalid(f"This property cannot be expanded ({full[:100]}).", param="expand")
    if "object" in node:
        computed = {name: functools.partial(f, state, node) for name, f in extras.get(node["object"], {}).items()}
    computed = computed or {}
    if head in ("id", "object") or (head not in node and head not in computed):
        raise invalid(f"This property cannot be expanded ({full[:100]}).", param="expand")
    if head in computed and node.get(head) is None:
        node[head] = computed[head]()
    value = node[head]
    if isinstance(value, str):
        found = state.find(value)
        if found is None:
            raise invalid(f"This property cannot be expanded ({full[:100]}).", param="expand")
        value = node[head] = public(found)
    if rest and value is not None:
        below = {k.split(".", 1)[1]: f for k, f in computed.items() if k.startswith(head + ".")}
        _expand_path(state, value, rest, extras, full, below)
