"""Hand-built access tokens for the tests that check what a verifier refuses.

Every forgery is a real token built byte by byte, so no library's own checks stand between the test and
the verifier under test. :func:`forgeries` is the matrix: each differs from :func:`good_claims` signed
by :func:`forge` with the real key in the one property it names, so a missing check lets it through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from aic_common.tokens import generate_rsa_private_key_pem, public_key_pem

ISSUER = "aic-auth"
AUDIENCE = "aic"
# What forgeries() builds, known before any key exists (for test parameters).
FORGERY_NAMES: tuple[str, ...] = (
    "alg_none",
    "hs256_with_public_key",
    "rs512_header",
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_issuer",
    "refresh_typ",
    "unknown_kid",
    "our_kid_other_key",
    "no_kid",
    "tampered_payload",
    "no_signature",
    "oversized",
    "malformed",
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def rs256_sign(private_pem: str, signing_input: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def forge(private_pem: str, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed by hand with RS256 (whatever ``alg`` the header claims)."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    return f"{signing_input}.{b64url(rs256_sign(private_pem, signing_input.encode()))}"


def header(kid: str | None, alg: str = "RS256") -> dict[str, Any]:
    result: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        result["kid"] = kid
    return result


def good_claims(**overrides: Any) -> dict[str, Any]:
    """The claims of a valid access token; an override of None removes that claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "42",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "username": "xiaoming",
        "role": "user",
        "is_ai": False,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A token's decoded header and claims, and its signature segment as it is."""
    head, payload, signature = token.split(".")

    def decode(segment: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))

    return decode(head), decode(payload), signature


def forgeries(private_pem: str, kid: str, **claims: Any) -> dict[str, str]:
    """Name -> a token that must be refused, each built from ``good_claims(**claims)`` signed with the
    real key ``private_pem`` (whose key id is ``kid``) and then spoiled in one way.

    Many claim to be an admin: a verifier that skips the check would hand out the most rights.
    """
    now = int(time.time())
    admin = {**claims, "role": "admin"}

    def signed(**changes: Any) -> str:
        return forge(private_pem, header(kid), good_claims(**{**claims, **changes}))

    valid = signed()
    head_segment, _, signature = valid.split(".")
    _, valid_claims, _ = split(valid)
    # A day longer and an admin: always a change, whoever the claims were for.
    tampered_claims = {**valid_claims, "role": "admin", "exp": valid_claims["exp"] + 86400}
    other_key = generate_rsa_private_key_pem()
    hs256_input = f"{b64json(header(kid, 'HS256'))}.{b64json(good_claims(**admin))}"
    hs256_mac = hmac.new(public_key_pem(private_pem).encode(), hs256_input.encode(), hashlib.sha256)
    matrix = {
        "alg_none": f"{b64json(header(kid, 'none'))}.{b64json(good_claims(**admin))}.",
        # Key confusion: HMAC keyed with the public key, which anyone can fetch from the JWKS.
        "hs256_with_public_key": f"{hs256_input}.{b64url(hs256_mac.digest())}",
        "rs512_header": forge(private_pem, header(kid, "RS512"), good_claims(**claims)),
        "expired": signed(iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not_yet_valid": signed(nbf=now + 3600, exp=now + 7200),
        "wrong_audience": signed(aud="another-app"),
        "wrong_issuer": signed(iss="evil-auth"),
        "refresh_typ": signed(typ="refresh"),
        "unknown_kid": forge(other_key, header("not-a-published-kid"), good_claims(**admin)),
        "our_kid_other_key": forge(other_key, header(kid), good_claims(**admin)),
        "no_kid": forge(private_pem, header(None), good_claims(**claims)),
        "tampered_payload": f"{head_segment}.{b64json(tampered_claims)}.{signature}",
        "no_signature": f"{head_segment}.{b64json(valid_claims)}.",
        "oversized": signed(bio="长" * 4000),
        "malformed": "not.a.token",
    }
    assert tuple(matrix) == FORGERY_NAMES
    return matrix
