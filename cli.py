"""The `gateway` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from settings import ConfigError, load_settings

EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}$"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="The Babes Club commerce gateway.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server (GraphQL, health)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.set_defaults(run=_serve)

    table = commands.add_parser("create-table", help="create the DynamoDB table (idempotent)")
    table.add_argument("--table", help="table name (default: COMMERCE_TABLE)")
    table.set_defaults(run=_create_table)

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


def _port(value: str) -> int:
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
    import uvicorn

    from commerce.catalog import CatalogError, load_catalog
    from server import create_app

    settings = load_settings()
    try:
        load_catalog(settings.catalog_path)  # fail before binding the port, with the entry named
    except CatalogError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    store = f"DynamoDB table {settings.commerce_table}" if settings.commerce_table \
        else f"SQLite {settings.gateway_db}"
    print(f"gateway: {settings.environment}, store: {store}")
    print(f"gateway: GraphiQL at http://{args.host}:{args.port}/graphql", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, access_log=False,
                log_level="info")
    return 0


def _create_table(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from store.dynamodb import create_table

    table = args.table or load_settings().commerce_table
    if not table:
        print("gateway: name the table with --table or COMMERCE_TABLE", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(create_table(table)))
    except (BotoCoreError, ClientError) as exc:
        print(f"gateway: cannot create table {table}: {exc}", file=sys.stderr)
        return 1
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


def _token(args: argparse.Namespace) -> int:
    from auth import mint_token

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
