"""Shared GraphQL types: money and user errors."""

from __future__ import annotations

from typing import Sequence

import strawberry

from commerce.errors import ErrorCode, Problem

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
    code: UserErrorCode
    message: str


def money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def user_errors(problems: Sequence[Problem]) -> list[UserError]:
    return [UserError(field=list(p.field) if p.field else None, code=p.code, message=p.message)
            for p in problems]
