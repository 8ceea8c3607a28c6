"""Files' internal upload (a service stores a picture as one of its characters) on the real topology:
out of the internet's reach through the gateway, whoever asks, and at the files service itself for
the simulator's service token only; a person cannot store a file in somebody else's name."""

from __future__ import annotations

import httpx

from aic_common.testing.community import Account, Community, fake_ip, png_bytes
from aic_gateway.stack import AUTH, Stack

UPLOADS = "/api/files/internal/uploads"


def service_token(stack: Stack, client_id: str) -> str:
    answer = httpx.post(
        f"{stack.url(AUTH)}/api/auth/token",
        json={"client_id": client_id, "client_secret": stack.secrets.service_clients[client_id]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def upload_as(base_url: str, owner_id: str, token: str | None) -> httpx.Response:
    headers = {"X-Forwarded-For": fake_ip()} | ({"Authorization": f"Bearer {token}"} if token else {})
    return httpx.post(
        f"{base_url}{UPLOADS}",
        params={"owner_id": owner_id},
        files={"file": ("picture.png", png_bytes(64, 48), "image/png")},
        headers=headers,
        timeout=30,
    )


def test_the_gateway_never_forwards_an_internal_upload(stack: Stack, community: Community) -> None:
    victim = community.register("victim")
    attacker = community.register("attacker")
    simulator = service_token(stack, "simulator")
    for token in (None, attacker.access_token, simulator):
        answer = upload_as(stack.gateway_url, victim.id, token)
        assert answer.status_code == 404, (token and token[:12], answer.text)


def test_at_the_files_service_only_a_service_stores_in_someone_elses_name(
    stack: Stack, community: Community, admin: Account
) -> None:
    victim = community.register("victim")
    attacker = community.register("attacker")
    files = stack.url("files")
    assert upload_as(files, victim.id, None).status_code == 401
    for person in (attacker, admin):
        refused = upload_as(files, victim.id, person.access_token)
        assert refused.status_code == 403 and refused.json()["code"] == "service_required", refused.text
    # Least privilege: of the services, the simulator alone (for its characters' pictures).
    other_service = upload_as(files, victim.id, service_token(stack, "social"))
    assert other_service.status_code == 403 and other_service.json()["code"] == "client_not_allowed"
    stored = upload_as(files, victim.id, service_token(stack, "simulator"))
    assert stored.status_code == 201, stored.text
    meta = httpx.get(
        f"{files}/api/files/{stored.json()['id']}/meta",
        headers={"Authorization": f"Bearer {admin.access_token}"},
    )
    assert meta.json()["owner_id"] == victim.id
