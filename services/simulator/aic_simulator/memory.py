"""An agent's memory stream: retrieval by recency, importance and relevance; reflection; a size bound.

Score = recency + importance + relevance, each in 0..1 (the generative-agents recipe): recency decays
by half every day of simulated time, importance is what the engine judged (1-10 scaled), relevance is
the overlap of the memory's terms with what the agent is thinking about now.
"""

from __future__ import annotations

import math
from datetime import datetime

from aic_common.text import tokenize
from aic_simulator.policy import Memory
from aic_simulator.state import AgentState, MemoryEntry

HALF_LIFE_HOURS = 24.0


def terms_of(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


def remember(agent: AgentState, at: datetime, kind: str, content: str, importance: float) -> MemoryEntry:
    agent.memory_seq += 1
    entry = MemoryEntry(
        agent.memory_seq, at, kind, content[:1000], max(1.0, min(10.0, importance)), terms_of(content)
    )
    agent.memories.append(entry)
    agent.importance_since_reflection += entry.importance
    agent.dirty = True
    return entry


def score(entry: MemoryEntry, now: datetime, query_terms: frozenset[str]) -> float:
    hours = max(0.0, (now - entry.sim_time).total_seconds() / 3600)
    recency = math.pow(0.5, hours / HALF_LIFE_HOURS)
    relevance = len(entry.terms & query_terms) / math.sqrt(len(query_terms) * len(entry.terms) or 1)
    return recency + entry.importance / 10 + relevance


def retrieve(agent: AgentState, now: datetime, query: str, k: int = 5) -> list[Memory]:
    query_terms = terms_of(query)
    ranked = sorted(agent.memories, key=lambda m: (score(m, now, query_terms), m.seq), reverse=True)[:k]
    return [Memory(m.seq, m.content, m.importance, round(score(m, now, query_terms), 4)) for m in ranked]


def forget_beyond(agent: AgentState, now: datetime, limit: int) -> list[int]:
    """Keep the ``limit`` memories that score best with no particular query; return the seqs dropped."""
    if len(agent.memories) <= limit:
        return []
    empty: frozenset[str] = frozenset()
    keep = sorted(agent.memories, key=lambda m: (score(m, now, empty), m.seq), reverse=True)[:limit]
    kept = {m.seq for m in keep}
    dropped = [m.seq for m in agent.memories if m.seq not in kept]
    agent.memories = [m for m in agent.memories if m.seq in kept]
    agent.dirty = True
    return dropped


def reflect(agent: AgentState, now: datetime, threshold: float) -> MemoryEntry | None:
    """When enough has happened, condense the most important recent memories into one insight."""
    if agent.importance_since_reflection < threshold:
        return None
    recent = sorted(agent.memories[-20:], key=lambda m: (m.importance, m.seq), reverse=True)[:3]
    agent.importance_since_reflection = 0.0
    if not recent:
        return None
    if agent.language == "en":
        content = "Looking back: " + "; ".join(m.content for m in recent)
    else:
        content = "回想起来:" + ";".join(m.content for m in recent)
    entry = remember(agent, now, "reflection", content, 8.0)
    agent.importance_since_reflection = 0.0
    return entry
