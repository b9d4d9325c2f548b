"""The single-table key layout, built in one place.

Kept from the system we replace (so the gateway drops into its existing table):

    entity              PK                      SK
    user profile        USER#{userId}           PROFILE
    order               USER#{userId}           ORDER#{timestamp}#{orderId}
    guest order         GUEST#{email}           ORDER#{timestamp}#{orderId}   (ours; earlier versions: USER#{email})
    quote               QUOTE#{signature}       CACHE
    quote claim         QUOTE#{signature}       CLAIM               (ours: who may check the quote out)
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
    email               EMAIL#{orderId}         {kind}#{ref}        (ours: a message to the shopper)
    email to send       OUTBOX                  EMAIL#{orderId}#{kind}#{ref}  (ours: pending only)
    refund request      REFUND#{orderId}        REQUEST#{digest}    (ours: a refund asked for, its Stripe key; expires)
    stock               STOCK#{sku}             METADATA            (ours: on hand, reserved, available, sold)
    reservation         QUOTE#{signature}       RESERVATION#{generation}#{attempt}  (ours: a checkout's hold)
    open reservation    RESERVATIONS            {expiresAt:012d}#{signature}#{generation}#{attempt}
                                                                    (ours: the sweep's list, by expiry)

GSI ``stripeCustomerId-index``: partition ``stripeCustomerId``, sort ``PK``.

Sparse GSIs for the shop's order listing, only on ORDER#{id} / METADATA items (written by
`store/records/order_index.py`), all sorted by ``orderListedAt`` = ``{createdAt:011d}#{id}``
(newest first = descending; unique, so a position is a cursor), all KEYS_ONLY (plus
``orderState`` on the email index), so an index write costs 1 WCU whatever the order's size:

    index                   partition           holds
    orders-index            ordersAll = ALL     every order
    orderState-index        orderState          {status}#{fulfilment}, e.g. PAID#UNFULFILLED
    orderEmail-index        orderEmail          the order's email, as `guest_email` writes it

Key size: DynamoDB allows 2,048 bytes of partition key and 1,024 of sort key, and the
index's sort key is ``PK``, so every PK must stay within 1,024 bytes (UTF-8). Values
from outside are bounded at the edge (`MAX_USER_ID_BYTES`, `MAX_EMAIL_BYTES`,
`MAX_SKU_BYTES`, checked with `fits`), so both engines refuse the same inputs with the
same error; a value from Stripe that is longer is stored under its digest (`_bounded`).

Every item also carries ``entity`` (what it is) and, when it expires, ``expiresAt``
(epoch seconds: the table's TTL attribute, and honoured on read by both engines).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PK = "PK"
SK = "SK"
ENTITY = "entity"
EXPIRES_AT = "expiresAt"
VERSION = "version"  # optimistic locking: put(item, if_version=n) writes only over version n
CUSTOMER_INDEX = "stripeCustomerId-index"
CUSTOMER_ID = "stripeCustomerId"

LISTED_AT = "orderListedAt"  # the sort key of the three order indexes


@dataclass(frozen=True, slots=True)
class Index:
    """A GSI: its name, partition and sort attributes (strings), and what it projects
    besides the keys (readable in `having` filters)."""

    name: str
    partition: str
    sort: str
    included: tuple[str, ...] = ()


ORDERS_INDEX = Index("orders-index", "ordersAll", LISTED_AT)
ORDER_STATE_INDEX = Index("orderState-index", "orderState", LISTED_AT)
ORDER_EMAIL_INDEX = Index("orderEmail-index", "orderEmail", LISTED_AT, included=("orderState",))
ORDER_INDEXES = (ORDERS_INDEX, ORDER_STATE_INDEX, ORDER_EMAIL_INDEX)
ALL_ORDERS = "ALL"


def listed_at(created_at: int, order_id: str) -> str:
    """An order's position in the order indexes: zero-padded epoch seconds, then its id."""
    return f"{created_at:011d}#{order_id}"


def listed_from(epoch: int) -> str:
    """The first position at or after an instant (inclusive lower bound)."""
    return f"{epoch:011d}#"


def order_state(status: str, fulfillment: str) -> str:
    return f"{status}#{fulfillment}"

MAX_KEY_BYTES = 1024  # DynamoDB's sort-key limit, which PK meets in the customer index
MAX_USER_ID_BYTES = 255  # a token's sub
MAX_EMAIL_BYTES = 320  # a guest's or a token's email
MAX_SKU_BYTES = 64


