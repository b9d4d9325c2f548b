"""The single-table key layout, built in one place.

Kept from the system we replace (so the gateway drops into its existing table):

    entity              PK                      SK
    user profile        USER#{userId}           PROFILE
    order               USER#{userId}           ORDER#{timestamp}#{orderId}
    quote               QUOTE#{signature}       CACHE
    checkout session    QUOTE#{signature}       SESSION#{sessionId}
    session pointer     SESSION#{sessionId}     METADATA
    rate-limit window   RATE#{ip}               WINDOW#{windowId}
    sync checkpoint     SYSTEM                  STRIPE_SYNC
    Stripe catalog map  SYSTEM                  STRIPE_CATALOG      (ours: SKU -> product, price)
    order by id         ORDER#{orderId}         METADATA            (ours: the order; the USER# copy lists it)
    payment pointer     PAYMENT#{paymentIntent} METADATA            (ours: the order's id)
    webhook receipt     EVENT#{eventId}         RECEIPT             (ours: processing lease / done)
    webhook failures    EVENT#{eventId}         FAILURES            (ours: attempts, last error)
    dead letter         DEADLETTER              EVENT#{eventId}     (ours: event kept for replay)

GSI ``stripeCustomerId-index``: partition ``stripeCustomerId``, sort ``PK``.

Every item also carries ``entity`` (what it is) and, when it expires, ``expiresAt``
(epoch seconds: the table's TTL attribute, and honoured on read by both engines).
"""

from __future__ import annotations

from dataclasses import dataclass

PK = "PK"
SK = "SK"
ENTITY = "entity"
EXPIRES_AT = "expiresAt"
VERSION = "version"  # optimistic locking: put(item, if_version=n) writes only over version n
CUSTOMER_INDEX = "stripeCustomerId-index"
CUSTOMER_ID = "stripeCustomerId"


@dataclass(frozen=True, slots=True)
class Key:
    """The full primary key of one item."""

    pk: str
    sk: str


def quote(signature: str) -> Key:
    return Key(f"QUOTE#{signature}", "CACHE")


def profile(user_id: str) -> Key:
    return Key(f"USER#{user_id}", "PROFILE")


def user_partition(user_id: str) -> str:
    return f"USER#{user_id}"


ORDER_PREFIX = "ORDER#"


def order(user_id: str, timestamp: int, order_id: str) -> Key:
    return Key(user_partition(user_id), f"{ORDER_PREFIX}{timestamp}#{order_id}")


def quote_session(signature: str, session_id: str) -> Key:
    return Key(f"QUOTE#{signature}", f"SESSION#{session_id}")


def session_pointer(session_id: str) -> Key:
    return Key(f"SESSION#{session_id}", "METADATA")


def rate_window(client: str, window_id: int | str) -> Key:
    return Key(f"RATE#{client}", f"WINDOW#{window_id}")


def order_pointer(order_id: str) -> Key:
    """ORDER#{id} / METADATA: the order itself, found in O(1) by its id."""
    return Key(f"ORDER#{order_id}", "METADATA")


def payment_pointer(payment_intent_id: str) -> Key:
    """PAYMENT#{pi} / METADATA: the order a payment intent paid for."""
    return Key(f"PAYMENT#{payment_intent_id}", "METADATA")


def event_receipt(event_id: str) -> Key:
    return Key(f"EVENT#{event_id}", "RECEIPT")


def event_failures(event_id: str) -> Key:
    return Key(f"EVENT#{event_id}", "FAILURES")


DEAD_LETTERS = "DEADLETTER"


def dead_letter(event_id: str) -> Key:
    return Key(DEAD_LETTERS, f"EVENT#{event_id}")


STRIPE_SYNC = Key("SYSTEM", "STRIPE_SYNC")  # lastSyncAt, lastSyncCount (+ ours: run in progress)
SYNC_LEASE = Key("SYSTEM", "SYNC_LEASE")  # ours: who is reconciling, until when
STRIPE_CATALOG = Key("SYSTEM", "STRIPE_CATALOG")  # SKU -> Stripe product and price ids
SESSION_PREFIX = "SESSION#"


def key_of(item: dict) -> Key:
    return Key(item[PK], item[SK])
