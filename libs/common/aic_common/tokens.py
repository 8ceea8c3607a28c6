"""Access tokens: RS256 JWTs signed by the auth service and verified by every other service.

Only the auth service holds the private key; the others verify with the public keys it publishes as a
JWKS. Verification checks the header itself before handing the token to python-jose, so that a forged
``alg`` (``none``, or HS256 with the public key as HMAC secret) is refused whatever the library does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jws, jwt
from jose.backends.base import Key
from jose.exceptions import JOSEError

from aic_common.errors import ServiceUnavailable, Unauthorized

log = logging.getLogger(__name__)

# The only algorithm accepted in a token header. Asymmetric on purpose: services hold public keys only.
ALLOWED_ALGORITHMS: tuple[str, ...] = ("RS256",)
TOKEN_TYPE_ACCESS = "access"  # noqa: S105 - a claim value, not a secret
MIN_RSA_KEY_BITS = 2048
# The longest an access token may live (AuthSettings allows no more). A deleted account's tokens are
# refused for this long after the deletion (aic_common.deleted_accounts), which covers every one of them.
MAX_ACCESS_TOKEN_TTL_SECONDS = 3600
KID_LENGTH = 16

Role = Literal["user", "admin", "service"]
ROLES: frozenset[str] = frozenset(get_args(Role))

# Claims the issuer sets itself; extra_claims may not override them.
RESERVED_CLAIMS = frozenset(
    {"iss", "aud", "sub", "exp", "nbf", "iat", "jti", "typ", "username", "role", "is_ai"}
)

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
# How long a verifier trusts the JWKS it fetched (and how long the JWKS endpoint lets it be cached): a
# key withdrawn from the JWKS is refused by every verifier this long after at the latest (see
# JwksKeySource for sooner). The key rotation procedure waits this long between its steps.
JWKS_MAX_AGE_SECONDS = 300
# The least time between two fetches that a token asked for (an unknown key, an earlier key).
JWKS_REFETCH_INTERVAL_SECONDS = 30
# A client sends the same token with every request for its lifetime, and the RS256 check is most of
# what verifying it costs: a verifier remembers the payloads of this many tokens whose signature held.
SIGNATURES_REMEMBERED = 4096


class InvalidToken(Unauthorized):
    """The bearer token was refused. Always 401 with ``WWW-Authenticate: Bearer``."""

    code = "invalid_token"

    def __init__(self, detail: str = "Invalid token") -> None:
        super().__init__(detail)


# --- keys -------------------------------------------------------------------------------------------


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _int_to_b64url(value: int) -> str:
    return _b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _b64url_to_int(value: str) -> int:
    return int.from_bytes(_b64url_decode(value), "big")


def _load_rsa_public_key(pem: str) -> rsa.RSAPublicKey:
    """The RSA public key of a PEM that holds either a public or a private key."""
    data = pem.encode("ascii")
    key: Any
    if b"PRIVATE KEY" in data:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("Token keys must be RSA keys")
    if key.key_size < MIN_RSA_KEY_BITS:
        raise ValueError(f"RSA keys must have at least {MIN_RSA_KEY_BITS} bits, got {key.key_size}")
    return key


def _public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _rsa_jwk_members(key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"e": _int_to_b64url(numbers.e), "kty": "RSA", "n": _int_to_b64url(numbers.n)}


def public_key_pem(pem: str) -> str:
    """The public-key PEM of ``pem`` (a public or private RSA key)."""
    return _public_pem(_load_rsa_public_key(pem))


def kid_for_public_key(pem: str) -> str:
    """A stable key id: the RFC 7638 JWK thumbprint (SHA-256, base64url), truncated.

    Accepts the public key or its private key; both give the same id.
    """
    members = _rsa_jwk_members(_load_rsa_public_key(pem))
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    return _b64url_encode(hashlib.sha256(canonical).digest())[:KID_LENGTH]


def public_jwk(pem: str, kid: str | None = None) -> dict[str, str]:
    """The public JWK of an RSA key, as published in the JWKS."""
    key = _load_rsa_public_key(pem)
    return {
        "kty": "RSA",
        "kid": kid or kid_for_public_key(pem),
        "use": "sig",
        "alg": "RS256",
        **{k: v for k, v in _rsa_jwk_members(key).items() if k in ("n", "e")},
    }


def generate_rsa_private_key_pem(bits: int = MIN_RSA_KEY_BITS) -> str:
    """A new unencrypted PKCS#8 PEM RSA private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def load_or_create_dev_key(path: Path) -> str:
    """The private key PEM at ``path``, created (2048 bits, mode 0600) when missing.

    For dev mode only: outside dev the key is a secret that the deployment provides.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = generate_rsa_private_key_pem()
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(pem)
            # link() never replaces: when two processes race, both end up using the first key written.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("tightening permissions of dev signing key %s to 0600", path)
        path.chmod(0o600)
    pem = path.read_text(encoding="ascii")
    SigningKey.from_pem(pem)  # refuse a file that is not an RSA private key
    return pem


@dataclass(frozen=True)
class SigningKey:
    """A private key and its key id (``kid`` in token headers and the JWKS)."""

    kid: str
    private_key_pem: str = field(repr=False)

    @classmethod
    def from_pem(cls, private_key_pem: str, kid: str | None = None) -> SigningKey:
        key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("The signing key must be an RSA private key")
        if key.key_size < MIN_RSA_KEY_BITS:
            raise ValueError(f"RSA keys must have at least {MIN_RSA_KEY_BITS} bits, got {key.key_size}")
        return cls(kid=kid or kid_for_public_key(private_key_pem), private_key_pem=private_key_pem)

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key_pem)


# --- issuing ----------------------------------------------------------------------------------------


class TokenIssuer:
    """Signs access tokens (auth service) and publishes the public keys as a JWKS."""

    def __init__(
        self,
        signing_key_pem: str,
        issuer: str,
        audience: str,
        access_ttl_seconds: int = 900,
        extra_public_keys: Sequence[str] = (),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        if not 0 < access_ttl_seconds <= MAX_ACCESS_TOKEN_TTL_SECONDS:
            raise ValueError(f"access_ttl_seconds must be between 1 and {MAX_ACCESS_TOKEN_TTL_SECONDS}")
        self.signing_key = SigningKey.from_pem(signing_key_pem)
        self.issuer = issuer
        self.audience = audience
        self.access_ttl_seconds = access_ttl_seconds
        self._clock = clock
        self._jose_key = jwk.construct(signing_key_pem, "RS256")
        # Keys of earlier signing keys stay published so tokens they signed verify until they expire.
        self._public_keys: dict[str, str] = {self.signing_key.kid: self.signing_key.public_key_pem}
        for pem in extra_public_keys:
            self._public_keys.setdefault(kid_for_public_key(pem), public_key_pem(pem))

    @property
    def kid(self) -> str:
        return self.signing_key.kid

    @property
    def public_keys(self) -> dict[str, str]:
        """kid -> public PEM of every published key, the current one first."""
        return dict(self._public_keys)

    def issue_access_token(
        self,
        subject: str,
        *,
        username: str,
        role: Role,
        is_ai: bool = False,
        extra_claims: Mapping[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> str:
        if not subject:
            raise ValueError("subject must be non-empty")
        if role not in ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}, got {role!r}")
        ttl = self.access_ttl_seconds if ttl_seconds is None else ttl_seconds
        if not 0 < ttl <= MAX_ACCESS_TOKEN_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be between 1 and {MAX_ACCESS_TOKEN_TTL_SECONDS}")
        clash = RESERVED_CLAIMS.intersection(extra_claims or {})
        if clash:
            raise ValueError(f"extra_claims may not set reserved claims: {sorted(clash)}")
        now = int(self._clock())
        claims: dict[str, Any] = {
            **(extra_claims or {}),
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(subject),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "typ": TOKEN_TYPE_ACCESS,
            "username": username,
            "role": role,
            "is_ai": bool(is_ai),
        }
        return jwt.encode(claims, self._jose_key, algorithm="RS256", headers={"kid": self.kid})

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [public_jwk(pem, kid) for kid, pem in self._public_keys.items()]}


# --- verifying --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claims:
    """The verified claims of an access token."""

    subject: str
    username: str
    role: Role
    is_ai: bool
    jti: str
    expires_at: datetime
    raw: Mapping[str, Any] = field(repr=False, compare=False, hash=False)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_unverified_header(token: str, max_token_bytes: int = 8192) -> dict[str, Any]:
    """The token's header after the checks that need no key: size, shape, ``alg``, ``kid``.

    Raises :class:`InvalidToken`. Nothing in the result is trusted beyond picking the key.
    """
    if not isinstance(token, str) or not token:
        raise InvalidToken("Token is empty")
    if len(token.encode("utf-8")) > max_token_bytes:
        raise InvalidToken(f"Token is larger than {max_token_bytes} bytes")
    segments = token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.match(s) for s in segments) or not all(segments[:2]):
        raise InvalidToken("Token is malformed: expected three base64url segments")
    try:
        header = json.loads(_b64url_decode(segments[0]))
    except (ValueError, binascii.Error):
        raise InvalidToken("Token is malformed: the header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise InvalidToken("Token is malformed: the header is not a JSON object")
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise InvalidToken(
            f"Token algorithm {alg!r} is not allowed; expected one of {list(ALLOWED_ALGORITHMS)}"
        )
    if "crit" in header:
        raise InvalidToken("Token header has critical extensions this service does not support")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("Token header has no key id (kid)")
    if not segments[2]:
        raise InvalidToken("Token has no signature")
    return header


class TokenVerifier:
    """Verifies access tokens against a fixed set of public keys (kid -> PEM)."""

    def __init__(
        self,
        public_keys: Mapping[str, str],
        issuer: str,
        audience: str,
        leeway_seconds: int = 0,
        max_token_bytes: int = 8192,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        if leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self.max_token_bytes = max_token_bytes
        self._clock = clock
        # Public halves only, even when handed a private key.
        self._keys: dict[str, Key] = {
            kid: jwk.construct(public_key_pem(pem), "RS256") for kid, pem in public_keys.items()
        }
        # The issuer lists its signing key first (TokenIssuer.jwks); the others are earlier keys.
        self.current_kid: str | None = next(iter(self._keys), None)
        # token -> its signed payload. Only what the signature proves is remembered: expiry, issuer and
        # audience are checked again on every use. A new key set is a new verifier, with nothing in it.
        self._signed_payloads: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_jwks(
        cls, jwks_dict: Mapping[str, Any], issuer: str, audience: str, **kwargs: Any
    ) -> TokenVerifier:
        """A verifier for the RS256 signing keys of a JWKS; other keys are skipped."""
        if not isinstance(jwks_dict, Mapping) or not isinstance(jwks_dict.get("keys"), list):
            raise ValueError("A JWKS must be a JSON object with a 'keys' list")
        keys: dict[str, str] = {}
        for entry in jwks_dict["keys"]:
            if not isinstance(entry, Mapping) or entry.get("kty") != "RSA":
                continue
            if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") not in ALLOWED_ALGORITHMS:
                continue
            kid, n, e = entry.get("kid"), entry.get("n"), entry.get("e")
            if not (isinstance(kid, str) and kid and isinstance(n, str) and isinstance(e, str)):
                continue
            public = rsa.RSAPublicNumbers(_b64url_to_int(e), _b64url_to_int(n)).public_key()
            keys[kid] = _public_pem(public)
        if not keys:
            raise ValueError("The JWKS has no usable RS256 signing key")
        return cls(keys, issuer, audience, **kwargs)

    @classmethod
    def from_issuer(cls, issuer: TokenIssuer, **kwargs: Any) -> TokenVerifier:
        return cls(issuer.public_keys, issuer.issuer, issuer.audience, **kwargs)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def verify(self, token: str) -> Claims:
        payload = self._signed_payloads.get(token)
        if payload is not None:
            return self._check_claims(payload)
        payload = self._verify_signature(token)
        checked = self._check_claims(payload)  # only a token that passes is worth remembering
        if len(self._signed_payloads) >= SIGNATURES_REMEMBERED:
            self._signed_payloads.pop(next(iter(self._signed_payloads), None), None)  # the oldest
        self._signed_payloads[token] = payload
        return checked

    def _verify_signature(self, token: str) -> dict[str, Any]:
        header = parse_unverified_header(token, self.max_token_bytes)
        key = self._keys.get(header["kid"])
        if key is None:
            raise InvalidToken("Token is signed with an unknown key (kid)")
        try:
            # jose checks the signature only; the claims are checked below, explicitly.
            payload = jws.verify(token, key, algorithms=list(ALLOWED_ALGORITHMS))
        except JOSEError:
            raise InvalidToken("Token signature is invalid") from None
        try:
            claims = json.loads(payload)
        except ValueError:
            raise InvalidToken("Token is malformed: the payload is not JSON") from None
        if not isinstance(claims, dict):
            raise InvalidToken("Token is malformed: the payload is not a JSON object")
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> Claims:
        now = self._clock()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not _is_number(exp):
            raise InvalidToken("Token has no valid expiry (exp)")
        if now >= exp + self.leeway_seconds:
            raise InvalidToken("Token has expired")
        if nbf is not None and not _is_number(nbf):
            raise InvalidToken("Token has an invalid not-before time (nbf)")
        if nbf is not None and now + self.leeway_seconds < nbf:
            raise InvalidToken("Token is not valid yet (nbf)")
        if iat is not None and not _is_number(iat):
            raise InvalidToken("Token has an invalid issue time (iat)")
        if claims.get("iss") != self.issuer:
            raise InvalidToken("Token issuer (iss) is not accepted")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.audience not in audiences:
            raise InvalidToken("Token audience (aud) is not accepted")
        if claims.get("typ") != TOKEN_TYPE_ACCESS:
            raise InvalidToken("Token is not an access token (typ)")
        sub, role, username = claims.get("sub"), claims.get("role"), claims.get("username")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("Token has no subject (sub)")
        if role not in ROLES:
            raise InvalidToken("Token has no valid role")
        if not isinstance(username, str) or not username:
            raise InvalidToken("Token has no username")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise InvalidToken("Token has no id (jti)")
        is_ai = claims.get("is_ai", False)
        if not isinstance(is_ai, bool):
            raise InvalidToken("Token claim is_ai must be a boolean")
        return Claims(
            subject=sub,
            username=username,
            role=role,
            is_ai=is_ai,
            jti=jti,
            expires_at=datetime.fromtimestamp(exp, UTC),
            raw=MappingProxyType(claims),
        )


class JwksKeySource:
    """Verifies tokens with the keys of a JWKS URL, fetched lazily and cached.

    The cache is refreshed when older than ``max_age_seconds``, when a token names a kid it does not
    know (a new key), and when a token names an earlier key rather than the current signing key (an
    earlier key is the one an operator withdraws, so a withdrawn key is refused as soon as the next
    fetch shows it gone) — the last two at most once per ``refetch_interval_seconds``, so that tokens
    with made-up or old kids cannot make us hammer the auth service.
    """

    def __init__(
        self,
        url: str,
        issuer: str,
        audience: str,
        *,
        leeway_seconds: int = 0,
        max_token_bytes: int = 8192,
        refetch_interval_seconds: float = JWKS_REFETCH_INTERVAL_SECONDS,
        max_age_seconds: float = JWKS_MAX_AGE_SECONDS,
        timeout_seconds: float = 5.0,
        http_client: httpx.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        deleted_accounts: Container[str] = frozenset(),
    ) -> None:
        self.url = url
        # Subjects whose tokens are refused although signed and unexpired (aic_common.deleted_accounts).
        self.deleted_accounts = deleted_accounts
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self.max_token_bytes = max_token_bytes
        self.refetch_interval_seconds = refetch_interval_seconds
        self.max_age_seconds = max_age_seconds
        self.timeout_seconds = timeout_seconds
        self._client = http_client
        self._monotonic = monotonic
        self._verifier: TokenVerifier | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._attempts = 0
        self._lock = asyncio.Lock()

    async def _fetch(self) -> TokenVerifier:
        if self._client is not None:
            response = await self._client.get(self.url, timeout=self.timeout_seconds)
        else:
            async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
                response = await client.get(self.url)
        response.raise_for_status()
        return TokenVerifier.from_jwks(
            response.json(),
            self.issuer,
            self.audience,
            leeway_seconds=self.leeway_seconds,
            max_token_bytes=self.max_token_bytes,
        )

    async def refresh(self) -> TokenVerifier | None:
        """Refetch the JWKS now; keeps the old keys when the fetch fails."""
        async with self._lock:
            await self._refresh_locked()
        return self._verifier

    async def _refresh_locked(self) -> None:
        self._attempted_at = self._monotonic()
        self._attempts += 1
        try:
            self._verifier = await self._fetch()
            self._fetched_at = self._attempted_at
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("cannot fetch JWKS from %s: %s", self.url, exc)

    def _needs_fetch(self, kid: str | None) -> bool:
        verifier = self._verifier
        now = self._monotonic()
        if verifier is None or now - self._fetched_at >= self.max_age_seconds:
            return True
        if kid is None or kid == verifier.current_kid:
            return False
        # Unknown (a new key), or an earlier key that may have been withdrawn since: look again, though
        # not sooner than the rate limit allows (checked here too, so old tokens skip the lock).
        return kid not in verifier.kids or now - self._attempted_at >= self.refetch_interval_seconds

    async def get_verifier(self, kid: str | None = None) -> TokenVerifier:
        if self._needs_fetch(kid):
            attempts_before = self._attempts
            async with self._lock:
                # Skip when another task tried while we waited for the lock, or when we tried recently
                # (only an empty cache may skip the rate limit).
                tried_meanwhile = self._attempts != attempts_before
                rate_limited = self._monotonic() - self._attempted_at < self.refetch_interval_seconds
                if (
                    self._needs_fetch(kid)
                    and not tried_meanwhile
                    and (self._verifier is None or not rate_limited)
                ):
                    await self._refresh_locked()
        if self._verifier is None:
            raise ServiceUnavailable("The token signing keys are unavailable; try again shortly")
        return self._verifier

    async def verify(self, token: str) -> Claims:
        header = parse_unverified_header(token, self.max_token_bytes)
        verifier = await self.get_verifier(header["kid"])
        claims = verifier.verify(token)
        if claims.subject in self.deleted_accounts:
            raise InvalidToken("The account of this token has been deleted")
        return claims
