"""The emulator's notion of now: the real time plus an offset that tests move
(POST /_emulator/clock), so sessions expire without anyone sleeping. Each emulator has its
own clock, set for the duration of each of its requests (a context variable: several
emulators in one process keep their own times). Webhook signatures keep the real time:
the receiver checks them against its own clock, as Stripe's would be."""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass


@dataclass
class Clock:
    offset: int = 0  # seconds ahead of the real time

    def now(self) -> int:
        return int(time.time()) + self.offset


_current: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("emulator_clock", default=None)


def now() -> int:
    clock = _current.get()
    return clock.now() if clock is not None else int(time.time())


def use(clock: Clock) -> contextvars.Token:
    return _current.set(clock)


def restore(token: contextvars.Token) -> None:
    _current.reset(token)
