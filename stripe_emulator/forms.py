"""Stripe's form encoding: `a[b][c]=1`, `items[0][price]=x`, `expand[]=y`, both in
bodies and query strings, decoded into nested dicts and lists of strings."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from stripe_emulator.errors import invalid

_PART = re.compile(r"\[([^\[\]]*)\]")
_NAME = re.compile(r"^([A-Za-z0-9_]+)((?:\[[^\[\]]*\])*)$")


def decode(raw: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False, max_num_fields=2000)
    except ValueError:
        raise invalid("Too many parameters.") from None
    result: dict[str, Any] = {}
    for name, value in pairs:
        match = _NAME.match(name)
        if not match:
            raise invalid(f"Invalid parameter name: {name[:80]}", param=name[:80])
        path = [match.group(1), *_PART.findall(match.group(2))]
        _assign(result, path, value, name)
    return _listify(result)


def _assign(node: dict, path: list[str], value: str, name: str) -> None:
    for part in path[:-1]:
        child = node.setdefault(part or str(len(node)), {})
        if not isinstance(child, dict):
            raise invalid(f"Invalid parameter: {name[:80]}", param=name[:80])
        node = child
    last = path[-1]
    if last == "":
        last = str(len(node))
    if isinstance(node.get(last), dict):
        raise invalid(f"Invalid parameter: {name[:80]}", param=name[:80])
    node[last] = value


def _listify(node: Any) -> Any:
    """Dicts whose keys are 0..n-1 become lists."""
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        indexes = sorted(int(k) for k in converted)
        if indexes == list(range(len(indexes))):
            return [converted[str(i)] for i in indexes]
    return converted
