"""A refused input as the client sees it: userErrors whose `field` is the input's path in
the operation (["input", "items", "0", "sku"]).

Commerce names what it refuses in its own terms (Problem.field: ("lines", 0, "sku")); each
resolver says how its commerce names read in the GraphQL input, so commerce knows nothing
of GraphQL and the schema only wraps what it is given."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from commerce.errors import ErrorCode, Problem

InputPath = Callable[[tuple[str | int, ...]], Sequence[str]]


@dataclass(frozen=True, slots=True)
class InputError:
    field: tuple[str, ...] | None  # None: the request as a whole
    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was done; the errors say why."""

    errors: tuple[InputError, ...]


def refusal(field: Sequence[str] | None, code: ErrorCode, message: str) -> Refused:
    """One error the resolver finds itself, at a path it spells in GraphQL terms."""
    return Refused((InputError(tuple(field) if field else None, code, message),))


def refusals(problems: Iterable[Problem], input_path: InputPath) -> Refused:
    """Commerce's problems, each at the input path `input_path` gives its field."""
    return Refused(tuple(
        InputError(tuple(input_path(p.field)) if p.field else None, p.code, p.message)
        for p in problems))
