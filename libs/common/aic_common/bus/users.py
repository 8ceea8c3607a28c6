"""A RabbitMQ user for each service, allowed only its own exchanges and queues.

RabbitMQ grants a user three regular expressions per virtual host, matched against exchange and queue
names: ``configure`` (declare, delete), ``write`` (publish to an exchange, bind a queue) and ``read``
(consume from a queue, bind from an exchange). Each service's are derived here from what it does on the
bus (:data:`ROLES`), so a service that is taken over cannot publish what it never publishes (the gateway
nothing at all; only the simulator and the operators' CLI control messages), read another service's
queue or declare queues under another's name. That is also what makes the simulator's
``AIC_SIM_CONTROL_BROKER_USERS`` mean something: RabbitMQ vouches for the user of every message.

Every service declares the shared exchanges at start (a declaration needs ``configure`` on the name), so
each may declare them; RabbitMQ has no right to declare that is not also a right to delete.

``python -m aic_common.bus.users`` creates the users through the management API (the deployment's set-up
step; see docs/deploy.md), or ``--show`` prints what to grant on a broker that is set up by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from aic_common.bus.base import COMMANDS, CONTROL, EVENTS

# The dead-letter exchange every durable queue's failures go to (aic_common.bus.rabbit).
DLX = "dlx"
SHARED_EXCHANGES = (EVENTS, COMMANDS, CONTROL, DLX)
# Where a reply to a request is published: the default exchange, which permissions call amq.default.
DEFAULT_EXCHANGE = "amq.default"
CONTROL_ROLE = "control"  # the `aic sim` command line


@dataclass(frozen=True)
class BrokerRole:
    """What one client does on the bus."""

    publishes: tuple[str, ...] = ()  # exchanges it publishes to
    consumes: tuple[str, ...] = ()  # exchanges its queues are bound to
    owns_queues: bool = True  # declares queues named <namespace>.<role>.*
    durable_queues: bool = True  # its queues dead-letter (an exclusive, per-replica queue does not)
    replies: bool = False  # answers requests (publishes to the default exchange)


ROLES: Mapping[str, BrokerRole] = {
    "auth": BrokerRole(publishes=(EVENTS,), consumes=(COMMANDS,)),
    "social": BrokerRole(publishes=(EVENTS,), consumes=(EVENTS, COMMANDS)),
    "files": BrokerRole(publishes=(EVENTS,), consumes=(EVENTS,)),
    # Commands for social and auth, its own sim.* events, control requests to the leader and replies.
    "simulator": BrokerRole(publishes=(EVENTS, COMMANDS, CONTROL), consumes=(EVENTS, CONTROL), replies=True),
    # The live stream only listens, on a queue of each replica's own.
    "gateway": BrokerRole(consumes=(EVENTS,), durable_queues=False),
    CONTROL_ROLE: BrokerRole(publishes=(CONTROL,), owns_queues=False),
}


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


def broker_user(role: str, namespace: str) -> str:
    """The user name of a role: ``aic-social`` in the namespace ``aic``."""
    return f"{namespace}-{role}"


def _any_of(patterns: Sequence[str]) -> str:
    # "^$" matches no name RabbitMQ uses: the empty pattern RabbitMQ documents for "nothing".
    return "|".join(patterns) or "^$"


def permissions(role: str, namespace: str) -> Permissions:
    spec = ROLES[role]
    prefix = re.escape(namespace) + r"\."

    def exchanges(names: Sequence[str]) -> list[str]:
        return [f"^{prefix}({'|'.join(names)})$"] if names else []

    own_queues = [f"^{prefix}{re.escape(role)}\\."] if spec.owns_queues else []
    # A durable queue dead-letters to the dead-letter exchange (declaring it so needs write there) and its
    # <queue>.dlq is bound from it (read there).
    dead_letters = [DLX] if spec.consumes and spec.owns_queues and spec.durable_queues else []
    replies = [f"^{re.escape(DEFAULT_EXCHANGE)}$"] if spec.replies else []
    return Permissions(
        configure=_any_of([*exchanges(SHARED_EXCHANGES), *own_queues]),
        write=_any_of([*exchanges([*spec.publishes, *dead_letters]), *own_queues, *replies]),
        read=_any_of([*exchanges([*spec.consumes, *dead_letters]), *own_queues]),
    )


# ------------------------------------------------------------------------------------------ provisioning


class BrokerUsersSettings(BaseSettings):
    """What the set-up step is given: the management API, an administrator, and each role's password."""

    model_config = SettingsConfigDict(env_prefix="RABBITMQ_", extra="ignore")

    management_url: str = "http://rabbitmq:15672"
    admin_user: str = ""
    admin_password: SecretStr = SecretStr("")
    vhost: str = "/"
    namespace: str = "aic"
    # {"auth": "...", "social": "...", ...}: one entry for every role in ROLES.
    passwords: dict[str, SecretStr] = {}


