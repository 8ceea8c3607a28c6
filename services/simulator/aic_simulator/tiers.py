"""Tiered decisions: ask each policy in turn (LLM first, rules last) and keep the first valid answer.

A tier that times out, raises or answers something not offered is skipped and the next one decides;
the trace of the decision says which tier decided and why the tiers above it did not. At most one
decision is in flight per agent: a second concurrent :meth:`TieredPolicy.decide` for the same agent
raises :class:`DecisionInFlight` at once rather than waiting, because a decision queued behind another
would act on a perception that the first decision has already made stale. The engine should simply
wake the agent again after the current decision ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aic_simulator.plans import PlanRequest
from aic_simulator.policy import Decision, DecisionTrace, Perception, Policy, option_allows
from aic_simulator.state import PlanItem

log = logging.getLogger(__name__)


class PolicyError(Exception):
    """A tier could not decide; ``reason`` goes into the next tier's ``fallback_reason``."""

    def __init__(self, reason: str, *, tokens: int = 0, detail: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tokens = tokens  # spent even though no decision came of it
        self.detail = detail or {}


class DecisionInFlight(RuntimeError):
    """The agent already has a decision in flight."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"a decision for agent {agent_id} is already in flight")
        self.agent_id = agent_id


class NoDecision(RuntimeError):
    """Every tier failed; ``failures`` holds (tier, reason) pairs in order."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{tier}: {reason}" for tier, reason in failures) or "no tiers")
        self.failures = failures


def invalid_reason(perception: Perception, decision: Any) -> str | None:
    """Why ``decision`` is not one of the perception's options, or None when it is."""
    if not isinstance(decision, Decision):
        return f"not a Decision but {type(decision).__name__}"
    if option_allows(perception, decision):
        return None
    action = decision.action.value
    if not any(o.action == decision.action for o in perception.options):
        return f"action {action!r} not offered"
    return f"action {action!r} with target {decision.target!r} not offered"


class TieredPolicy:
    """Try ``tiers`` in order; each gets at most ``decision_timeout`` seconds (None: no limit), but for
    a tier that keeps time of its own (a ``time_limit`` not None: an LLM whose clock starts when it
    gets a slot, its wait for one bounded apart), which gets that long."""

    def __init__(self, tiers: Sequence[Policy], *, decision_timeout: float | None = 30.0) -> None:
        if not tiers:
            raise ValueError("TieredPolicy needs at least one tier")
        self.tiers = list(tiers)
        self.decision_timeout = decision_timeout
        self.name = ">".join(t.name for t in self.tiers)
        # How many decisions it works on at once: the slots of its tiers (an LLM's), rules have none.
        self.concurrency = max(getattr(t, "concurrency", 0) for t in self.tiers)
        self._busy: set[str] = set()
        # For status and benchmarks: which tier decided how often, and why tiers were skipped.
        self.decided_by: Counter[str] = Counter()
        self.fallbacks: Counter[str] = Counter()

    @property
    def writes_plans(self) -> bool:
        """Whether a tier writes days' plans (an LLM); without one every plan is the rule plan."""
        return any(getattr(t, "plan_for", None) is not None for t in self.tiers)

    def time_limit(self, tier: Policy) -> float | None:
        """How long ``tier`` may take on one decision or plan."""
        own = getattr(tier, "time_limit", None)
        return self.decision_timeout if own is None else float(own)

    async def plan_for(self, request: PlanRequest) -> list[PlanItem] | None:
        """The day's plan from the first tier that writes plans (an LLM), within its time limit; None
        (the rule plan then) when none does or it fails."""
        for tier in self.tiers:
            planner = getattr(tier, "plan_for", None)
            if planner is None:
                continue
            limit = self.time_limit(tier)
            deadline = asyncio.timeout(limit)
            try:
                async with deadline:
                    plan = await planner(request)
            except Exception as exc:  # any failure: the rule plan stands in
                if deadline.expired():
                    reason = f"timeout after {float(limit or 0)}s"
                elif isinstance(exc, PolicyError):
                    reason = exc.reason
                else:
                    reason = f"error: {type(exc).__name__}: {exc}"
                self.fallbacks[f"{tier.name}:plan"] += 1
                log.info("%s could not plan %s's day: %s", tier.name, request.agent.id, reason)
                continue
            if plan:
                return plan
        return None

    def in_flight(self, agent_id: str) -> bool:
        return agent_id in self._busy

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        """Decide for one agent; raises DecisionInFlight or, when every tier failed, NoDecision."""
        agent_id = perception.agent_id
        # Check and add with no await in between: atomic on the event loop.
        if agent_id in self._busy:
            raise DecisionInFlight(agent_id)
        self._busy.add(agent_id)
        try:
            return await self._decide(perception)
        finally:
            self._busy.discard(agent_id)

    async def _decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        started = time.perf_counter()
        failures: list[tuple[str, str]] = []
        failed_detail: list[dict[str, Any]] = []
        wasted_tokens = 0
        for tier in self.tiers:
            tier_started = time.perf_counter()
            said: dict[str, Any] = {}  # what a failed tier reports of its attempt (an LLM's raw answer)
            limit = self.time_limit(tier)
            deadline = asyncio.timeout(limit)
            try:
                async with deadline:
                    decision, trace = await tier.decide(perception)
            except TimeoutError:
                # Our own deadline, or a TimeoutError the tier let escape: say which.
                expired = deadline.expired()
                reason = f"timeout after {float(limit or 0)}s" if expired else "error: TimeoutError"
            except PolicyError as exc:
                reason = exc.reason
                wasted_tokens += exc.tokens
                said = exc.detail
            except Exception as exc:
                reason = f"error: {type(exc).__name__}: {exc}"
            else:
                invalid = invalid_reason(perception, decision)
                if invalid is None:
                    return decision, self._final_trace(
                        tier.name, trace, started, tier_started, failures, failed_detail, wasted_tokens
                    )
                reason = f"invalid output: {invalid}"
                wasted_tokens += getattr(trace, "tokens", 0) or 0
            failures.append((tier.name, reason))
            failed = {"tier": tier.name, "reason": reason, "latency_ms": _ms_since(tier_started)}
            failed_detail.append({**failed, "detail": said} if said else failed)
            self.fallbacks[tier.name] += 1
        raise NoDecision(failures)

    def _final_trace(
        self,
        tier_name: str,
        trace: DecisionTrace,
        started: float,
        tier_started: float,
        failures: list[tuple[str, str]],
        failed_detail: list[dict[str, Any]],
        wasted_tokens: int,
    ) -> DecisionTrace:
        self.decided_by[tier_name] += 1
        detail = dict(trace.detail)
        # latency_ms is what the agent waited in total; the deciding tier's own time is kept apart.
        detail["tier_latency_ms"] = trace.latency_ms
        if failed_detail:
            detail["fallbacks"] = failed_detail
        return replace(
            trace,
            tier=tier_name,
            latency_ms=_ms_since(started),
            tokens=trace.tokens + wasted_tokens,  # every token this decision cost, failed tiers included
            fallback_reason="; ".join(f"{t}: {r}" for t, r in failures) or None,
            detail=detail,
        )


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)
