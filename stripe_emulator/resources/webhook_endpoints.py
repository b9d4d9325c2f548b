"""Webhook endpoints: what an operator (or `gateway doctor`) lists to see where Stripe sends
events and which ones. The URLs the emulator was started with are listed as endpoints with
the events it delivers to them (`*` unless it was given a list); endpoints made through the
API are kept and listed (deliveries still go to the URLs the emulator was started with)."""

from __future__ import annotations

from typing import Any, Literal, overload

from stripe_emulator import objects
from stripe_emulator.errors import invalid
from stripe_emulator.ids import new_id
from stripe_emulator.params import array, check_known, merge_metadata, metadata, text
from stripe_emulator.resources.call import Call, Handler, lister, retrieve

PARAMS = {"url", "enabled_events", "description", "metadata", "api_version", "connect", "expand"}
UPDATE_PARAMS = {"url", "enabled_events", "description", "metadata", "disabled", "expand"}


def webhook_endpoint(url: str, events: list[str], *, api_version: str | None = None,
                     description: str | None = None, meta: dict | None = None) -> dict[str, Any]:
    return {
        "id": new_id("we_", 24), "object": "webhook_endpoint", "api_version": api_version,
        "application": None, "created": objects.now(), "description": description,
        "enabled_events": events, "livemode": False, "metadata": meta or {},
        "secret": "whsec_" + new_id("", 32), "status": "enabled", "url": url,
    }


@overload
def _events(params: dict, *, required: Literal[True]) -> list[str]: ...
@overload
def _events(params: dict, *, required: bool) -> list[str] | None: ...
def _events(params: dict, *, required: bool) -> list[str] | None:
    events = array(params, "enabled_events")
    if events is None:
        if required:
            raise invalid("Missing required param: enabled_events.", param="enabled_events")
        return None
    if not events or not all(isinstance(e, str) and 0 < len(e) <= 100 for e in events):
        raise invalid("Invalid array: enabled_events", param="enabled_events")
    return list(dict.fromkeys(events))


@overload
def _url(params: dict, *, required: Literal[True]) -> str: ...
@overload
def _url(params: dict, *, required: bool) -> str | None: ...
def _url(params: dict, *, required: bool) -> str | None:
    url = text(params, "url", required=required, max_length=2048)
    if url is not None and not url.startswith(("http://", "https://")):
        raise invalid("Invalid URL: url", param="url")
    return url


def create_webhook_endpoint(call: Call) -> dict[str, Any]:
    check_known(call.params, PARAMS)
    made = webhook_endpoint(_url(call.params, required=True), _events(call.params, required=True),
                            api_version=text(call.params, "api_version", max_length=40),
                            description=text(call.params, "description", max_length=5000),
                            meta=metadata(call.params))
    call.state.webhook_endpoints[made["id"]] = made
    return call.show(made)


def show_without_secret(obj: dict[str, Any], call: Call) -> dict[str, Any]:
    shown = call.show(obj)
    shown.pop("secret", None)  # Stripe returns the secret only when the endpoint is created
    return shown


def retrieve_webhook_endpoint(call: Call) -> dict[str, Any]:
    return show_without_secret(retrieve("webhook_endpoints", "webhook_endpoint")(call), call)


def update_webhook_endpoint(call: Call) -> dict[str, Any]:
    endpoint = call.get("webhook_endpoints", "webhook_endpoint")
    check_known(call.params, UPDATE_PARAMS)
    if (url := _url(call.params, required=False)) is not None:
        endpoint["url"] = url
    if (events := _events(call.params, required=False)) is not None:
        endpoint["enabled_events"] = events
    if (disabled := call.params.get("disabled")) is not None:
        endpoint["status"] = "disabled" if disabled == "true" else "enabled"
    if (md := metadata(call.params)) is not None:
        endpoint["metadata"] = merge_metadata(endpoint["metadata"], md, call.params)
    return show_without_secret(endpoint, call)


def delete_webhook_endpoint(call: Call) -> dict[str, Any]:
    endpoint = call.get("webhook_endpoints", "webhook_endpoint")
    del call.state.webhook_endpoints[endpoint["id"]]
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


def list_webhook_endpoints(call: Call) -> dict[str, Any]:
    page = lister("webhook_endpoints", "/v1/webhook_endpoints")(call)
    for row in page["data"]:
        row.pop("secret", None)
    return page


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/webhook_endpoints", create_webhook_endpoint),
    ("GET", "/v1/webhook_endpoints", list_webhook_endpoints),
    ("GET", "/v1/webhook_endpoints/{id}", retrieve_webhook_endpoint),
    ("POST", "/v1/webhook_endpoints/{id}", update_webhook_endpoint),
    ("DELETE", "/v1/webhook_endpoints/{id}", delete_webhook_endpoint),
]
