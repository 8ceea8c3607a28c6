"""Access tokens: issuing, JWKS, rotation, and the forgeries a verifier must refuse.

Every forgery is a real token built by hand. Each differs from a token that ``forge`` would otherwise
make acceptable (see ``test_forge_helper_makes_acceptable_tokens``) in the one property under test, so a
missing check would let it through.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aic_common import tokens
from aic_common.errors import AppError, ServiceUnavailable
from aic_common.testing.tokens import (
    AUDIENCE,
    ISSUER,
    b64json,
    b64url,
    forge,
    forgeries,
    good_claims,
    header,
    rs256_sign,
    split,
)
from aic_common.tokens import (
    JWKS_MAX_AGE_SECONDS,
    JWKS_REFETCH_INTERVAL_SECONDS,
    Claims,
    InvalidToken,
    JwksKeySource,
    SigningKey,
    TokenIssuer,
    TokenVerifier,
    generate_rsa_private_key_pem,
    kid_for_public_key,
    load_or_create_dev_key,
    public_key_pem,
)

pytestmark = pytest.mark.unit


# --- helpers ---------------------------------------------------------------------------------------


def assert_rejected(verifier: TokenVerifier, token: str, detail_contains: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token)
    assert detail_contains.lower() in str(info.value.detail).lower(), info.value.detail
    return info.value


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_pem() -> str:
    return generate_rsa_private_key_pem()


@pytest.fixture(scope="module")
def other_private_pem() -> str:
    return generate_rsa_private_key_pem()


@pytest.fixture(scope="module")
def issuer(private_pem: str) -> TokenIssuer:
    return TokenIssuer(private_pem, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="module")
def verifier(issuer: TokenIssuer) -> TokenVerifier:
    return TokenVerifier.from_issuer(issuer)


@pytest.fixture(scope="module")
def kid(issuer: TokenIssuer) -> str:
    return issuer.kid


# --- good tokens ------------------------------------------------------------------------------------


def test_good_token_round_trips_claims(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    before = int(time.time())
    token = issuer.issue_access_token(
        "u-1", username="李雷", role="user", is_ai=True, extra_claims={"display_name": "李雷"}
    )
    claims = verifier.verify(token)

    assert isinstance(claims, Claims)
    assert (claims.subject, claims.username, claims.role, claims.is_ai) == ("u-1", "李雷", "user", True)
    assert len(claims.jti) == 32 and int(claims.jti, 16) >= 0
    assert claims.raw["display_name"] == "李雷"
    assert claims.raw["typ"] == "access"
    assert (claims.raw["iss"], claims.raw["aud"]) == (ISSUER, AUDIENCE)
    assert claims.raw["exp"] - claims.raw["iat"] == 900
    assert claims.raw["nbf"] == claims.raw["iat"] >= before
    assert claims.expires_at == datetime.fromtimestamp(claims.raw["exp"], UTC)

    hdr, _, _ = split(token)
    assert hdr["alg"] == "RS256" and hdr["kid"] == issuer.kid


def test_each_token_has_its_own_jti_and_custom_ttl(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    a = verifier.verify(issuer.issue_access_token("1", username="a", role="admin", ttl_seconds=60))
    b = verifier.verify(issuer.issue_access_token("1", username="a", role="admin"))
    assert a.jti != b.jti
    assert a.raw["exp"] - a.raw["iat"] == 60
    assert a.role == "admin" and a.is_ai is False


def test_a_remembered_signature_still_has_its_claims_checked_on_every_use(
    private_pem: str, kid: str, issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    signature_checks: list[str] = []
    real_verify = tokens.jws.verify

    def counting_verify(token: str, *args: Any, **kwargs: Any) -> Any:
        signature_checks.append(token)
        return real_verify(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jws, "verify", counting_verify)
    monkeypatch.setattr(tokens, "SIGNATURES_REMEMBERED", 2)
    now = [time.time()]
    verifier = TokenVerifier(issuer.public_keys, ISSUER, AUDIENCE, clock=lambda: now[0])
    token = forge(private_pem, header(kid), good_claims(exp=int(now[0]) + 60))

    assert verifier.verify(token).subject == verifier.verify(token).subject == "42"
    assert signature_checks == [token], "the second use is not checked against the key again"
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    assert_rejected(verifier, tampered, "signature")

    now[0] += 61
    assert_rejected(verifier, token, "expired")  # remembered, yet expired

    others = [
        forge(private_pem, header(kid), good_claims(sub=str(n), exp=int(now[0]) + 60)) for n in range(3)
    ]
    for other in others:
        verifier.verify(other)
    signature_checks.clear()
    for other in reversed(others):
        verifier.verify(other)
    assert signature_checks == [others[0]], "only the newest two are remembered: the first was let go"


def test_forge_helper_makes_acceptable_tokens(private_pem: str, kid: str, verifier: TokenVerifier) -> None:
    # The baseline of every forgery below: the same construction with nothing wrong is accepted.
    claims = verifier.verify(forge(private_pem, header(kid), good_claims()))
    assert claims.username == "xiaoming"


def test_leeway_tolerates_small_clock_skew(private_pem: str, kid: str, issuer: TokenIssuer) -> None:
    now = int(time.time())
    token = forge(private_pem, header(kid), good_claims(exp=now - 5, nbf=now + 5))
    assert_rejected(TokenVerifier.from_issuer(issuer), token, "expired")
    assert TokenVerifier.from_issuer(issuer, leeway_seconds=30).verify(token).subject == "42"


# --- the forgery matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_rejects_alg_none(kid: str, verifier: TokenVerifier, alg: str) -> None:
    token = f"{b64json(header(kid, alg))}.{b64json(good_claims(role='admin'))}."
    err = assert_rejected(verifier, token, "algorithm")
    assert err.status_code == 401


def test_rejects_hs256_signed_with_the_public_key(
    private_pem: str, kid: str, verifier: TokenVerifier
) -> None:
    # The classic key-confusion attack: the public key is public, so anyone can compute this HMAC.
    public_pem = public_key_pem(private_pem).encode()
    signing_input = f"{b64json(header(kid, 'HS256'))}.{b64json(good_claims(role='admin'))}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_rejected(verifier, f"{signing_input}.{b64url(mac)}", "algorithm")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES256", "HS512"])
def test_rejects_other_algorithms(private_pem: str, kid: str, verifier: TokenVerifier, alg: str) -> None:
    assert_rejected(verifier, forge(private_pem, header(kid, alg), good_claims()), "algorithm")


def test_rejects_expired(private_pem: str, kid: str, verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = forge(private_pem, header(kid), good_claims(iat=now - 1000, nbf=now - 1000, exp=now - 10))
    assert_rejected(verifier, token, "expired")


def test_rejects_not_yet_valid(private_pem: str, kid: str, verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = forge(private_pem, header(kid), good_claims(nbf=now + 600, exp=now + 1200))
    assert_rejected(verifier, token, "not valid yet")


@pytest.mark.parametrize("aud", ["other-app", ["other-app"], None, ""])
def test_rejects_wrong_audience(private_pem: str, kid: str, verifier: TokenVerifier, aud: Any) -> None:
    claims = good_claims()
    if aud is None:
        del claims["aud"]
    else:
        claims["aud"] = aud
    assert_rejected(verifier, forge(private_pem, header(kid), claims), "audience")


def test_accepts_audience_list_containing_ours(private_pem: str, kid: str, verifier: TokenVerifier) -> None:
    token = forge(private_pem, header(kid), good_claims(aud=["other", AUDIENCE]))
    assert verifier.verify(token).subject == "42"


@pytest.mark.parametrize("iss", ["evil-auth", ""])
def test_rejects_wrong_issuer(private_pem: str, kid: str, verifier: TokenVerifier, iss: str) -> None:
    assert_rejected(verifier, forge(private_pem, header(kid), good_claims(iss=iss)), "issuer")


def test_rejects_missing_issuer(private_pem: str, kid: str, verifier: TokenVerifier) -> None:
    claims = good_claims()
    del claims["iss"]
    assert_rejected(verifier, forge(private_pem, header(kid), claims), "issuer")


def test_rejects_unknown_kid(other_private_pem: str, verifier: TokenVerifier) -> None:
    token = forge(other_private_pem, header(kid_for_public_key(other_private_pem)), good_claims())
    assert_rejected(verifier, token, "unknown key")


@pytest.mark.parametrize("bad_kid", [None, "", 7])
def test_rejects_missing_kid(private_pem: str, verifier: TokenVerifier, bad_kid: Any) -> None:
    hdr = header(None)
    if bad_kid is not None:
        hdr["kid"] = bad_kid
    assert_rejected(verifier, forge(private_pem, hdr, good_claims()), "key id")


def test_rejects_tampered_payload(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    token = issuer.issue_access_token("42", username="xiaoming", role="user")
    hdr_seg, _, sig_seg = token.split(".")
    _, claims, _ = split(token)
    claims["role"] = "admin"
    assert_rejected(verifier, f"{hdr_seg}.{b64json(claims)}.{sig_seg}", "signature")


def test_rejects_tampered_header(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    token = issuer.issue_access_token("42", username="xiaoming", role="user")
    hdr, _, _ = split(token)
    _, payload_seg, sig_seg = token.split(".")
    hdr["x"] = 1
    assert_rejected(verifier, f"{b64json(hdr)}.{payload_seg}.{sig_seg}", "signature")


def test_rejects_other_rsa_key_with_our_kid(
    other_private_pem: str, kid: str, verifier: TokenVerifier
) -> None:
    assert_rejected(verifier, forge(other_private_pem, header(kid), good_claims(role="admin")), "signature")


def test_rejects_oversized_token(private_pem: str, kid: str, issuer: TokenIssuer) -> None:
    token = forge(private_pem, header(kid), good_claims(bio="长" * 4000))
    assert len(token.encode()) > 8192
    assert_rejected(TokenVerifier.from_issuer(issuer), token, "larger than 8192 bytes")
    # Only the size is wrong with it.
    assert TokenVerifier.from_issuer(issuer, max_token_bytes=100_000).verify(token).subject == "42"


@pytest.mark.parametrize("typ", ["refresh", "id", None])
def test_rejects_wrong_typ(private_pem: str, kid: str, verifier: TokenVerifier, typ: str | None) -> None:
    claims = good_claims()
    if typ is None:
        del claims["typ"]
    else:
        claims["typ"] = typ
    assert_rejected(verifier, forge(private_pem, header(kid), claims), "access token")


@pytest.mark.parametrize(
    ("claim", "value", "detail"),
    [
        ("sub", None, "subject"),
        ("sub", "", "subject"),
        ("sub", 42, "subject"),
        ("role", None, "role"),
        ("role", "superuser", "role"),
        ("username", None, "username"),
        ("jti", None, "jti"),
        ("exp", None, "exp"),
        ("exp", "9999999999", "exp"),
        ("exp", True, "exp"),
        ("nbf", "0", "nbf"),
        ("iat", "0", "iat"),
        ("is_ai", "false", "is_ai"),
    ],
)
def test_rejects_missing_or_invalid_claims(
    private_pem: str, kid: str, verifier: TokenVerifier, claim: str, value: Any, detail: str
) -> None:
    claims = good_claims()
    if value is None:
        del claims[claim]
    else:
        claims[claim] = value
    assert_rejected(verifier, forge(private_pem, header(kid), claims), detail)


def test_rejects_critical_header_extensions(private_pem: str, kid: str, verifier: TokenVerifier) -> None:
    hdr = {**header(kid), "crit": ["exp"], "exp": 1}
    assert_rejected(verifier, forge(private_pem, hdr, good_claims()), "critical")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.###.$$$",
        ".eyJhIjoxfQ.c2ln",
        f"{b64url(b'not json')}.{b64json({})}.c2ln",
        f"{b64json([1, 2])}.{b64json({})}.c2ln",
    ],
)
def test_rejects_malformed(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_every_forgery_of_the_shared_matrix_is_refused(private_pem: str, kid: str) -> None:
    # The matrix the end-to-end security tests send to every service; here against the verifier itself.
    verifier = TokenVerifier.from_issuer(TokenIssuer(private_pem, issuer=ISSUER, audience=AUDIENCE))
    matrix = forgeries(private_pem, kid)
    for name, token in matrix.items():
        with pytest.raises(InvalidToken):
            verifier.verify(token)
            pytest.fail(f"forgery {name} was accepted")
    assert verifier.verify(forge(private_pem, header(kid), good_claims())).subject == "42"


def test_rejects_signed_non_object_payload(private_pem: str, kid: str, verifier: TokenVerifier) -> None:
    signing_input = f"{b64json(header(kid))}.{b64json(['not', 'claims'])}"
    token = f"{signing_input}.{b64url(rs256_sign(private_pem, signing_input.encode()))}"
    assert_rejected(verifier, token, "malformed")


def test_rejects_missing_signature(private_pem: str, kid: str, verifier: TokenVerifier) -> None:
    token = forge(private_pem, header(kid), good_claims())
    assert_rejected(verifier, token.rsplit(".", 1)[0] + ".", "signature")


def test_invalid_token_is_a_401_app_error(kid: str, verifier: TokenVerifier) -> None:
    err = assert_rejected(verifier, f"{b64json(header(kid, 'none'))}.{b64json(good_claims())}.", "algorithm")
    assert isinstance(err, AppError)
    assert (err.status_code, err.code) == (401, "invalid_token")
    assert err.headers == {"WWW-Authenticate": "Bearer"}


# --- issuer -----------------------------------------------------------------------------------------


def test_issuer_refuses_bad_input(issuer: TokenIssuer) -> None:
    with pytest.raises(ValueError, match="role"):
        issuer.issue_access_token("1", username="a", role="root")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reserved"):
        issuer.issue_access_token("1", username="a", role="user", extra_claims={"role": "admin"})
    with pytest.raises(ValueError, match="subject"):
        issuer.issue_access_token("", username="a", role="user")
    with pytest.raises(ValueError, match="ttl"):
        issuer.issue_access_token("1", username="a", role="user", ttl_seconds=0)


def test_issuer_refuses_weak_or_wrong_keys(private_pem: str) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(  # noqa: S505 - weak on purpose
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="2048"):
        TokenIssuer(weak.decode(), issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValueError):
        TokenIssuer(public_key_pem(private_pem), issuer=ISSUER, audience=AUDIENCE)


# --- keys, JWKS and rotation ------------------------------------------------------------------------


def test_kid_is_stable_and_distinct(private_pem: str, other_private_pem: str) -> None:
    kid = kid_for_public_key(private_pem)
    assert kid == kid_for_public_key(public_key_pem(private_pem)) == SigningKey.from_pem(private_pem).kid
    assert kid != kid_for_public_key(other_private_pem)
    assert len(kid) == 16
    assert set(kid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_signing_key_repr_hides_the_private_key(private_pem: str) -> None:
    assert "PRIVATE" not in repr(SigningKey.from_pem(private_pem))


def test_jwks_lists_public_keys_and_verifies(issuer: TokenIssuer) -> None:
    jwks = issuer.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [issuer.kid]
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256"
    assert key["e"] == "AQAB" and len(key["n"]) > 300
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)

    # Through JSON, as a service fetching it would see it.
    verifier = TokenVerifier.from_jwks(json.loads(json.dumps(jwks)), ISSUER, AUDIENCE)
    token = issuer.issue_access_token("7", username="bot", role="service")
    assert verifier.verify(token).role == "service"


def test_from_jwks_skips_unusable_keys(issuer: TokenIssuer) -> None:
    (good,) = issuer.jwks()["keys"]
    jwks = {
        "keys": [
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {**good, "kid": "enc", "use": "enc"},
            {**good, "kid": "hs", "alg": "HS256"},
            {"kty": "RSA", "kid": "broken"},
            good,
        ]
    }
    assert TokenVerifier.from_jwks(jwks, ISSUER, AUDIENCE).kids == {issuer.kid}
    with pytest.raises(ValueError, match="no usable"):
        TokenVerifier.from_jwks({"keys": jwks["keys"][:4]}, ISSUER, AUDIENCE)
    for not_a_jwks in ([good], {"keys": good}, "keys"):
        with pytest.raises(ValueError, match="JWKS"):
            TokenVerifier.from_jwks(not_a_jwks, ISSUER, AUDIENCE)  # type: ignore[arg-type]


def test_key_rotation(private_pem: str, other_private_pem: str) -> None:
    old_issuer = TokenIssuer(private_pem, issuer=ISSUER, audience=AUDIENCE)
    old_token = old_issuer.issue_access_token("1", username="a", role="user")

    new_issuer = TokenIssuer(
        other_private_pem, issuer=ISSUER, audience=AUDIENCE, extra_public_keys=[public_key_pem(private_pem)]
    )
    new_token = new_issuer.issue_access_token("2", username="b", role="user")
    assert split(new_token)[0]["kid"] == new_issuer.kid != old_issuer.kid
    assert [k["kid"] for k in new_issuer.jwks()["keys"]] == [new_issuer.kid, old_issuer.kid]

    verifier = TokenVerifier.from_jwks(new_issuer.jwks(), ISSUER, AUDIENCE)
    assert verifier.verify(old_token).subject == "1"
    assert verifier.verify(new_token).subject == "2"

    # Once the old key is dropped from the JWKS, its tokens stop verifying.
    dropped = TokenIssuer(other_private_pem, issuer=ISSUER, audience=AUDIENCE)
    assert_rejected(TokenVerifier.from_issuer(dropped), old_token, "unknown key")


def test_verifier_keeps_only_public_keys(private_pem: str, kid: str) -> None:
    # Handed a private PEM by mistake, the verifier still only verifies; signing stays with the issuer.
    verifier = TokenVerifier({kid: private_pem}, ISSUER, AUDIENCE)
    assert verifier.verify(forge(private_pem, header(kid), good_claims())).subject == "42"


def test_load_or_create_dev_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "jwt-dev.pem"
    pem = load_or_create_dev_key(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in pem
    assert load_or_create_dev_key(path) == pem == path.read_text()
    assert SigningKey.from_pem(pem).kid == kid_for_public_key(pem)
    assert [p.name for p in path.parent.iterdir()] == ["jwt-dev.pem"]  # no temp files left


def test_load_or_create_dev_key_tightens_permissions(tmp_path: Path) -> None:
    path = tmp_path / "jwt-dev.pem"
    pem = load_or_create_dev_key(path)
    path.chmod(0o644)
    assert load_or_create_dev_key(path) == pem
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_or_create_dev_key_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "jwt-dev.pem"
    path.write_text("not a key")
    path.chmod(0o600)
    with pytest.raises(ValueError):
        load_or_create_dev_key(path)


# --- JwksKeySource ----------------------------------------------------------------------------------


class FakeJwksServer:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.requests = 0
        self.fail = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.fail:
            return httpx.Response(503)
        return httpx.Response(200, json=self.jwks)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_source(server: FakeJwksServer, clock: FakeMonotonic) -> JwksKeySource:
    client = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
    return JwksKeySource(
        "http://auth/api/auth/.well-known/jwks.json", ISSUER, AUDIENCE, http_client=client, monotonic=clock
    )


async def test_jwks_source_caches_and_refetches_on_unknown_kid(
    private_pem: str, other_private_pem: str
) -> None:
    old = TokenIssuer(private_pem, issuer=ISSUER, audience=AUDIENCE)
    server, clock = FakeJwksServer(old.jwks()), FakeMonotonic()
    source = make_source(server, clock)

    token = old.issue_access_token("1", username="a", role="user")
    assert (await source.verify(token)).subject == "1"
    assert (await source.verify(token)).subject == "1"
    assert server.requests == 1  # cached

    # The auth service rotates its key; a token with the new kid triggers one refetch.
    clock.now += 31
    new = TokenIssuer(other_private_pem, issuer=ISSUER, audience=AUDIENCE, extra_public_keys=[private_pem])
    server.jwks = new.jwks()
    assert (await source.verify(new.issue_access_token("2", username="b", role="user"))).subject == "2"
    assert server.requests == 2

    # Made-up kids cannot make it refetch more than once per 30 s (the rotation refetch just happened).
    third = generate_rsa_private_key_pem()
    forged = forge(third, header(kid_for_public_key(third)), good_claims())
    for _ in range(3):
        with pytest.raises(InvalidToken, match="unknown key"):
            await source.verify(forged)
    assert server.requests == 2
    clock.now += 29
    with pytest.raises(InvalidToken):
        await source.verify(forged)
    assert server.requests == 2
    clock.now += 2
    with pytest.raises(InvalidToken):
        await source.verify(forged)
    assert server.requests == 3


async def test_jwks_source_refreshes_when_stale_and_keeps_keys_on_failure(private_pem: str) -> None:
    issuer = TokenIssuer(private_pem, issuer=ISSUER, audience=AUDIENCE)
    server, clock = FakeJwksServer(issuer.jwks()), FakeMonotonic()
    source = make_source(server, clock)
    token = issuer.issue_access_token("1", username="a", role="user")
    await source.verify(token)

    server.fail = True
    clock.now += 3601
    assert (await source.verify(token)).subject == "1"  # stale keys beat no keys
    assert server.requests == 2


async def test_jwks_source_unavailable_without_keys(private_pem: str) -> None:
    issuer = TokenIssuer(private_pem, issuer=ISSUER, audience=AUDIENCE)
    server, clock = FakeJwksServer(issuer.jwks()), FakeMonotonic()
    server.fail = True
    source = make_source(server, clock)
    token = issuer.issue_access_token("1", username="a", role="user")
    with pytest.raises(ServiceUnavailable):
        await source.verify(token)
    # Nothing cached: the next request tries again at once rather than failing for 30 s.
    server.fail = False
    assert (await source.verify(token)).subject == "1"
    assert server.requests == 2


async def test_jwks_source_rejects_malformed_without_fetching(kid: str) -> None:
    server, clock = FakeJwksServer({"keys": []}), FakeMonotonic()
    source = make_source(server, clock)
    with pytest.raises(InvalidToken, match="algorithm"):
        await source.verify(f"{b64json(header(kid, 'none'))}.{b64json(good_claims())}.")
    assert server.requests == 0


async def test_jwks_source_refuses_a_withdrawn_key_within_the_max_age(
    private_pem: str, other_private_pem: str
) -> None:
    """An earlier key removed from the JWKS stops being trusted within JWKS_MAX_AGE_SECONDS at most,
    whatever tokens come (here: only tokens of the current key, which never ask for a refetch)."""
    old = TokenIssuer(private_pem, issuer=ISSUER, audience=AUDIENCE)
    new = TokenIssuer(other_private_pem, issuer=ISSUER, audience=AUDIENCE, extra_public_keys=[private_pem])
    server, clock = FakeJwksServer(new.jwks()), FakeMonotonic()
    source = make_source(server, clock)
    current = new.issue_access_token("1", username="a", role="user")
    await source.verify(current)

    server.jwks = TokenIssuer(other_private_pem, issuer=ISSUER, audience=AUDIENCE).jwks()  # old withdrawn
    clock.now += JWKS_MAX_AGE_SECONDS - 1
    await source.verify(current)
    assert server.requests == 1  # the current key's tokens never ask for a refetch
    clock.now += 1
    await source.verify(current)
    assert server.requests == 2
    with pytest.raises(InvalidToken, match="unknown key"):
        await source.verify(old.issue_access_token("2", username="b", role="user"))


async def test_jwks_source_looks_again_when_a_token_names_an_earlier_key(
    private_pem: str, other_private_pem: str
) -> None:
    """A token signed with an earlier (not the current) key makes the source look whether that key was
    withdrawn, at most once per JWKS_REFETCH_INTERVAL_SECONDS: a compromised key is refused within
    that interval of its removal, not at the end of the cache's max age."""
    old = TokenIssuer(private_pem, issuer=ISSUER, audience=AUDIENCE)
    new = TokenIssuer(other_private_pem, issuer=ISSUER, audience=AUDIENCE, extra_public_keys=[private_pem])
    server, clock = FakeJwksServer(new.jwks()), FakeMonotonic()
    source = make_source(server, clock)
    earlier = old.issue_access_token("1", username="a", role="user")
    for _ in range(3):
        assert (await source.verify(earlier)).subject == "1"
    assert server.requests == 1  # within the interval: from the cache

    server.jwks = TokenIssuer(other_private_pem, issuer=ISSUER, audience=AUDIENCE).jwks()  # withdrawn
    clock.now += JWKS_REFETCH_INTERVAL_SECONDS - 1
    assert (await source.verify(earlier)).subject == "1"
    assert server.requests == 1
    clock.now += 1
    for _ in range(3):
        with pytest.raises(InvalidToken, match="unknown key"):
            await source.verify(earlier)
    assert server.requests == 2  # the withdrawn kid is now unknown: refetches stay rate-limited
