"""Stream tickets: how a browser opens its live stream without its access token in the URL.

EventSource cannot send an Authorization header, and a token in the query string ends up in the access
logs of every proxy on the way. So the page asks ``POST /api/stream/ticket`` (with its token, in the
header) for a ticket: a random string that opens one stream, once, within a few seconds, and is useless
afterwards, logged or not. Tickets live in Redis when the gateway has one, so that any replica redeems
what another issued; in this process otherwise (and while Redis is unreachable).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

KEY_PREFIX = "aic:stream-ticket:"
# Tickets held in this process at most; each lives seconds, and issuing them is rate limited.
MAX_LOCAL_TICKETS = 100_000


def _key(ticket: str) -> str:
    # Only a digest is stored: whoever reads the store cannot open streams with what they find.
    return KEY_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


class StreamTickets:
    def __init__(
        self, redis: Any | None, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._redis = redis
        self._clock = clock
        # key -> (access token, expiry); in issue order, which is expiry order (one TTL for all).
        self._local: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def issue(self, access_token: str) -> str:
        """A new ticket that stands for ``access_token`` until it is redeemed or expires."""
        ticket = secrets.token_urlsafe(32)
        key = _key(ticket)
        if self._redis is not None:
            try:
                await self._redis.set(key, access_token, px=max(1, int(self.ttl_seconds * 1000)))
                return ticket
            except Exception as exc:
                log.warning("stream ticket store unavailable (%s); keeping the ticket locally", exc)
        self._prune()
        while len(self._local) >= MAX_LOCAL_TICKETS:
            self._local.popitem(last=False)
        self._local[key] = (access_token, self._clock() + self.ttl_seconds)
        return ticket

    async def redeem(self, ticket: str) -> str | None:
        """The access token ``ticket`` stands for, once; None when it is unknown, used or expired."""
        key = _key(ticket)
        self._prune()
        if (local := self._local.pop(key, None)) is not None:
            return local[0]
        if self._redis is None:
            return None
        try:
            token = await self._redis.getdel(key)  # atomically: two redemptions cannot both succeed
        except Exception as exc:
            log.warning("stream ticket store unavailable (%s); the ticket cannot be checked", exc)
            return None
        return token.decode() if isinstance(token, bytes) else token

    def _prune(self) -> None:
        now = self._clock()
        while self._local and next(iter(self._local.values()))[1] <= now:
            self._local.popitem(last=False)
