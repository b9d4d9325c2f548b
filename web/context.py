"""What a request's resolvers can reach: the process-wide services and who is asking."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from commerce.catalog import Catalog
from commerce.catalog_sync import CatalogMap
from commerce.checkout import CheckoutConfig
from loaders import Loaders
from payments import Payments
from settings import Settings
from store import Store
from web.auth import TokenVerifier, Viewer
from web.trusted import TrustedDocument


@dataclass(slots=True)
class Services:
    """Opened once per process by the app's lifespan, shared by every request."""

    settings: Settings
    store: Store
    catalog: Catalog
    verifier: TokenVerifier
    payments: Payments
    prices: CatalogMap
    checkout: CheckoutConfig
    webhook_secrets: list[str]
    trusted_proxies: tuple = ()
    emulated: bool = False

    @property
    def quote_secret(self) -> str:
        return self.settings.secret("quote_signing_secret")

    @property
    def cursor_secret(self) -> str:
        return self.settings.secret("quote_signing_secret")  # domain-separated where used


@dataclass(slots=True)
class Context:
    """Made fresh for each GraphQL request."""

    request: Request
    services: Services
    request_id: str
    loaders: Loaders
    viewer: Viewer | None = None
    auth_error: str | None = None
    trusted: TrustedDocument | None = None  # a request by trusted document id (web/trusted.py)
    extra: dict = field(default_factory=dict)
