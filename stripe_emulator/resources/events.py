"""Events: retrieve, and list by type, types[], created and delivery_success."""

from __future__ import annotations

from typing import Any

from stripe_emulator.listing import LIST_PARAMS
from stripe_emulator.params import boolean, check_known, strings, text
from stripe_emulator.resources.call import Call, Handler, retrieve


def list_events(call: Call) -> dict[str, Any]:
    p = call.params
    check_known(p, LIST_PARAMS | {"type", "types", "delivery_success"})
    wanted, types = text(p, "type", max_length=100), strings(p, "types", max_items=20, max_length=100)
    delivered = boolean(p, "delivery_success")
    rows = [e for e in call.state.events.values()
            if (wanted is None or _type_matches(e["type"], wanted)) and (types is None or e["type"] in types)
            and (delivered is None or (e["id"] in call.state.delivered) == delivered)]
    return call.page(rows, "/v1/events")


def _type_matches(actual: str, wanted: str) -> bool:
    """`type` takes a wildcard suffix: `charge.*`."""
    return actual == wanted or (wanted.endswith(".*") and actual.startswith(wanted[:-1]))


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/v1/events", list_events),
    ("GET", "/v1/events/{id}", retrieve("events", "event")),
]
