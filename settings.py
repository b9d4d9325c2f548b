"""Configuration from the environment, with the names of the system we replace.

A wrong value stops the start with a message naming the variable. In development a
missing secret gets a generated value (kept in var/dev-secrets.json, so `gateway token`
and `gateway serve` agree) and a warning; in production it is required.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger("gateway.settings")

MIN_SECRET_LENGTH = 32  # HS256 / HMAC-SHA256 keys: at least 256 bits (RFC 8725 §3.5)
GENERATED_SECRETS = ("jwt_secret", "quote_signing_secret")


@dataclass(frozen=True)
class ShippingRate:
    """One shipping option: a Stripe shipping rate id, or a flat rate (name, minor units)."""

    rate_id: str | None = None
    name: str | None = None
    amount: int | None = None

    @classmethod
    def parse(cls, text: str) -> ShippingRate:
        if re.fullmatch(r"shr_[A-Za-z0-9]{1,64}", text):
            return cls(rate_id=text)
        match = re.fullmatch(r"([^:,]{1,50}):(\d{1,6})", text)
        if not match:
            raise ValueError(f"{text!r} is neither a shipping rate id (shr_...) nor Name:amount "
                             "in minor units (e.g. Standard:500)")
        return cls(name=match.group(1).strip(), amount=int(match.group(2)))


SMTP_SCHEMES = {"smtp": ("none", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


@dataclass(frozen=True)
class SmtpUrl:
    """SMTP_URL, read: smtp+starttls://user:pass@host:587, smtp:// (plain), smtps:// (implicit TLS)."""

    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, text: str) -> SmtpUrl:
        from urllib.parse import unquote, urlsplit

        schemes = ", ".join(f"{s}://" for s in SMTP_SCHEMES)
        try:
            url = urlsplit(text.strip())
            port = url.port
        except ValueError as exc:
            raise ValueError(f"is not a URL like smtp+starttls://user:password@smtp.example:587 ({exc})") from None
        if url.scheme not in SMTP_SCHEMES:
            raise ValueError(f"must start with one of {schemes} (e.g. smtp+starttls://user:password@"
                             "email-smtp.us-east-1.amazonaws.com:587)")
        if not url.hostname or (url.path not in ("", "/")) or url.query or url.fragment:
            raise ValueError("must name a host and nothing after it, like smtp+starttls://user:password@host:587")
        security, default_port = SMTP_SCHEMES[url.scheme]
        username = unquote(url.username) if url.username else None
        password = unquote(url.password) if url.password is not None else None
        return cls(url.hostname, port or default_port, security, username, password)  # type: ignore[arg-type]


class ConfigError(Exception):
    """A configuration problem, worded for the person starting the service."""


STRIPE_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]{1,247}$")


