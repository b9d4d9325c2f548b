"""Typed reads of decoded form parameters, each failing as Stripe does (400 + param)."""

from __future__ import annotations

import re
from typing import Any, Literal, overload

from stripe_emulator.errors import invalid

MAX_INT = 99_999_999_999
_INTEGER = re.compile(r"^-?[0-9]{1,19}$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def check_known(params: dict[str, Any], allowed: set[str], where: str | None = None) -> None:
    for name in params:
        if name not in allowed:
            label = f"{where}[{name[:80]}]" if where else name[:80]
            raise invalid(f"Received unknown parameter: {label}", param=label)


@overload
def text(params: dict, name: str, *, required: Literal[True], max_length: int = ...,
         where: str | None = ...) -> str: ...
@overload
def text(params: dict, name: str, *, required: bool = ..., max_length: int = ...,
         where: str | None = ...) -> str | None: ...
def text(params: dict, name: str, *, required: bool = False, max_length: int = 5000,
         where: str | None = None) -> str | None:
    value = params.get(name)
    label = where or name
    if value is None:
        if required:
            raise invalid(f"Missing required param: {label}.", param=label)
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {label}", param=label)
    if len(value) > max_length:
        raise invalid(f"{label} is too long (at most {max_length} characters).", param=label)
    return value


@overload
def integer(params: dict, name: str, *, required: Literal[True], minimum: int = ...,
            maximum: int = ..., where: str | None = ...) -> int: ...
@overload
def integer(params: dict, name: str, *, required: bool = ..., minimum: int = ...,
            maximum: int = ..., where: str | None = ...) -> int | None: ...
def integer(params: dict, name: str, *, required: bool = False, minimum: int = 0,
            maximum: int = MAX_INT, where: str | None = None) -> int | None:
    label = where or name
    raw = text(params, name, required=required, max_length=20, where=label)
    if raw is None:
        return None
    if not _INTEGER.match(raw):
        raise invalid(f"Invalid integer: {raw[:40]}", param=label)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise invalid(f"{label} must be between {minimum} and {maximum}.", param=label)
    return value


def boolean(params: dict, name: str, *, where: str | None = None) -> bool | None:
    label = where or name
    raw = text(params, name, max_length=5, where=label)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(f"Invalid boolean: {raw}", param=label)
    return raw == "true"


def mapping(params: dict, name: str, *, where: str | None = None) -> dict[str, Any] | None:
    value = params.get(name)
    label = where or name
    if value is None or value == "":
        return None if value is None else {}
    if not isinstance(value, dict):
        raise invalid(f"Invalid object: {label}", param=label)
    return value


def array(params: dict, name: str, *, where: str | None = None, max_items: int = 100) -> list | None:
    value = params.get(name)
    label = where or name
    if value is None:
        return None
    if isinstance(value, dict) and not value:
        return []
    if not isinstance(value, list):
        raise invalid(f"Invalid array: {label}", param=label)
    if len(value) > max_items:
        raise invalid(f"{label} has too many items (at most {max_items}).", param=label)
    return value


def strings(params: dict, name: str, *, where: str | None = None, max_items: int = 100,
            max_length: int = 5000) -> list[str] | None:
    label = where or name
    values = array(params, name, where=label, max_items=max_items)
    if values is not None and not all(isinstance(v, str) and len(v) <= max_length for v in values):
        raise invalid(f"Invalid array of strings: {label}", param=label)
    return values


def metadata(params: dict, name: str = "metadata", *, where: str | None = None) -> dict[str, str] | None:
    label = where or name
    value = mapping(params, name, where=label)
    if value is None:
        return None
    if len(value) > 50:
        raise invalid("Metadata can have at most 50 keys.", param=label)
    for key, item in value.items():
        if not isinstance(item, str) or len(key) > 40 or len(item) > 500:
            raise invalid(f"Invalid metadata value for {key[:40]}.", param=f"{label}[{key[:40]}]")
    return {k: v for k, v in value.items() if v != ""}


TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")


def tax_behavior(params: dict, name: str = "tax_behavior", *, where: str | None = None) -> str:
    value = text(params, name, max_length=20, where=where)
    if value is None:
        return "unspecified"
    if value not in TAX_BEHAVIORS:
        raise invalid(f"Invalid {where or name}: must be one of exclusive, inclusive, or unspecified",
                      param=where or name)
    return value


def currency(params: dict, name: str, *, required: bool = True, where: str | None = None) -> str | None:
    value = text(params, name, required=required, max_length=3, where=where)
    if value is None:
        return None
    if not _CURRENCY.match(value):
        raise invalid(f"Invalid currency: {value}", param=where or name)
    return value.lower()


def merge_metadata(current: dict[str, str], update: dict[str, str], params: dict) -> dict[str, str]:
    """Stripe's metadata update: keys set to "" are removed; `metadata=""` clears all."""
    if params.get("metadata") == "":
        return {}
    removed = {k for k, v in params["metadata"].items() if v == ""}
    return {k: v for k, v in {**current, **update}.items() if k not in removed}
