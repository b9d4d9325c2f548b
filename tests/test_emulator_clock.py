"""The emulator's clock (POST /_emulator/clock): sessions expire on time, with Stripe's
event, without anyone sleeping; bad input is a 400 that changes nothing."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.emulator_helpers import Emu, running_emu, wait_until


def clock(emu: Emu) -> dict:
    return httpx.get(f"{emu.url}/_emulator/clock", timeout=10).json()


@pytest.fixture(scope="module")
def emu():
    yield from running_emu()


def test_moving_the_clock_expires_overdue_sessions_with_their_event(emu: Emu):
    made = emu.session(expires_at=int(time.time()) + 3600)
    later = emu.session()  # Stripe's default: 24 hours
    emu.receiver.clear()
    moved = emu.control("clock", {"advance": made.expires_at - int(time.time()) + 1}).json()
    try:
        assert moved["expired"] >= 1 and moved["offset"] > 0
        assert emu.stripe.v1.checkout.sessions.retrieve(made.id).status == "expired"
        assert emu.stripe.v1.checkout.sessions.retrieve(later.id).status == "open"
        wait_until(lambda: "checkout.session.expired" in emu.receiver.types(made.id))
        [event] = [e for e in emu.receiver.events if e["data"]["object"]["id"] == made.id]
        assert event["data"]["object"]["status"] == "expired" and event["data"]["object"]["url"] is None
        assert event["data"]["previous_attributes"] == {"status": "open", "url": made.url}
        assert clock(emu)["now"] >= made.expires_at
    finally:
        assert emu.control("clock", {"set": int(time.time())}).json()["offset"] == 0
    assert emu.receiver.types(later.id) == []


@pytest.mark.parametrize("body", [{"advance": -5}, {"advance": "soon"}, {"advance": True}, {"set": 5},
                                  {"advance": 1, "set": 2}, {}, {"speed": 2}, {"advance": 10**9}])
def test_bad_clock_moves_are_refused_and_change_nothing(emu: Emu, body):
    before = clock(emu)["offset"]
    response = emu.control("clock", body)
    assert response.status_code == 400 and "message" in response.text
    assert clock(emu)["offset"] == before
