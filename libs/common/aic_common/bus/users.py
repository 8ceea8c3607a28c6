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

The users reach a broker as its definitions (see the provisioning section below and docs/deploy.md);
``python -m aic_common.bus.users --show`` prints what each is granted.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from aic_common.bus.base import COMMANDS, CONTROL, DEAD_LETTERS, EVENTS

SHARED_EXCHANGES = (EVENTS, COMMANDS, CONTROL, DEAD_LETTERS)
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
    dead_letters = [DEAD_LETTERS] if spec.consumes and spec.owns_queues and spec.durable_queues else []
    replies = [f"^{re.escape(DEFAULT_EXCHANGE)}$"] if spec.replies else []
    return Permissions(
        configure=_any_of([*exchanges(SHARED_EXCHANGES), *own_queues]),
        write=_any_of([*exchanges([*spec.publishes, *dead_letters]), *own_queues, *replies]),
        read=_any_of([*exchanges([*spec.consumes, *dead_letters]), *own_queues]),
    )


# ------------------------------------------------------------------------------------------ provisioning
#
# The users reach the broker as RabbitMQ definitions (users with salted password hashes, permissions):
# the dev stores and compose import them at every boot (load_definitions), a managed broker imports
# the same file once, and the test stack posts them to the management API. deploy/generate-secrets.sh
# fills TEMPLATE_FILE's placeholders with hashes of the passwords it generates.

HASHING_ALGORITHM = "rabbit_password_hashing_sha256"
ADMIN_USER_PLACEHOLDER = "@ADMIN_USER@"
TEMPLATE_FILE = "deploy/k8s/components/stores/rabbitmq-definitions.template.json"


class ProvisioningError(RuntimeError):
    pass


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's stored form of a password: base64(salt + SHA-256(salt + password)), 4 bytes of salt."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def password_matches(password: str, stored: str) -> bool:
    """Whether ``stored`` (a :func:`password_hash`) is the hash of ``password``."""
    raw = base64.b64decode(stored)
    return hmac.compare_digest(password_hash(password, raw[:4]), stored)


def hash_placeholder(role: str) -> str:
    return f"@PASSWORD_HASH_{role.upper()}@"


def _user(name: str, hashed: str, tags: list[str]) -> dict[str, Any]:
    return {"name": name, "password_hash": hashed, "hashing_algorithm": HASHING_ALGORITHM, "tags": tags}


def _permission(user: str, vhost: str, granted: Permissions) -> dict[str, str]:
    return {"user": user, "vhost": vhost, **vars(granted)}


def definitions(
    namespace: str, vhost: str, password_hashes: Mapping[str, str], admin: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The definitions of every role's user and permissions on ``vhost``, and of ``admin`` (name, hash)
    with every right (the operators' user, and so the management UI's) when given."""
    missing = sorted(set(ROLES) - set(password_hashes))
    if missing:
        raise ProvisioningError(f"no password for {', '.join(missing)}")
    users, granted = [], []
    if admin is not None:
        users.append(_user(admin[0], admin[1], ["administrator"]))
        granted.append(_permission(admin[0], vhost, Permissions(".*", ".*", ".*")))
    for role in ROLES:
        user = broker_user(role, namespace)
        users.append(_user(user, password_hashes[role], []))  # no tags: no management API
        granted.append(_permission(user, vhost, permissions(role, namespace)))
    return {"users": users, "vhosts": [{"name": vhost}], "permissions": granted}


VHOST_PLACEHOLDER = "@VHOST@"


def definitions_template(namespace: str = "aic", vhost: str = VHOST_PLACEHOLDER) -> str:
    """TEMPLATE_FILE's text: one entry a line, the administrator's lines first, so a shell script can
    drop them (a managed broker keeps its own administrator) and join the lines (compose's .env)."""
    placeholders = {role: hash_placeholder(role) for role in ROLES}
    document = definitions(namespace, vhost, placeholders, (ADMIN_USER_PLACEHOLDER, "@ADMIN_PASSWORD_HASH@"))
    lines = ['{"vhosts": ' + json.dumps(document["vhosts"]) + ","]
    for key in ("users", "permissions"):
        entries = [json.dumps(entry) for entry in document[key]]
        closing = "]," if key == "users" else "]"
        lines += [f'"{key}": [', *[e + "," for e in entries[:-1]], entries[-1], closing]
    return "\n".join([*lines, "}"]) + "\n"


def provision(client: httpx.Client, namespace: str, passwords: Mapping[str, str], vhost: str = "/") -> None:
    """Import every role's user (with its password) and permissions through the management API.

    ``client`` is an authenticated client of the management API. Safe to run again: an import replaces
    a user's password and permissions and leaves every other user alone.
    """
    hashes = {role: password_hash(password) for role, password in passwords.items()}
    response = client.post("/api/definitions", json=definitions(namespace, vhost, hashes))
    if response.status_code not in (201, 204):
        raise ProvisioningError(f"definitions refused: {response.status_code} {response.text[:300]}")


def remove_namespace(client: httpx.Client, namespace: str, vhost: str = "/") -> None:
    """Delete everything of ``namespace`` on the broker: its queues (each a quorum queue's Raft group
    kept on disk until deleted), its exchanges and each role's user; what is absent already too. For a
    test's broker and a torn-down deployment."""
    escaped_vhost = quote(vhost, safe="")
    doomed = []
    for kind in ("queues", "exchanges"):
        listed = client.get(f"/api/{kind}/{escaped_vhost}", params={"columns": "name"})
        if listed.status_code != 200:
            raise ProvisioningError(f"GET /api/{kind}: {listed.status_code} {listed.text[:200]}")
        names = [item["name"] for item in listed.json() if item["name"].startswith(f"{namespace}.")]
        doomed += [f"/api/{kind}/{escaped_vhost}/{quote(name, safe='')}" for name in names]
    doomed += [f"/api/users/{quote(broker_user(role, namespace), safe='')}" for role in ROLES]
    for path in doomed:
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
        description=f"Print the broker definitions template ({TEMPLATE_FILE}), or each user's permissions.",
    )
    parser.add_argument("--namespace", default="aic")
    parser.add_argument("--show", action="store_true", help="each user's permissions, as JSON")
    args = parser.parse_args(argv)
    if args.show:
        table = {broker_user(r, args.namespace): vars(permissions(r, args.namespace)) for r in ROLES}
        print(json.dumps(table, indent=2))
    else:
        sys.stdout.write(definitions_template(args.namespace))
    return 0


if __name__ == "__main__":
    sys.exit(main())