def check_stripe_key(key: str) -> str:
    """A Stripe secret (sk_) or restricted (rk_) key, test or live; ValueError says what it is not."""
    if STRIPE_KEY.match(key):
        return key
    if key.startswith("pk_"):
        raise ValueError("is a publishable key (pk_...); the gateway needs the secret key sk_... "
                         "(or a restricted key rk_...) from the Stripe dashboard's API keys page")
    if key.startswith("whsec_"):
        raise ValueError("is a webhook signing secret; put it in STRIPE_WEBHOOK_SECRET and the "
                         "API secret key sk_... here")
    raise ValueError("is not a Stripe secret key: it starts sk_test_/sk_live_ (or rk_ for a "
                     "restricted key); copy it from the Stripe dashboard's API keys page")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    commerce_table: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    gateway_db: Path = Path("var/gateway.db")
    catalog_path: Path = Path(__file__).resolve().parent / "catalog" / "products.json"
    # The storefront's trusted documents (graphql-codegen's persisted-documents manifest) and
    # whether other documents run too: `only` refuses them (production: set it), `allow` takes both.
    trusted_documents: Literal["only", "allow"] = "allow"
    trusted_documents_path: Path = (Path(__file__).resolve().parent / "examples" / "storefront"
                                    / "persisted-documents.json")
    # Trusted queries memoized on what they read (web/fastpath.py); off: every one executes.
    fast_path: bool = True
    cors_allow_origin: Annotated[list[str], NoDecode] = []

    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = Field(None, pattern=r"^https?://\S+$")
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(30, ge=0, le=300)

    quote_signing_secret: SecretStr | None = None
    quote_ttl_minutes: int = Field(15, ge=1, le=720)

    stripe_secret: SecretStr | None = None
    stripe_secret_parameter: str | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_webhook_secret_parameter: str | None = None
    stripe_webhook_tolerance: int = Field(300, ge=10, le=3600)
    # How long an event being processed is held: a crash in between frees it after this.
    stripe_webhook_lease_seconds: int = Field(60, ge=1, le=900)
    # The store's bounds: a DynamoDB that refuses or never answers costs seconds, not a minute.
    store_connect_timeout_seconds: float = Field(1.0, gt=0, le=30)
    store_read_timeout_seconds: float = Field(2.0, gt=0, le=60)
    store_max_attempts: int = Field(3, ge=1, le=10)
    ready_timeout_seconds: float = Field(1.5, gt=0, le=30)
    # A dead letter needs failures spread over this long: copies at once are not retries.
    stripe_webhook_dead_letter_after_seconds: int = Field(600, ge=0, le=7 * 86400)
    stripe_api_base: str | None = Field(None, pattern=r"^https?://\S+$")
    checkout_success_url: str | None = Field(None, pattern=r"^https?://\S+$")
    checkout_cancel_url: str | None = Field(None, pattern=r"^https?://\S+$")
    session_ttl_minutes: int = Field(1440, ge=30, le=1440)  # Stripe allows 30 min to 24 h
    stripe_sync_rate: int = Field(20, ge=1, le=100)  # Stripe calls per second for sync-orders
    stripe_max_network_retries: int = Field(2, ge=0, le=10)
    stripe_timeout_seconds: int = Field(10, ge=1, le=80)
    shipping_countries: Annotated[list[str], NoDecode] = []
    shipping_rates: Annotated[list[ShippingRate], NoDecode] = []
    stripe_automatic_tax: bool = False
    stripe_tax_behavior: Literal["exclusive", "inclusive"] = "exclusive"
    graphql_max_depth: int = Field(10, ge=2, le=50)
    graphql_max_aliases: int = Field(15, ge=1, le=200)
    graphql_max_tokens: int = Field(2000, ge=100, le=100_000)
    graphql_max_cost: int = Field(5000, ge=10, le=1_000_000)
    trusted_proxies: Annotated[list[str], NoDecode] = []
    rate_limit_quotes: int = Field(60, ge=1, le=100_000)  # per client IP and per user, a minute
    rate_limit_checkouts: int = Field(20, ge=1, le=100_000)
    rate_limit_webhooks: int = Field(1200, ge=1, le=1_000_000)  # per client IP, a minute
    # Stripe reads on behalf of queries (order fallback, checkoutSession), per user or client IP, a minute
    rate_limit_stripe_reads: int = Field(60, ge=1, le=100_000)
    rate_limit_guest_orders: int = Field(10, ge=1, le=100_000)  # guestOrder lookups per client IP, a minute
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=10 * 1024 * 1024)
    body_timeout_seconds: float = Field(10, gt=0, le=300)  # to receive a whole request body
    # /readyz says unavailable when the SQLite file's file system has less free space.
    ready_min_free_disk_mb: int = Field(100, ge=0, le=10**9)
    # In production these are off unless set to true; in development, on unless set to false.
    graphql_introspection: bool | None = None
    graphiql: bool | None = None
    graphql_suggestions: bool | None = None
    # /metrics: open in development; in production only with this bearer token (else off)
    metrics_token: SecretStr | None = None
    public_url: str = Field("http://127.0.0.1:8000", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # Emails (commerce/emails.py, jobs/emails.py): with no SMTP_URL, development writes .eml files
    smtp_url: SecretStr | None = None
    email_from: str | None = None
    order_url_template: str | None = None
    email_max_age_hours: int = Field(72, ge=1, le=24 * 365)  # older paid orders/shipments: no message
    email_refund_max_age_days: int = Field(180, ge=1, le=3650)  # refunds of orders placed longer ago: none
    email_outbox_dir: Path | None = None  # development's .eml files (default: var/outbox beside GATEWAY_DB)
    email_send_interval_seconds: float = Field(30, ge=1, le=3600)  # serve's background sender
    # false: serve records messages but leaves sending to `gateway send-emails` or the schedule
    email_background_send: bool = True

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # load_settings reads the environment (see _from_env)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, entries: list[str]) -> list[str]:
        import ipaddress

        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network like 10.0.0.0/8") from None
        return entries

    @field_validator("cors_allow_origin", "shipping_countries", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("shipping_countries")
    @classmethod
    def _check_countries(cls, countries: list[str]) -> list[str]:
        for country in countries:
            if not re.fullmatch(r"[A-Z]{2}", country):
                raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 code like US")
        return countries

    @field_validator("shipping_rates", mode="before")
    @classmethod
    def _parse_rates(cls, entries: object) -> object:
        if isinstance(entries, str):
            entries = [part.strip() for part in entries.split(",") if part.strip()]
        if isinstance(entries, list):
            if len(entries) > 5:
                raise ValueError("Stripe Checkout offers at most 5 shipping options")
            return [ShippingRate.parse(e) if isinstance(e, str) else e for e in entries]
        return entries

    @field_validator("cors_allow_origin")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not (origin.startswith(("http://", "https://")) and " " not in origin):
                raise ValueError(f"{origin!r} is not an origin like https://shop.example")
        return origins

    @field_validator("stripe_secret")
    @classmethod
    def _stripe_key_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_stripe_key(value.get_secret_value())
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            SmtpUrl.parse(value.get_secret_value())
        return value

    @field_validator("email_from")
    @classmethod
    def _email_from_form(cls, value: str | None) -> str | None:
        from email.utils import parseaddr

        if value is not None:
            _, address = parseaddr(value)
            local, _, domain = address.rpartition("@")
            if not local or "." not in domain or any(c in value for c in "\r\n"):
                raise ValueError("is not an address like orders@shop.example or "
                                 "'The Babes Club <orders@shop.example>'")
        return value

    @field_validator("order_url_template")
    @classmethod
    def _order_url_form(cls, value: str | None) -> str | None:
        if value is not None and not (re.fullmatch(r"https?://[^\s/]+(/\S*)?", value)
                                      and ("{orderId}" in value or "{orderNumber}" in value)):
            raise ValueError("is not an http(s) URL with {orderId} or {orderNumber} in it, like "
                             "https://shop.example/orders/{orderId}")
        return value

    @model_validator(mode="after")
    def _smtp_needs_a_sender(self) -> Settings:
        if self.smtp_url is not None and not self.email_from:
            raise ValueError("EMAIL_FROM is required with SMTP_URL (the address messages come from, "
                             "one your provider lets you send as)")
        return self

    @field_validator("metrics_token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("jwt_secret", "quote_signing_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _production_requires(self) -> Settings:
        if self.environment != "production":
            return self
        missing = []
        if not (self.jwt_secret or self.jwt_jwks_url):
            missing.append("JWT_SECRET (or JWT_JWKS_URL)")
        if not self.quote_signing_secret:
            missing.append("QUOTE_SIGNING_SECRET")
        if not (self.stripe_secret or self.stripe_secret_parameter):
            missing.append("STRIPE_SECRET (or STRIPE_SECRET_PARAMETER)")
        if not (self.stripe_webhook_secret or self.stripe_webhook_secret_parameter):
            missing.append("STRIPE_WEBHOOK_SECRET (or STRIPE_WEBHOOK_SECRET_PARAMETER)")
        for name in ("checkout_success_url", "checkout_cancel_url"):
            if not getattr(self, name):
                missing.append(name.upper())
        if missing:
            raise ValueError("required in production: " + ", ".join(missing))
        return self

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def introspection_enabled(self) -> bool:
        return self.graphql_introspection if self.graphql_introspection is not None else not self.production

    @property
    def suggestions_enabled(self) -> bool:
        """Whether error messages may say "Did you mean ...?" (naming fields, arguments,
        input fields, enum values and types of the schema)."""
        return self.graphql_suggestions if self.graphql_suggestions is not None else not self.production

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.production

    @property
    def smtp(self) -> SmtpUrl | None:
        return SmtpUrl.parse(self.smtp_url.get_secret_value()) if self.smtp_url else None

    @property
    def outbox_dir(self) -> Path:
        return self.email_outbox_dir or self.gateway_db.parent / "outbox"

    @property
    def sender_address(self) -> str:
        return self.email_from or "The Babes Club <orders@localhost>"

    def secret(self, name: str) -> str:
        value = getattr(self, name)
        if value is None:
            raise ConfigError(f"{name.upper()} is not set")
        return value.get_secret_value()


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and check the configuration; ConfigError names each bad variable."""
    env = dict(os.environ if environ is None else environ)
    try:
        settings = Settings(**_from_env(env))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if not settings.production:
        settings = _fill_development_secrets(settings)
    return settings


def _from_env(env: dict[str, str]) -> dict[str, Any]:
    # Read the variables ourselves (exact upper-case names, empty = unset) rather than
    # let pydantic-settings scan os.environ, so tests can pass an environment in. The values
    # are the variables' strings, which the fields parse.
    fields = Settings.model_fields
    return {name: env[name.upper()] for name in fields if env.get(name.upper(), "") != ""}


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]).upper() or "configuration"
        got = error.get("input")
        secret = "SECRET" in name or name == "SMTP_URL"  # SMTP_URL holds a password
        shown = "" if not error["loc"] or secret or isinstance(got, dict) else f" (got {got!r})"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {message}{shown}")
    if len(lines) == 1:
        return f"invalid configuration: {lines[0]}"  # one fault, one line
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _fill_development_secrets(settings: Settings) -> Settings:
    missing = [name for name in GENERATED_SECRETS if getattr(settings, name) is None]
    if not missing:
        return settings
    store = settings.gateway_db.parent / "dev-secrets.json"
    saved = _read_dev_secrets(store)
    for name in missing:
        saved.setdefault(name, secrets.token_urlsafe(48))
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(saved, indent=2) + "\n")
    store.chmod(0o600)
    log.warning("development: using generated %s from %s; set them in production",
                ", ".join(n.upper() for n in missing), store)
    return settings.model_copy(update={n: SecretStr(saved[n]) for n in missing})


def _read_dev_secrets(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}


async def read_stripe_secret(settings: Settings) -> str:
    """STRIPE_SECRET, or the SSM SecureString named by STRIPE_SECRET_PARAMETER (read once)."""
    if settings.stripe_secret is not None:
        return settings.stripe_secret.get_secret_value()
    if not settings.stripe_secret_parameter:
        raise ConfigError("STRIPE_SECRET (or STRIPE_SECRET_PARAMETER) is not set")
    secret = await read_ssm_parameter(settings.stripe_secret_parameter, "STRIPE_SECRET_PARAMETER")
    try:
        return check_stripe_key(secret.strip())
    except ValueError as exc:
        raise ConfigError(f"STRIPE_SECRET_PARAMETER: the value of {settings.stripe_secret_parameter!r} "
                          f"{exc}") from None


async def read_ssm_parameter(name: str, variable: str) -> str:
    import aioboto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None
        async with aioboto3.Session(region_name=region).client("ssm") as ssm:
            response = await ssm.get_parameter(Name=name, WithDecryption=True)
    except (BotoCoreError, ClientError) as exc:
        raise ConfigError(f"{variable}: cannot read SSM parameter {name!r}: {exc}") from None
    return response["Parameter"]["Value"]


async def read_webhook_secrets(settings: Settings) -> list[str]:
    """STRIPE_WEBHOOK_SECRET (or its SSM parameter), comma-separated during a rotation."""
    if settings.stripe_webhook_secret is not None:
        raw = settings.stripe_webhook_secret.get_secret_value()
    elif settings.stripe_webhook_secret_parameter:
        raw = await read_ssm_parameter(settings.stripe_webhook_secret_parameter,
                                       "STRIPE_WEBHOOK_SECRET_PARAMETER")
    else:
        return []
    return [part.strip() for part in raw.split(",") if part.strip()]
