"""CloudWatch Logs JSON filter patterns, as far as deploy/template.yaml uses them:
`{ $.a.b = "text*" && $.n >= 500 || ... }`, with =, !=, <, <=, >, >= on strings (with `*`
wildcards) and numbers. A log event that is not a JSON object matches no JSON pattern,
as in CloudWatch."""

from __future__ import annotations

import json
import re

CLAUSE = re.compile(r'^\$\.([A-Za-z0-9_.]+)\s*(=|!=|>=|<=|>|<)\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?)$')


def matches(pattern: str, line: str) -> bool:
    pattern = pattern.strip()
    if not (pattern.startswith("{") and pattern.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    try:
        event = json.loads(line)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    body = pattern[1:-1].strip()
    return any(all(_clause(c.strip(), event) for c in part.split("&&")) for part in body.split("||"))


def _clause(text: str, event: dict) -> bool:
    found = CLAUSE.match(text.strip("() "))
    if found is None:
        raise ValueError(f"unsupported clause: {text!r}")
    path, op, literal = found.groups()
    value: object = event
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    if literal.startswith('"'):
        if not isinstance(value, str) or op not in ("=", "!="):
            return False
        wanted = json.loads(literal)
        regex = "^" + ".*".join(re.escape(p) for p in wanted.split("*")) + "$"
        return bool(re.match(regex, value, re.S)) == (op == "=")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    number = float(literal)
    return {"=": value == number, "!=": value != number, ">=": value >= number,
            "<=": value <= number, ">": value > number, "<": value < number}[op]
