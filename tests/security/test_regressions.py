"""What the API fuzzing (test_api_fuzz.py) found, each kept as a plain request that once failed."""

from __future__ import annotations

from datetime import datetime

import pytest

from aic_common.testing.community import Account, Community, fake_ip

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def person(community: Community) -> Account:
    return community.register("regress")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/users/%1F"),  # a control character: the gateway re-encoded the path and failed (500)
        ("GET", "/api/users/H%1E2%C2%A6/posts"),
        ("POST", "/api/users/%1F/follow"),
        ("GET", "/api/files/%1F/meta"),
        ("GET", "/api/sim/agents/%1F"),
        ("GET", "/api/users/a%2Fb"),  # an encoded slash stays part of the name, not another route
        ("GET", "/api/posts/%C2%B2"),  # '²' is a digit to str.isdigit(), not to int() (500)
        ("DELETE", "/api/comments/%C2%B2"),
    ],
)
def test_odd_characters_in_a_path_are_a_404(
    community: Community, person: Account, method: str, path: str
) -> None:
    response = community.http.request(method, path, headers=person.headers)
    assert response.status_code == 404, response.text
    assert set(response.json()) == {"detail", "code"}


def test_notification_ids_that_are_not_plain_digits_are_ignored(
    community: Community, person: Account
) -> None:
    # '²' passed str.isdigit() and then failed int() (500); Arabic-Indic and overlong ids likewise ignored.
    body = {"ids": ["²", "١٢", "9" * 30, "12"]}
    response = community.http.post("/api/notifications/read", json=body, headers=person.headers)
    assert response.status_code == 204, response.text


def test_a_header_with_non_ascii_octets_passes_the_gateway(community: Community, person: Account) -> None:
    # HTTP allows octets 0x80-0xFF in a header value; the gateway failed to forward them (500).
    headers = {**person.headers, "X-Note": b"\x80caf\xe9"}
    response = community.http.get("/api/auth/me", headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text


def test_every_operation_documents_the_common_error_shape(community: Community) -> None:
    document = community.http.get("/api/openapi.json", headers={"X-Forwarded-For": fake_ip()}).json()
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status in ("422", "default"):
                documented = operation["responses"][status]["content"]["application/json"]["schema"]
                assert documented == error, (method, path, status)
    # FastAPI's own 422 body, which no handler sends, is gone (a service's string detail broke it).
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["Error"]["required"] == ["detail", "code"]


def test_times_carry_their_utc_offset(community: Community, person: Account) -> None:
    # RFC 3339 date-times need an offset; auth and files sent naive times (a schema violation).
    me = community.http.get("/api/auth/me", headers=person.headers).json()
    uploaded = community.upload(person).json()
    meta = community.http.get(f"/api/files/{uploaded['id']}/meta", headers=person.headers).json()
    for value in (me["created_at"], meta["created_at"]):
        assert datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset() is not None, value
