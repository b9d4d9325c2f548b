"""Bearer tokens (JWT, pyjwt): who is asking.

HS256 with JWT_SECRET by default; RS256 with keys from JWT_JWKS_URL when that is set
(and then only RS256, so an HS256 token signed with a public key is refused).
JWT_ISSUER and JWT_AUDIENCE are checked when set; `exp` and `sub` are required.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import jwt

from settings import Settings
from store import keys

MAX_TOKEN_LENGTH = 8192
# Verified tokens are remembered (a signature check is ~20 us of a ~100 us answer): each
# until its exp (with the leeway), and at most REVERIFY_SECONDS, so a key removed from the
# JWKS stops its tokens within that; only tokens of up to CACHED_TOKEN_LENGTH, at most
# CACHED_TOKENS of them (least recently used go): 10,000 x 2 KB at most.
CACHED_TOKENS = 10_000
CACHED_TOKEN_LENGTH = 2048
REVERIFY_SECONDS = 300


class AuthError(Exception):
    """The request carried credentials that cannot be trusted."""


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: str
    email: str | None = None
    email_verified: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def bearer_token(authorization: str | None) -> str | None:
    """The token from an Authorization header; None when there is no header."""
    if authorization is None or authorization.strip() == "":
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("Authorization must be 'Bearer <token>'.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise AuthError("The bearer token is too long.")
    return token


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        if settings.jwt_jwks_url:
            self._jwks: jwt.PyJWKClient | None = jwt.PyJWKClient(
                settings.jwt_jwks_url, cache_keys=True, lifespan=600, timeout=5
            )
            self._algorithms = ["RS256"]
            self._secret: str | None = None
        else:
            self._jwks = None
            self._algorithms = ["HS256"]
            self._secret = settings.secret("jwt_secret")
        self._verified: OrderedDict[str, tuple[Viewer, float]] = OrderedDict()

    async def verify(self, token: str) -> Viewer:
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known[1]:
                self._verified.move_to_end(token)
                return known[0]
            del self._verified[token]
        viewer, exp = await self._verify(token)
        if len(token) <= CACHED_TOKEN_LENGTH:
            self._verified[token] = viewer, min(exp + self._leeway, time.time() + REVERIFY_SECONDS)
            if len(self._verified) > CACHED_TOKENS:
                self._verified.popitem(last=False)
        return viewer

    async def _verify(self, token: str) -> tuple[Viewer, float]:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches (and caches) keys with blocking I/O.
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            else:
                key = self._secret
            claims = jwt.decode(
                token, key, algorithms=self._algorithms, audience=self._audience,
                issuer=self._issuer, leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(_reason(exc)) from None
        return _viewer(claims), float(claims["exp"])


def _viewer(claims: dict) -> Viewer:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or not sub.isprintable():
        raise AuthError("The token's subject is not a valid user id.")
    if not keys.fits(sub, keys.MAX_USER_ID_BYTES):  # it becomes part of store keys
        raise AuthError(f"The token's subject is over {keys.MAX_USER_ID_BYTES} bytes (UTF-8).")
    email = claims.get("email")
    if email is not None and (not isinstance(email, str) or not keys.fits(email, keys.MAX_EMAIL_BYTES)):
        raise AuthError(f"The token's email claim is not valid (a string of at most "
                        f"{keys.MAX_EMAIL_BYTES} bytes).")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthError("The token's roles claim must be a list of strings.")
    return Viewer(sub, email, claims.get("email_verified") is True, frozenset(roles))


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "The token has expired."
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "The token is not valid yet."
    if isinstance(exc, (jwt.InvalidAudienceError, jwt.InvalidIssuerError)):
        return "The token was not issued for this service."
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"The token lacks the '{exc.claim}' claim."
    return "The token is not valid."


def mint_token(
    secret: str, sub: str, *, email: str | None = None, email_verified: bool = True,
    admin: bool = False, ttl_seconds: int = 3600, issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A development token, signed HS256 with JWT_SECRET."""
    now = int(time.time())
    claims: dict = {"sub": sub, "iat": now, "exp": now + ttl_seconds,
                    "roles": ["admin"] if admin else []}
    if email is not None:
        claims.update(email=email, email_verified=email_verified)
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