class ProvisioningError(RuntimeError):
    pass


def provision(
    client: httpx.Client, namespace: str, passwords: Mapping[str, str], vhost: str = "/"
) -> list[str]:
    """Create or update each role's user and set its permissions on ``vhost``; the users' names.

    ``client`` is an authenticated client of the management API. Safe to run again: a user that exists
    gets the given password and permissions. Tags stay empty: no service may use the management API.
    """
    missing = sorted(set(ROLES) - set(passwords))
    if missing:
        raise ProvisioningError(f"no password for {', '.join(missing)}")
    created = []
    for role in ROLES:
        user = broker_user(role, namespace)
        granted = permissions(role, namespace)
        for path, body in (
            (f"/api/users/{quote(user, safe='')}", {"password": passwords[role], "tags": ""}),
            (
                f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
                {"configure": granted.configure, "write": granted.write, "read": granted.read},
            ),
        ):
            response = client.put(path, json=body)
            if response.status_code not in (201, 204):
                raise ProvisioningError(f"PUT {path}: {response.status_code} {response.text[:200]}")
        created.append(user)
    return created


def remove(client: httpx.Client, namespace: str) -> None:
    """Delete each role's user of ``namespace`` (a test's or a torn-down deployment's); absent ones too."""
    for role in ROLES:
        path = f"/api/users/{quote(broker_user(role, namespace), safe='')}"
        response = client.delete(path)
        if response.status_code not in (204, 404):
            raise ProvisioningError(f"DELETE {path}: {response.status_code} {response.text[:200]}")


def management_client(url: str, timeout: float = 30.0) -> httpx.Client:
    """A client of the management API at ``url``, signed in with the credentials the URL carries."""
    parts = httpx.URL(url)
    auth = (unquote(parts.username), unquote(parts.password))
    return httpx.Client(base_url=parts.copy_with(username=None, password=None), auth=auth, timeout=timeout)


def broker_url_as(amqp_url: str, user: str, password: str) -> str:
    """``amqp_url`` signing in as ``user`` instead (any character of the password is quoted)."""
    parts = urlsplit(amqp_url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}").geturl()


def vhost_of(amqp_url: str) -> str:
    """The virtual host an AMQP URL names (``/`` for none, as RabbitMQ's clients take it)."""
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aic_common.bus.users",
        description="Create a RabbitMQ user per service with its own permissions (RABBITMQ_* variables).",
    )
    parser.add_argument("--show", action="store_true", help="print each user's permissions and exit")
    args = parser.parse_args(argv)
    settings = BrokerUsersSettings()
    if args.show:
        table = {broker_user(r, settings.namespace): vars(permissions(r, settings.namespace)) for r in ROLES}
        print(json.dumps(table, indent=2))
        return 0
    passwords = {role: secret.get_secret_value() for role, secret in settings.passwords.items()}
    auth = (settings.admin_user, settings.admin_password.get_secret_value())
    with httpx.Client(base_url=settings.management_url, auth=auth, timeout=30) as client:
        try:
            users = provision(client, settings.namespace, passwords, settings.vhost)
        except (ProvisioningError, httpx.HTTPError) as exc:
            print(f"broker users not set up: {exc}", file=sys.stderr)
            return 1
    print(f"broker users ready on vhost {settings.vhost}: {', '.join(users)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
