"""A broker user per service on a real RabbitMQ: each may do what its role says and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aic_common.bus import BusUnavailable
from aic_common.bus.base import COMMANDS, CONTROL, EVENTS, Binding
from aic_common.bus.rabbit import RabbitBus
from aic_common.bus.users import (
    CONTROL_ROLE,
    ROLES,
    TEMPLATE_FILE,
    ProvisioningError,
    broker_url_as,
    broker_user,
    definitions_template,
    management_client,
    password_hash,
    permissions,
    provision,
    remove_namespace,
    vhost_of,
)
from aic_common.messages import CATALOGUE, EXCHANGE_OF_KIND, Envelope

pytestmark = pytest.mark.integration

REFUSED = r"ACCESS_REFUSED|access to .* refused"
# A type of each exchange's messages, from the catalogue.
TYPE_ON = {
    exchange: next(t for t, cls in CATALOGUE.items() if EXCHANGE_OF_KIND[cls.message_kind] == exchange)
    for exchange in (EVENTS, COMMANDS, CONTROL)
}


def passwords_with_awkward_characters() -> dict[str, str]:
    # A leading "-" is read as an option by command-line tools; ":", "@", "/" and "%" break a URL
    # unless quoted.
    return {role: f"-{uuid.uuid4().hex[:6]}:@/%{role}" for role in ROLES}


@pytest.fixture
def users(rabbitmq_url: str, rabbitmq_management_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    namespace = f"u{uuid.uuid4().hex[:8]}"
    passwords = passwords_with_awkward_characters()
    with management_client(rabbitmq_management_url) as client:
        provision(client, namespace, passwords, vhost_of(rabbitmq_url))
        try:
            yield namespace, passwords
        finally:
            remove_namespace(client, namespace, vhost_of(rabbitmq_url))
            assert client.get(f"/api/users/{broker_user('auth', namespace)}").status_code == 404
            left = [
                q["name"] for q in client.get("/api/queues/%2F").json() if q["name"].startswith(namespace)
            ]
            assert left == []  # the test's queues are gone too


def bus_as(rabbitmq_url: str, namespace: str, passwords: dict[str, str], role: str) -> RabbitBus:
    url = broker_url_as(rabbitmq_url, broker_user(role, namespace), passwords[role])
    return RabbitBus(url, namespace, connect_timeout=5, publish_timeout=5)


async def ignore(_: Envelope) -> None:
    return None


async def test_each_service_declares_its_queues_and_publishes_where_its_role_says(
    rabbitmq_url: str, users: tuple[str, dict[str, str]]
) -> None:
    namespace, passwords = users
    for role, spec in ROLES.items():
        if not spec.owns_queues:
            continue
        bus = bus_as(rabbitmq_url, namespace, passwords, role)
        assert bus.user == broker_user(role, namespace)  # the quoted password signed it in
        if spec.consumes:
            bindings = [Binding(exchange, "#") for exchange in spec.consumes]
            if spec.durable_queues:
                bus.subscribe(f"{role}.work", bindings, ignore)
            bus.subscribe(f"{role}.live", bindings, ignore, exclusive=True)
        await bus.start()  # the shared exchanges, its queues, their dead-letter queues and bindings
        try:
            for exchange in spec.publishes:
                await bus.publish(Envelope(type=TYPE_ON[exchange], producer=role))
        finally:
            await bus.stop()


def forbidden_exchanges(role: str) -> list[str]:
    return [exchange for exchange in (EVENTS, COMMANDS, CONTROL) if exchange not in ROLES[role].publishes]


@pytest.mark.parametrize("role", sorted(role for role in ROLES if forbidden_exchanges(role)))
async def test_publishing_outside_a_role_is_refused_by_the_broker(
    rabbitmq_url: str, users: tuple[str, dict[str, str]], role: str
) -> None:
    namespace, passwords = users
    for exchange in forbidden_exchanges(role):
        bus = bus_as(rabbitmq_url, namespace, passwords, role)
        await bus.start()
        try:
            with pytest.raises(BusUnavailable, match=REFUSED):
                await bus.publish(Envelope(type=TYPE_ON[exchange], producer="intruder"))
        finally:
            await bus.stop()


async def test_no_service_may_read_or_declare_another_services_queues(
    rabbitmq_url: str, users: tuple[str, dict[str, str]]
) -> None:
    namespace, passwords = users
    social = bus_as(rabbitmq_url, namespace, passwords, "social")
    social.subscribe("social.commands", [Binding(COMMANDS, "#")], ignore)
    await social.start()
    await social.stop()
    # The gateway (events only) tries to consume social's command queue, then to declare one in its name.
    for queue in ("social.commands", "social.elsewhere"):
        gateway = bus_as(rabbitmq_url, namespace, passwords, "gateway")
        gateway.subscribe(queue, [Binding(EVENTS, "#")], ignore)
        with pytest.raises(Exception, match=REFUSED):
            await gateway.start()
        await gateway.stop()
    # The command line may publish control messages and nothing else: it cannot listen to the events.
    control = bus_as(rabbitmq_url, namespace, passwords, CONTROL_ROLE)
    control.subscribe("simulator.spy", [Binding(EVENTS, "#")], ignore, exclusive=True)
    with pytest.raises(Exception, match=REFUSED):
        await control.start()
    await control.stop()


def test_provisioning_is_idempotent_and_sets_exactly_the_computed_permissions(
    rabbitmq_url: str, rabbitmq_management_url: str, users: tuple[str, dict[str, str]]
) -> None:
    namespace, passwords = users
    vhost = vhost_of(rabbitmq_url)
    with management_client(rabbitmq_management_url) as client:
        provision(client, namespace, passwords, vhost)  # again: same users, same permissions
        for role in ROLES:
            user = broker_user(role, namespace)
            granted = client.get(f"/api/users/{user}/permissions").json()
            assert [(p["vhost"], p["configure"], p["write"], p["read"]) for p in granted] == [
                (vhost, *vars(permissions(role, namespace)).values())
            ]
            assert client.get(f"/api/users/{user}").json()["tags"] in ([], "")  # no management rights
        with pytest.raises(ProvisioningError, match="no password for"):
            provision(client, namespace, {"auth": "x"}, vhost)


def test_a_management_client_signs_in_with_the_urls_credentials(rabbitmq_management_url: str) -> None:
    with management_client(rabbitmq_management_url) as client:
        assert client.get("/api/whoami").status_code == 200
    wrong = httpx.URL(rabbitmq_management_url).copy_with(password="not-the-password")
    with management_client(str(wrong)) as client:
        assert client.get("/api/whoami").status_code == 401


def test_permissions_name_only_the_namespaces_exchanges_and_the_roles_own_queues() -> None:
    gateway = permissions("gateway", "aic")
    assert gateway.write == r"^aic\.gateway\."  # binds its own queue, publishes on no exchange
    assert gateway.read == r"^aic\.(events)$|^aic\.gateway\."
    assert permissions("simulator", "aic").write == (
        r"^aic\.(events|commands|control|dlx)$|^aic\.simulator\.|^amq\.default$"
    )
    control = permissions(CONTROL_ROLE, "aic")
    assert (control.write, control.read) == (r"^aic\.(control)$", "^$")
    # A namespace's dots are literal: "a.b" does not match "aXb".
    assert permissions("files", "a.b").configure.startswith(r"^a\.b\.")


def test_the_committed_definitions_template_is_what_the_roles_give() -> None:
    # deploy/generate-secrets.sh fills this file in; regenerate it with `python -m aic_common.bus.users`.
    repo = Path(__file__).resolve().parents[3]
    assert (repo / TEMPLATE_FILE).read_text(encoding="utf-8") == definitions_template()


def test_a_password_hash_is_rabbitmqs_salted_sha256() -> None:
    # The example of RabbitMQ's passwords guide: salt 908D C60A, password "test12".
    assert (
        password_hash("test12", bytes.fromhex("908DC60A"))
        == "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
    )
    assert password_hash("same") != password_hash("same")  # a new salt each time
