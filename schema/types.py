"""Shared GraphQL types: money, user errors, and the one way a mutation's payload is made."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry

from commerce.errors import ErrorCode
from resolvers.refusals import Refused

T = TypeVar("T")
P = TypeVar("P")

UserErrorCode = strawberry.enum(ErrorCode, name="UserErrorCode",
                                description="Why an input was refused.")


@strawberry.type(description="An amount of money: an integer in minor units (cents) and its currency.")
class Money:
    amount: int = strawberry.field(description="Minor units: 3000 is 30.00 USD.")
    currency: str = strawberry.field(description="Upper-case ISO 4217 code, e.g. USD.")


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="An expected failure: which input, what kind, and a message for people.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input at fault, e.g. [\"input\", \"items\", \"0\", \"quantity\"]."
    )
    code: ErrorCode  # shown as UserErrorCode: strawberry.enum above registers ErrorCode itself
    message: str


def money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def user_errors(refused: Refused) -> list[UserError]:
    return [UserError(field=list(e.field) if e.field else None, code=e.code, message=e.message)
            for e in refused.errors]


def payload(kind: Callable[..., P], result: T | Refused, **fields: Callable[[T], object]) -> P:
    """A mutation's payload. Refused: its userErrors, every other field at its default
    (null, or 0). Else no userErrors, and each named field built from the result."""
    if isinstance(result, Refused):
        return kind(user_errors=user_errors(result))
    return kind(user_errors=[], **{name: build(result) for name, build in fields.items()})
