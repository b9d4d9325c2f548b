"""What a /v1 handler receives, and the lookups and output every handler shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stripe_emulator.errors import missing
from stripe_emulator.expansion import Extras, expand
from stripe_emulator.listing import LIST_PARAMS, paginate
from stripe_emulator.params import check_known
from stripe_emulator.state import State, public


@dataclass
class Call:
    state: State
    params: dict[str, Any]
    ids: dict[str, str]  # path parameters
    base_url: str  # where browsers reach this emulator, for pay page URLs
    extras: dict[str, Extras]  # fields that exist only when expanded

    def get(self, collection: str, name: str, object_id: str | None = None) -> dict[str, Any]:
        object_id = self.ids["id"] if object_id is None else object_id
        found = self.state.collection(collection).get(object_id)
        if found is None:
            raise missing(name, object_id)
        return found

    def show(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as the API returns it, expanded as asked."""
        return expand(self.state, public(obj), self.params, self.extras)

    def page(self, rows: Any, url: str) -> dict[str, Any]:
        return expand(self.state, paginate(rows, self.params, url), self.params, self.extras)


Handler = Callable[[Call], dict[str, Any]]


def retrieve(collection: str, name: str) -> Handler:
    def handler(call: Call) -> dict[str, Any]:
        check_known(call.params, {"expand"})
        return call.show(call.get(collection, name))
    return handler


def lister(collection: str, url: str) -> Handler:
    def handler(call: Call) -> dict[str, Any]:
        check_known(call.params, LIST_PARAMS)
        return call.page(call.state.collection(collection).values(), url)
    return handler