def fits(value: str, limit: int) -> bool:
    """Whether a value from outside is within `limit` bytes of UTF-8 (and encodable)."""
    try:
        return len(value.encode("utf-8")) <= limit
    except UnicodeEncodeError:  # a lone surrogate: neither engine stores it faithfully
        return False


def _bounded(value: str, limit: int = MAX_EMAIL_BYTES) -> str:
    """A value from Stripe as a key part: itself when it fits, else its digest."""
    if fits(value, limit):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


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


def guest_email(email: str) -> str:
    """How a guest's email is written in keys: trimmed, lower-case, bounded."""
    return _bounded(email.strip().lower())


def guest_partition(email: str) -> str:
    """GUEST#{email}: a guest's orders, apart from every user id (a `sub` may look like an
    email). They reach an account only through a verified email claim."""
    return f"GUEST#{guest_email(email)}"


def legacy_guest_partition(email: str) -> str:
    """Where earlier versions filed guest orders (USER#{email}): read only to claim them."""
    return user_partition(guest_email(email))


ORDER_PREFIX = "ORDER#"


def order(user_id: str, timestamp: int, order_id: str) -> Key:
    return Key(user_partition(user_id), f"{ORDER_PREFIX}{timestamp}#{order_id}")


def guest_order(email: str, timestamp: int, order_id: str) -> Key:
    return Key(guest_partition(email), f"{ORDER_PREFIX}{timestamp}#{order_id}")


def guest_unclaimed(email: str) -> Key:
    """GUEST#{email} / UNCLAIMED: a counter of the guest orders filed under the email, so a
    sign-in knows, in the same read as the profile, whether there are new ones to claim."""
    return Key(guest_partition(email), "UNCLAIMED")


def quote_claim(signature: str) -> Key:
    return Key(f"QUOTE#{signature}", "CLAIM")


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


def email(order_id: str, kind: str, ref: str) -> Key:
    """EMAIL#{orderId} / {kind}#{ref}: one message to the shopper (confirmation, shipping
    notice, refund notice), its identity deterministic, so recording it twice is one write.
    An order's messages are one query of its partition."""
    return Key(email_partition(order_id), f"{kind}#{_bounded(ref, 255)}")


def email_partition(order_id: str) -> str:
    return f"EMAIL#{order_id}"


OUTBOX = "OUTBOX"
OUTBOX_PREFIX = "EMAIL#"


def outbox_pointer(order_id: str, kind: str, ref: str) -> Key:
    """OUTBOX / EMAIL#{orderId}#{kind}#{ref}: present while the message is waiting to be sent,
    so the sender reads what is pending (one partition, O(pending)), never what was sent."""
    return Key(OUTBOX, f"{OUTBOX_PREFIX}{order_id}#{kind}#{_bounded(ref, 255)}")


def refund_request(order_id: str, digest: str) -> Key:
    """A refund the shop asked for (digest: of its amount and reason, or of the client's key)."""
    return Key(f"REFUND#{order_id}", f"REQUEST#{digest}")


def stock(sku: str) -> Key:
    return Key(f"STOCK#{sku}", "METADATA")


RESERVATION_PREFIX = "RESERVATION#"
OPEN_RESERVATIONS = "RESERVATIONS"  # one partition: ~1,000 checkouts a second (DynamoDB's per-partition writes)


def reservation(signature: str, generation: int, attempt: int) -> Key:
    return Key(f"QUOTE#{signature}", f"{RESERVATION_PREFIX}{generation}#{attempt}")


def open_reservation(expires_at: int, signature: str, generation: int, attempt: int) -> Key:
    """Sorted by when the hold ends, so the sweep reads only the overdue ones."""
    return Key(OPEN_RESERVATIONS, f"{expires_at:012d}#{signature}#{generation}#{attempt}")


STRIPE_SYNC = Key("SYSTEM", "STRIPE_SYNC")  # lastSyncAt, lastSyncCount (+ ours: run in progress)
SYNC_LEASE = Key("SYSTEM", "SYNC_LEASE")  # ours: who is reconciling, until when
STRIPE_CATALOG = Key("SYSTEM", "STRIPE_CATALOG")  # SKU -> Stripe product and price ids
SESSION_PREFIX = "SESSION#"


def key_of(item: dict) -> Key:
    return Key(item[PK], item[SK])
