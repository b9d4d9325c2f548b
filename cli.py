"""The `gateway` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from datetime import UTC

EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}$"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl+C before the server took over the signal
        print("gateway: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    from settings import ConfigError  # here, not at the top: an early Ctrl+C stays quiet
    from telemetry.logs import configure_logging

    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging()  # telemetry/logs.py: JSON lines, or console lines in development on a terminal
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2


def load_settings(overrides: dict[str, str] | None = None):
    from settings import load_settings as load

    return load(overrides)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="The Babes Club commerce gateway.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server (GraphQL, health)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--workers", type=_workers, default=os.environ.get("GATEWAY_WORKERS", "1"),
                       help="worker processes, or `auto`: one per core this process may use "
                            "(default GATEWAY_WORKERS or 1)")
    serve.set_defaults(run=_serve)

    table = commands.add_parser("create-table", help="create the DynamoDB table (idempotent)")
    table.add_argument("--table", help="table name (default: COMMERCE_TABLE)")
    table.set_defaults(run=_create_table)

    catalog = commands.add_parser("catalog", help="catalog tasks")
    catalog_commands = catalog.add_subparsers(required=True, metavar="TASK")
    sync = catalog_commands.add_parser(
        "sync", help="create or update Stripe products and prices from the catalog (idempotent)")
    sync.set_defaults(run=_catalog_sync)

    sync = commands.add_parser("sync-orders", help="find and repair orders the webhooks missed")
    sync.add_argument("--since", type=_instant, help="ISO 8601 instant (default: the last checkpoint)")
    sync.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    sync.set_defaults(run=_sync_orders)

    emails = commands.add_parser(
        "send-emails", help="deliver the messages waiting in the outbox (exit 0: all due sent; "
                            "1: some failed and wait for a retry, or the store failed; 2: configuration)")
    emails.add_argument("--json", action="store_true", help="print the report as JSON")
    emails.set_defaults(run=_send_emails)
    sweep = commands.add_parser("sweep-stock",
                                help="give back the stock held by checkouts whose sessions are past their expiry")
    sweep.set_defaults(run=_sweep_stock)
    index = commands.add_parser("index-orders", help="list orders written before the order indexes in them "
                                "(a one-off scan; safe to run again)")
    index.set_defaults(run=_index_orders)

    replay = commands.add_parser("replay-dead-letters",
                                 help="reprocess webhook events kept as dead letters, and report")
    replay.set_defaults(run=_replay)

    emulator = commands.add_parser("emulator", help="run the offline Stripe emulator")
    emulator.add_argument("--host", default=os.environ.get("STRIPE_EMULATOR_HOST", "127.0.0.1"))
    emulator.add_argument("--port", type=_port, default=os.environ.get("STRIPE_EMULATOR_PORT", "12111"))
    emulator.add_argument("--webhook-url", action="append", type=_url,
                          default=_env_list("STRIPE_EMULATOR_WEBHOOK_URL"),
                          help="where to deliver events (repeatable)")
    emulator.add_argument("--webhook-secret", type=_webhook_secret,
                          default=os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
                          help="whsec_... to sign deliveries with (default: generated)")
    emulator.set_defaults(run=_emulator)

    doctor = commands.add_parser("doctor", help="check the live setup (Stripe key and webhook, table, "
                                 "URLs, catalog), one line per check with the fix")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.set_defaults(run=_doctor)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.set_defaults(run=_export_schema)

    token = commands.add_parser("token", help="mint a development bearer token (HS256, JWT_SECRET)")
    token.add_argument("--sub", required=True, type=_user_id, help="user id")
    token.add_argument("--email", type=_email)
    token.add_argument("--unverified", action="store_true", help="email_verified: false")
    token.add_argument("--admin", action="store_true", help="add the admin role")
    token.add_argument("--ttl", type=_ttl, default=3600, help="seconds until it expires (default 3600)")
    token.set_defaults(run=_token)
    return parser


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def _url(value: str) -> str:
    import re

    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL")
    return value


def _webhook_secret(value: str) -> str:
    if not value.startswith("whsec_") or len(value) < 10:
        raise argparse.ArgumentTypeError("a webhook secret looks like whsec_...")
    return value


def _workers(value: str | int) -> int | str:
    value = str(value)
    if value == "auto":
        return value
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers (1-64, or auto)")
    return int(value)


def _port(value: str | int) -> int:
    value = str(value)
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)")
    return int(value)


def _ttl(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 30 * 86400:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds (1 to 2592000)")
    return int(value)


def _user_id(value: str) -> str:
    if not 1 <= len(value) <= 255 or not value.isprintable():
        raise argparse.ArgumentTypeError("a user id is 1 to 255 printable characters")
    return value


def _email(value: str) -> str:
    import re

    if not re.match(EMAIL, value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an email address")
    return value


def _serve(args: argparse.Namespace) -> int:
    import serving
    from commerce.catalog import CatalogError, load_catalog

    auto = args.workers == "auto"
    workers = min(64, serving.available_cores()) if auto else args.workers
    try:  # first, so a port in use fails before any start-up work
        listener = serving.bind(args.host, args.port, workers=workers)
    except serving.PortInUse as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    if not os.environ.get("PUBLIC_URL"):
        os.environ["PUBLIC_URL"] = f"http://{_url_host(listener.host)}:{listener.port}"
    settings = load_settings()
    local = settings.public_url.rstrip("/")
    try:
        load_catalog(settings.catalog_path)  # fail before serving, with the entry named
    except CatalogError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    from server import EMULATOR_PATH, WEBHOOK_PATH, check_start, create_app, emulated_payments

    asyncio.run(check_start(settings))  # a store or key that cannot work: one line, exit 2

    emulated = emulated_payments(settings)
    if auto and emulated:  # the emulator keeps its state in one process
        workers, listener = 1, listener.first_only()
    if workers > 1 and emulated:
        print("gateway: --workers needs STRIPE_SECRET: the built-in Stripe emulator keeps its "
              "state in one process", file=sys.stderr)
        return 2
    store = f"DynamoDB table {settings.commerce_table}" if settings.commerce_table \
        else f"SQLite {settings.gateway_db}"
    stripe = "EMULATED (no STRIPE_SECRET: nothing is charged)" if emulated else _stripe_mode(settings)
    serving.say(f"gateway: {settings.environment}, store {store}, payments {stripe}")

    def ready() -> None:
        several = f" with {workers} workers" if workers > 1 else ""
        everywhere = " (every interface)" if listener.host in ("0.0.0.0", "::") else ""
        serving.say(f"gateway: listening on {listener.address}{everywhere}{several}")
        if settings.graphiql_enabled:
            serving.say(f"  GraphiQL    {local}/graphql")
        else:
            serving.say(f"  GraphQL     {local}/graphql (POST; GraphiQL is off)")
        if emulated:
            serving.say(f"  pay pages   {local}{EMULATOR_PATH}/pay/<session id>  "
                        "(card 4242 4242 4242 4242 pays)")
        serving.say(f"  webhooks    {local}{WEBHOOK_PATH}")
        serving.say(f"  health      {local}/healthz, {local}/readyz")
        serving.say("gateway: ready (Ctrl+C stops it)")

    # X-Forwarded-For is judged by TRUSTED_PROXIES (ratelimit.client_ip), not by uvicorn.
    from telemetry.logs import logging_config

    options = dict(access_log=False, proxy_headers=False,
                   log_config=logging_config())  # telemetry/logs.py: each worker logs as this process does
    if workers == 1:
        return serving.run(create_app(settings), listener, workers=1, on_ready=ready, **options)
    from web.observability import shared_metrics

    with shared_metrics():  # /metrics adds up every worker's counts
        return serving.run("server:create_app", listener, workers=workers, on_ready=ready,
                           factory=True, **options)


def _stripe_mode(settings) -> str:
    if settings.stripe_secret is None:
        return f"Stripe (key from SSM {settings.stripe_secret_parameter})"
    key = settings.stripe_secret.get_secret_value()
    return "Stripe, LIVE key" if "_live_" in key else "Stripe, test key" if "_test_" in key else "Stripe"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


@contextlib.asynccontextmanager
async def _backends(settings):
    """The store and the Stripe client, for commands that run outside the server."""
    from payments import Payments
    from settings import read_stripe_secret
    from store import open_store

    store = await open_store(table=settings.commerce_table, sqlite_path=settings.gateway_db)
    try:
        payments = Payments(await read_stripe_secret(settings), api_base=settings.stripe_api_base,
                            timeout=settings.stripe_timeout_seconds,
                            max_network_retries=settings.stripe_max_network_retries)
        try:
            yield store, payments
        finally:
            await payments.close()
    finally:
        await store.close()


def _stripe_settings(task: str):
    settings = load_settings()
    if not (settings.stripe_secret or settings.stripe_secret_parameter):
        print(f"gateway: {task} needs STRIPE_SECRET (or STRIPE_SECRET_PARAMETER); with payments "
              "emulated inside `gateway serve` there is no Stripe to reach from here",
              file=sys.stderr)
        return None
    return settings


def _run_against_stripe(task: str, work) -> int:
    from commerce.catalog import CatalogError
    from payments import PaymentsUnavailable
    from store import StoreError

    settings = _stripe_settings(task)
    if settings is None:
        return 2

    async def run():
        async with _backends(settings) as (store, payments):
            return await work(settings, store, payments)

    try:
        return asyncio.run(run())
    except CatalogError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    except (PaymentsUnavailable, StoreError) as exc:
        print(f"gateway: {task} failed: {exc}", file=sys.stderr)
        return 1


def _catalog_sync(args: argparse.Namespace) -> int:
    async def work(settings, store, payments) -> int:
        from commerce.catalog import load_catalog
        from commerce.catalog_sync import save_catalog_map, sync_catalog

        mapping, report = await sync_catalog(payments, load_catalog(settings.catalog_path),
                                             tax_behavior=settings.stripe_tax_behavior)
        await save_catalog_map(store, mapping)
        print(f"catalog synced: {report.summary()} ({len(mapping)} SKUs)")
        return 0

    return _run_against_stripe("catalog sync", work)


def _instant(value: str) -> int:
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 instant like 2026-11-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not datetime(2010, 1, 1, tzinfo=UTC) <= parsed <= datetime.now(UTC):
        raise argparse.ArgumentTypeError(f"{value!r} must be after 2010 and not in the future")
    return int(parsed.timestamp())


def _sync_orders(args: argparse.Namespace) -> int:
    import json

    from jobs.reconcile import SyncInProgress, sync_orders

    def progress(report) -> None:
        if sys.stderr.isatty() and not args.json:
            print(f"\rpage {report.pages}: {report.scanned} scanned, {report.created} created, "
                  f"{report.updated} updated", end="", file=sys.stderr, flush=True)

    async def work(settings, store, payments) -> int:
        import emailing

        emailing.configure(settings)
        try:
            report = await sync_orders(store, payments, since=args.since, dry_run=args.dry_run,
                                       per_second=settings.stripe_sync_rate, on_page=progress)
        except SyncInProgress as exc:
            print(f"gateway: {exc}; try again when it has finished", file=sys.stderr)
            return 3
        if args.json:
            print(json.dumps(report.as_dict()))
        else:
            if sys.stderr.isatty():
                print(file=sys.stderr)
            print(f"{'would change' if args.dry_run else 'synced'}: {report.scanned} scanned, "
                  f"{report.created} created, {report.updated} updated, {report.ignored} ignored "
                  f"(foreign), {report.events} undelivered events processed"
                  + (f", {report.unreadable} unreadable orders skipped (see the log)" if report.unreadable else ""))
        return 0

    return _run_against_stripe("sync-orders", work)


def scheduled_sync() -> dict:
    """For a scheduler (the deploy's timer, a cron job): one reconciliation with the
    process's configuration, returning the report. A run already in progress is not an
    error: it is reported as skipped."""
    from jobs.reconcile import SyncInProgress, sync_orders

    settings = load_settings()

    async def run() -> dict:
        import emailing

        emailing.configure(settings)  # the orders it repairs record their messages by these rules
        async with _backends(settings) as (store, payments):
            try:
                report = await sync_orders(store, payments, per_second=settings.stripe_sync_rate)
            except SyncInProgress:
                return {"skipped": "a reconciliation is already running"}
            return report.as_dict()

    result = asyncio.run(run())
    try:  # what it recorded, sent now; the email schedule sends the rest
        result["emails"] = asyncio.run(_drain_outbox(settings))
    except Exception as exc:  # the reconciliation stands: its own alarm is for its own failures
        import logging

        logging.getLogger("gateway.emails").exception("draining the outbox after the sync failed")
        result["emails"] = {"failed": f"{type(exc).__name__}: {exc}"}
    return result


async def _drain_outbox(settings) -> dict:
    """One drain of the outbox with this process's configuration (store only: no Stripe)."""
    import emailing
    from jobs.emails import drain
    from store import open_store

    transport = emailing.transport_for(settings)
    if transport is None:
        return {"skipped": "SMTP_URL is not set: messages wait in the outbox"}
    emailing.configure(settings)
    store = await open_store(table=settings.commerce_table, sqlite_path=settings.gateway_db)
    try:
        return (await drain(store, transport, emailing.sender_for(settings))).as_dict()
    finally:
        await store.close()


def _send_emails(args: argparse.Namespace) -> int:
    import json

    from store import StoreError

    settings = load_settings()
    try:
        report = asyncio.run(_drain_outbox(settings))
    except StoreError as exc:
        print(f"gateway: send-emails failed: {exc}", file=sys.stderr)
        return 1
    if "skipped" in report:
        print(f"gateway: {report['skipped']}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        where = "SMTP" if settings.smtp_url else f"files in {settings.outbox_dir}"
        print(f"emails ({where}): {report['sent']} sent, {report['retrying']} failed and will be retried, "
              f"{report['given_up']} given up, {report['pending']} still pending")
    return 1 if report["retrying"] or report["given_up"] else 0


def scheduled_emails() -> dict:
    """For the schedule (deploy/template.yaml's EmailFunction): one drain of the outbox."""
    return asyncio.run(_drain_outbox(load_settings()))


def _sweep_stock(args: argparse.Namespace) -> int:
    async def work(settings, store, payments) -> int:
        from jobs.stock_sweep import sweep_stock
        from store.base import now_epoch

        report = await sweep_stock(store, payments, now=now_epoch())
        print(f"looked at {report.looked_at} overdue holds: {report.released} released, {report.sold} sold, "
              f"{report.kept} kept (delayed payments settling)")
        return 0

    return _run_against_stripe("sweep-stock", work)


def scheduled_stock_sweep() -> dict:
    """For the schedule (deploy/template.yaml: StockSweepFunction): one stock sweep."""
    from dataclasses import asdict

    from jobs.stock_sweep import sweep_stock
    from store.base import now_epoch

    settings = load_settings()

    async def run() -> dict:
        async with _backends(settings) as (store, payments):
            return asdict(await sweep_stock(store, payments, now=now_epoch()))

    return asyncio.run(run())


def _replay(args: argparse.Namespace) -> int:
    async def work(settings, store, payments) -> int:
        from jobs.replay import replay_dead_letters

        results = await replay_dead_letters(store, payments)
        for r in results:
            print(f"{r.event_id} {r.event_type}: {r.outcome}")
        failed = sum(r.outcome.startswith("failed") for r in results)
        print(f"replayed {len(results)} dead letters: {len(results) - failed} done, {failed} still failing")
        return 1 if failed else 0

    return _run_against_stripe("replay-dead-letters", work)


def _emulator(args: argparse.Namespace) -> int:
    import serving
    from stripe_emulator import serve

    try:  # fail on a port in use as `gateway serve` does, before anything starts
        serving.bind(args.host, args.port).sock.close()
    except serving.PortInUse as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    serve(args.host, args.port, args.webhook_url, args.webhook_secret)
    return 0


def _create_table(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from store import StoreError
    from store.dynamodb import create_table

    table = args.table or load_settings().commerce_table
    if not table:
        print("gateway: name the table with --table or COMMERCE_TABLE", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(create_table(table)))
    except StoreError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"gateway: cannot create table {table}: {exc}", file=sys.stderr)
        return 1
    return 0


def _index_orders(args: argparse.Namespace) -> int:
    from jobs.index_orders import index_orders
    from store import StoreError, open_store

    async def run() -> int:
        settings = load_settings()
        store = await open_store(table=settings.commerce_table, sqlite_path=settings.gateway_db)
        try:
            report = await index_orders(store)
        finally:
            await store.close()
        print(f"indexed {report.indexed} of {report.orders} orders ({report.scanned} items scanned, "
              f"{report.unreadable} unreadable: see the log)")
        return 0

    try:
        return asyncio.run(run())
    except StoreError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1


def _doctor(args: argparse.Namespace) -> int:
    import doctor

    checks = doctor.run()
    print(doctor.report(checks, as_json=args.json))
    return 0 if doctor.passed(checks) else 1


def _export_schema(args: argparse.Namespace) -> int:
    from schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


def _token(args: argparse.Namespace) -> int:
    from web.auth import mint_token

    settings = load_settings()
    if settings.jwt_jwks_url:
        print("gateway: JWT_JWKS_URL is set (RS256): tokens come from your identity provider",
              file=sys.stderr)
        return 2
    print(mint_token(settings.secret("jwt_secret"), args.sub, email=args.email,
                     email_verified=not args.unverified, admin=args.admin, ttl_seconds=args.ttl,
                     issuer=settings.jwt_issuer, audience=settings.jwt_audience))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
