"""What the LLM tier learns and counts about the server it talks to, beyond any one call.

:class:`Slots` are the calls the server is given at once, a call already under way served first.
:class:`FormatNegotiation` knows which structured output the server and model take: at first use it
tries ``json_schema``, then ``json_object``, then a plain prompt, and remembers what worked and why the
others failed. :class:`TokenBudget` holds the tokens spent per simulated day, in all and per character,
against the budgets. :class:`LlmUsage` counts for status and /metrics: calls by outcome, tokens in and
out and thrown away, the latency of each call, and the tier's failures by kind.
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
from collections import Counter, deque
from datetime import date
from typing import Any, Literal

# Tried in this order: the server keeps the answer to the schema, or to JSON, or only the prompt asks.
RESPONSE_FORMATS = ("json_schema", "json_object", "prompt")
ResponseFormat = Literal["auto", "json_schema", "json_object", "prompt"]
WORKS = "works"

# A refusal naming the structured output asked for (DeepSeek: "This response_format type is unavailable
# now"; LM Studio: "'response_format.type' must be 'json_schema' or 'text'"; llama.cpp: 'Either
# "json_schema" or "grammar" can be specified'), rather than anything else wrong with the request.
_NAMES_FORMAT = re.compile(
    r"response_format|response format|json_schema|json_object|json mode|structured output"
)

# Call latency buckets (seconds) for the /metrics histogram: local models take seconds, not milliseconds.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, math.inf)


def names_response_format(message: str) -> bool:
    """Whether a server's refusal is about the ``response_format`` it was sent."""
    return bool(_NAMES_FORMAT.search(message.lower()))


class Slots:
    """``size`` slots for requests on the wire, like a semaphore but with two queues: a request of a
    decision already under way (a retry after a 429, an answer asked again) is served before the
    first request of one still waiting, so that the clock it has started is not spent in the queue."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._again: deque[asyncio.Future[None]] = deque()
        self._first: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, again: bool = False) -> None:
        if self.free > 0 and not self._again and not self._first:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._again if again else self._first
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as it gave up: pass it on
            else:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        for queue in (self._again, self._first):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self.free += 1


class FormatNegotiation:
    """Which ``response_format`` one server and model take.

    ``setting`` "auto" negotiates; any other value is used alone (its failures are still recorded).
    A format is dropped for the next one when the server refuses it (a 4xx naming it), or when, before
    it ever gave JSON, it gives an answer that is not JSON. A format that worked stays unless the server
    refuses it later. The last format left is kept whatever happens: there is nothing after it.
    """

    def __init__(self, setting: ResponseFormat = "auto") -> None:
        self.setting = setting
        self.candidates: tuple[str, ...] = RESPONSE_FORMATS if setting == "auto" else (setting,)
        self.outcomes: dict[str, str] = {}  # format -> WORKS, or why it failed

    @property
    def current(self) -> str:
        usable = [f for f in self.candidates if self.outcomes.get(f, WORKS) == WORKS]
        return usable[0] if usable else self.candidates[-1]

    @property
    def settled(self) -> bool:
        """Whether the format in use has given JSON (negotiation is over)."""
        return self.outcomes.get(self.current) == WORKS

    def worked(self, fmt: str) -> None:
        if self.outcomes.get(fmt) != WORKS and fmt == self.current:
            self.outcomes[fmt] = WORKS

    def refused(self, fmt: str, reason: str) -> bool:
        """The server refused ``fmt``; True when another format is left to try at once."""
        return self._drop(fmt, reason)

    def not_json(self, fmt: str, reason: str) -> bool:
        """An answer under ``fmt`` held no JSON: ``fmt`` is dropped unless it gave JSON before."""
        if self.outcomes.get(fmt) == WORKS:
            return False
        return self._drop(fmt, reason)

    def _drop(self, fmt: str, reason: str) -> bool:
        if fmt != self.current:
            return True  # an answer to a format dropped meanwhile: the current one is there to try
        self.outcomes[fmt] = reason[:200]
        return self.current != fmt

    def status(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "using": self.current,
            "settled": self.settled,
            "tried": {f: self.outcomes[f] for f in self.candidates if f in self.outcomes},
        }


class TokenBudget:
    """Tokens spent per simulated day, in all and per character, against ``daily`` and ``per_character``
    (0: no budget). Only the newest day is kept: a day starts the counts afresh."""

    def __init__(self, daily: int = 0, per_character: int = 0) -> None:
        self.daily = daily
        self.per_character = per_character
        self.day: date | None = None
        self.spent = 0
        self.by_character: Counter[str] = Counter()

    def _roll(self, day: date) -> None:
        if self.day is None or day > self.day:
            self.day, self.spent = day, 0
            self.by_character.clear()

    def refusal(self, day: date, character: str) -> str | None:
        """Why no more tokens may be spent for ``character`` on ``day``; None while they may."""
        self._roll(day)
        if self.daily and self.spent >= self.daily:
            return f"token budget: {self.daily} tokens a day spent"
        if self.per_character and self.by_character[character] >= self.per_character:
            return f"token budget: {self.per_character} tokens a day for {character} spent"
        return None

    def spend(self, day: date, character: str, tokens: int) -> None:
        self._roll(day)
        if day == self.day:  # an answer from the day before, arriving late, counts for no day
            self.spent += tokens
            self.by_character[character] += tokens

    def status(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat() if self.day else None,
            "tokens_today": self.spent,
            "daily_token_budget": self.daily,
            "character_daily_token_budget": self.per_character,
            "characters_over_budget": sum(
                1 for spent in self.by_character.values() if spent >= (self.per_character or spent + 1)
            ),
        }


class LlmUsage:
    """Counters that only grow, for status and /metrics (a benchmark's ``reset_stats`` leaves them)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()  # by outcome: the HTTP status, or "transport"
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.wasted_tokens = 0  # spent on answers that were thrown away (asked again, or fell back)
        self.failures: Counter[tuple[str, str]] = Counter()  # (decision or plan, kind of reason)
        self.latency_buckets = [0] * len(LATENCY_BUCKETS)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.recent_latencies: deque[float] = deque(maxlen=500)  # seconds, for status's percentiles

    def call(self, outcome: str, seconds: float) -> None:
        self.calls[outcome] += 1
        self.latency_sum += seconds
        self.latency_count += 1
        self.recent_latencies.append(seconds)
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.latency_buckets[i] += 1
                break

    def latency_ms(self) -> tuple[float | None, float | None]:
        """Median and 95th percentile (nearest rank) of the recent calls, in milliseconds."""
        if not self.recent_latencies:
            return None, None
        ordered = sorted(self.recent_latencies)
        p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
        return round(statistics.median(ordered) * 1000, 1), round(p95 * 1000, 1)
