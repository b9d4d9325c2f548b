"""`gateway doctor`: checks the live setup an operator has just deployed or changed, one
line per check with the fix. Exit 0 only when nothing failed (a check that cannot be made
on this endpoint, such as point-in-time recovery on DynamoDB Local, is `skip`).

Checks: the Stripe key's form, that Stripe accepts it, its mode against ENVIRONMENT; a
webhook endpoint for PUBLIC_URL/stripe/webhook, enabled and subscribed to every event type
the gateway handles, and a webhook secret to verify it; the store (the DynamoDB table's
keys, `stripeCustomerId-index`, TTL on `expiresAt`, point-in-time recovery; or the SQLite
file); https success and cancel URLs in production; the stored catalog map against the
catalog and Stripe's prices.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from settings import ConfigError, Settings, check_stripe_key, load_settings, read_stripe_secret

if TYPE_CHECKING:
    from payments import WebhookEndpoint

Status = Literal["ok", "fail", "skip"]
WEBHOOK_PATH = "/stripe/webhook"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{self.status.upper():4} {self.name}: {self.detail}"
        return text + (f" -> fix: {self.fix}" if self.fix else "")


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, "fail", detail, fix)


def skip(name: str, detail: str) -> Check:
    return Check(name, "skip", detail)


def run(environ: dict[str, str] | None = None) -> list[Check]:
    """Every check, against the configuration in `environ` (default: the process's)."""
    env = dict(os.environ if environ is None else environ)
    checks: list[Check] = []
    key = env.get("STRIPE_SECRET", "")
    if key:
        try:
            check_stripe_key(key)
        except ValueError as exc:
            checks.append(fail("stripe key", f"STRIPE_SECRET {exc}", "set STRIPE_SECRET to the sk_... key"))
            env.pop("STRIPE_SECRET")  # the other checks run without it
    settings = load_settings(env)
    checks += asyncio.run(_live_checks(settings, key_checked=bool(checks)))
    return checks


async def _live_checks(settings: Settings, *, key_checked: bool) -> list[Check]:
    from store import StoreConfigError, open_store

    checks: list[Check] = []
    payments = await _stripe_checks(settings, checks, key_checked)
    try:
        store = await open_store(table=settings.commerce_table, sqlite_path=settings.gateway_db)
    except StoreConfigError as exc:
        checks.append(fail("store", str(exc), _store_fix(exc)))
        store = None
    try:
        if store is not None:
            checks += await _store_checks(settings)
        checks += _url_checks(settings)
        checks += await _catalog_checks(settings, store, payments)
    finally:
        if store is not None:
            await store.close()
        if payments is not None:
            await payments.close()
    return checks


async def _stripe_checks(settings: Settings, checks: list[Check], key_checked: bool):
    """The key's form, Stripe's answer to it, its mode; then the webhook endpoint. Returns
    the Stripe client when the key works, for the catalog check."""
    from payments import Payments, PaymentsUnavailable

    if not (settings.stripe_secret or settings.stripe_secret_parameter):
        if not key_checked:
            checks.append(fail("stripe key", "STRIPE_SECRET is not set (payments would be emulated)",
                               "set STRIPE_SECRET (or STRIPE_SECRET_PARAMETER) to the account's sk_... key"))
        checks.append(skip("webhook endpoint", "no usable Stripe key to list endpoints with"))
        return None
    try:
        key = await read_stripe_secret(settings)
    except ConfigError as exc:
        checks.append(fail("stripe key", str(exc), "store the sk_... key in that SSM parameter"))
        return None
    checks.append(ok("stripe key", f"well formed ({key[:8]}...)"))
    live = key.split("_")[1] == "live"
    if settings.production and not live:
        checks.append(fail("stripe mode", "ENVIRONMENT=production with a test-mode key",
                           "use the live key (sk_live_...) in production"))
    elif not settings.production and live:
        checks.append(fail("stripe mode", "a live-mode key outside production: real charges",
                           "use a test key (sk_test_...) or set ENVIRONMENT=production"))
    else:
        checks.append(ok("stripe mode", f"{'live' if live else 'test'} key for {settings.environment}"))
    payments = Payments(key, api_base=settings.stripe_api_base, timeout=settings.stripe_timeout_seconds,
                        max_network_retries=1)
    try:
        endpoints = await payments.list_webhook_endpoints()
    except PaymentsUnavailable as exc:
        checks.append(fail("stripe accepts key", f"Stripe refused or did not answer: {exc}",
                           "copy the current secret key from the Stripe dashboard (Developers -> API keys); "
                           "check STRIPE_API_BASE and the network"))
        await payments.close()
        return None
    checks.append(ok("stripe accepts key", f"listed {len(endpoints)} webhook endpoint(s)"))
    checks += _webhook_checks(settings, endpoints)
    return payments


def _webhook_checks(settings: Settings, endpoints: list[WebhookEndpoint]) -> list[Check]:
    from webhooks.handlers import HANDLERS

    url = settings.public_url.rstrip("/") + WEBHOOK_PATH
    mine = [e for e in endpoints if e.url == url]
    checks = []
    if not (settings.stripe_webhook_secret or settings.stripe_webhook_secret_parameter):
        checks.append(fail("webhook secret", "STRIPE_WEBHOOK_SECRET is not set: every delivery is refused",
                           "set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)"))
    else:
        checks.append(ok("webhook secret", "set"))
    events = ", ".join(sorted(HANDLERS))
    if not mine:
        checks.append(fail("webhook endpoint", f"no Stripe webhook endpoint for {url} (PUBLIC_URL)",
                           f"add one in the Stripe dashboard (Developers -> Webhooks) for {url} with: {events}"))
        return checks
    enabled = [e for e in mine if e.status == "enabled"]
    if not enabled:
        checks.append(fail("webhook endpoint", f"{mine[0].id} for {url} is disabled",
                           "enable it in the Stripe dashboard (Developers -> Webhooks)"))
        return checks
    endpoint = enabled[0]
    checks.append(ok("webhook endpoint", f"{endpoint.id} for {url}, enabled"))
    subscribed = set(endpoint.enabled_events)
    missing = [] if "*" in subscribed else sorted(set(HANDLERS) - subscribed)
    if missing:
        checks.append(fail("webhook events", f"{endpoint.id} is not subscribed to {', '.join(missing)}",
                           f"add {', '.join(missing)} to the endpoint's events in the Stripe dashboard"))
    else:
        checks.append(ok("webhook events", f"subscribed to all {len(HANDLERS)} event types the gateway handles"))
    return checks


def _store_fix(exc: Exception) -> str:
    text = str(exc)
    if text.startswith("COMMERCE_TABLE"):
        return "gateway create-table (or set AWS_DEFAULT_REGION to the table's region)"
    if text.startswith("AWS_DEFAULT_REGION"):
        return "set AWS_DEFAULT_REGION (or AWS_REGION)"
    return "see the message: GATEWAY_DB names the file"


async def _store_checks(settings: Settings) -> list[Check]:
    if not settings.commerce_table:
        return [ok("store", f"SQLite {settings.gateway_db} opens (one machine only; COMMERCE_TABLE for DynamoDB)")]
    from store.dynamodb import describe_setup

    setup = await describe_setup(settings.commerce_table)
    table = settings.commerce_table
    checks = [ok("table", f"{table} exists ({setup['status']})")]
    if setup["keys"] == [("PK", "HASH"), ("SK", "RANGE")]:
        checks.append(ok("table keys", "PK (hash), SK (range)"))
    else:
        checks.append(fail("table keys", f"{table} has keys {setup['keys']}, not PK/SK",
                           "this is not the gateway's table: point COMMERCE_TABLE at the one "
                           "`gateway create-table` made"))
    if "stripeCustomerId-index" in setup["indexes"]:
        checks.append(ok("table index", "stripeCustomerId-index"))
    else:
        checks.append(fail("table index", f"{table} has no stripeCustomerId-index",
                           "add the GSI (stripeCustomerId hash, PK range), as deploy/template.yaml does"))
    if setup["ttl"] == ("ENABLED", "expiresAt") or setup["ttl"] == ("ENABLING", "expiresAt"):
        checks.append(ok("table TTL", "on expiresAt"))
    else:
        checks.append(fail("table TTL", f"time to live is {setup['ttl'][0]} on {setup['ttl'][1]}",
                           "gateway create-table (turns TTL on expiresAt on)"))
    if setup["pitr"] == "ENABLED":
        checks.append(ok("table PITR", "point-in-time recovery on"))
    elif setup["pitr"] is None:
        checks.append(skip("table PITR", "this endpoint has no point-in-time recovery (DynamoDB Local)"))
    else:
        checks.append(fail("table PITR", "point-in-time recovery is off",
                           "gateway create-table (turns it on), or PointInTimeRecoverySpecification in the template"))
    return checks


def _url_checks(settings: Settings) -> list[Check]:
    checks = []
    for name in ("checkout_success_url", "checkout_cancel_url"):
        value = getattr(settings, name)
        variable = name.upper()
        if value is None:
            checks.append(ok(variable, "unset: the gateway's plain page (development)"))
        elif settings.production and not value.startswith("https://"):
            checks.append(fail(variable, f"{value} is not https in production",
                               f"set {variable} to the shop's https:// page"))
        else:
            checks.append(ok(variable, value))
    return checks


async def _catalog_checks(settings: Settings, store, payments) -> list[Check]:
    from commerce.catalog import load_catalog
    from commerce.catalog_sync import load_catalog_map

    if store is None or payments is None:
        return [skip("catalog map", "needs the store and a Stripe key that works")]
    catalog = load_catalog(settings.catalog_path)
    try:
        mapping = await load_catalog_map(store)
    except Exception as exc:
        return [fail("catalog map", f"cannot read it: {exc}", "check the store (above)")]
    if not mapping:
        return [fail("catalog map", "no SKU -> Stripe price map stored", "gateway catalog sync")]
    limit = asyncio.Semaphore(4)

    async def problem(product) -> str | None:
        entry = mapping.get(product.sku)
        if entry is None:
            return f"{product.sku} not synced"
        if (entry.unit_amount, entry.currency) != (product.price, product.currency):
            return f"{product.sku} mapped at {entry.unit_amount} {entry.currency}, catalog says {product.price}"
        async with limit:
            price = await payments.retrieve_price(entry.price_id)
        if (price.unit_amount, price.currency, price.active) != (product.price, product.currency.lower(), True):
            return f"{product.sku}: Stripe price {price.id} is {price.unit_amount} {price.currency}" \
                   f"{'' if price.active else ' (inactive)'}"
        return None

    try:
        problems = [p for p in await asyncio.gather(*(problem(p) for p in catalog.products)) if p]
    except Exception as exc:
        return [fail("catalog map", f"a mapped Stripe price cannot be read: {exc}", "gateway catalog sync")]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        return [fail("catalog map", shown, "gateway catalog sync")]
    return [ok("catalog map", f"{len(catalog.products)} SKUs match Stripe's prices")]


def report(checks: list[Check], *, as_json: bool) -> str:
    if as_json:
        return json.dumps({"ok": passed(checks), "checks": [asdict(c) for c in checks]})
    failed = sum(c.status == "fail" for c in checks)
    summary = "all checks passed" if not failed else f"{failed} check(s) failed"
    return "\n".join([c.line() for c in checks] + [summary])


def passed(checks: list[Check]) -> bool:
    return not any(c.status == "fail" for c in checks)
