"""An agent's memory stream: kinds, audiences, retrieval by relevance, reflection, a size bound.

Each memory has a kind (observation, conversation, plan, reflection), an importance (by kind and
content, or scored by the LLM when there is one) and an audience: PUBLIC, or the private conversation
it came from. Text written for an audience draws only on the memories that audience may hear
(:func:`visible_to`), so what one person said in private never reaches anyone else.

Retrieval scores recency + importance + relevance, each in 0..1 (the generative-agents recipe): recency
halves every simulated day, relevance is BM25 of the memory's terms against the situation, normalised
by the best match. Reflections condense observations and conversations, never other reflections.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime

from aic_common.text import tokenize
from aic_simulator.policy import Memory
from aic_simulator.state import PERSON_CONVERSATION, PUBLIC, AgentState, MemoryEntry

HALF_LIFE_HOURS = 24.0
KINDS = ("observation", "conversation", "plan", "reflection")
# How much each kind matters before its content is weighed (1-10).
BASE_IMPORTANCE = {"observation": 2.0, "conversation": 5.0, "plan": 3.0, "reflection": 7.0}
# Content that makes a memory matter more: feelings, firsts, dangers, promises.
# Whole words only: single Chinese characters (一, 好, 心...) would make every Chinese memory emphatic.
EMPHATIC_TERMS = frozenset(
    term
    for term in tokenize(
        "第一次 台风 暴雨 危险 生病 喜欢 难过 开心 约好 答应 秘密 重要 warning storm typhoon first "
        "secret promise love sad happy danger important"
    )
    if len(term) > 1
)
REFLECTION_SOURCES = ("observation", "conversation")
BM25_K1, BM25_B = 1.2, 0.75


def terms_of(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


def private_audience(conversation_id: str) -> str:
    return f"private:{conversation_id}"


# The audience of what was said in a direct-message conversation with a person (conversation ids "p…").
WITH_PEOPLE = private_audience(PERSON_CONVERSATION)


def importance_of(kind: str, content: str, terms: frozenset[str] | None = None) -> float:
    """A rule's judgement of how much a memory matters (an LLM's score replaces it when there is one)."""
    base = BASE_IMPORTANCE.get(kind, 3.0)
    emphatic = (terms_of(content) if terms is None else terms) & EMPHATIC_TERMS
    return min(10.0, base + 2.0 * len(emphatic))


def remember(
    agent: AgentState,
    at: datetime,
    kind: str,
    content: str,
    importance: float | None = None,
    *,
    audience: str = PUBLIC,
) -> MemoryEntry:
    agent.memory_seq += 1
    terms = terms_of(content)
    weight = importance_of(kind, content, terms) if importance is None else importance
    entry = MemoryEntry(
        agent.memory_seq, at, kind, content[:1000], max(1.0, min(10.0, weight)), terms, audience
    )
    agent.memories.append(entry)
    if kind in REFLECTION_SOURCES:
        agent.importance_since_reflection += entry.importance
    agent.dirty = True
    return entry


def visible_to(memories: Iterable[MemoryEntry], audience: str) -> list[MemoryEntry]:
    """The memories text for ``audience`` may draw on: public ones, and that conversation's own."""
    return [m for m in memories if m.audience == PUBLIC or m.audience == audience]


def secrets(
    agent: AgentState, audience: str, *, besides: str | None, is_character: Callable[[str], bool]
) -> list[str]:
    """What people told the agent in private that text for ``audience`` must not carry (the privacy guard
    weighs text against it): its memories of other people's private conversations, and the messages from
    people it has not answered yet, but for those of ``besides`` (whom the text answers). Characters' words
    to each other are made of what is public already, so they are no secret to keep."""
    texts = [
        m.content for m in agent.memories if m.audience.startswith(WITH_PEOPLE) and m.audience != audience
    ]
    texts += [
        s.content
        for s in agent.stimuli
        if s.kind == "message" and s.from_user_id != besides and not is_character(s.from_user_id)
    ]
    return texts


def _recency(entry: MemoryEntry, now: datetime) -> float:
    hours = max(0.0, (now - entry.sim_time).total_seconds() / 3600)
    return math.pow(0.5, hours / HALF_LIFE_HOURS)


def _bm25(memories: list[MemoryEntry], query_terms: frozenset[str]) -> list[float]:
    """BM25 of each memory against the query terms (set semantics: a term counts once per memory)."""
    if not query_terms or not memories:
        return [0.0] * len(memories)
    count = len(memories)
    average = sum(len(m.terms) for m in memories) / count or 1.0
    # One pass finds the shared terms (most memories share none); document frequencies come from them.
    shared = [m.terms & query_terms for m in memories]
    frequency: dict[str, int] = {}
    for terms in shared:
        for term in terms:
            frequency[term] = frequency.get(term, 0) + 1
    idf = {t: math.log(1 + (count - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
    scores = []
    for m, terms in zip(memories, shared, strict=True):
        if not terms:
            scores.append(0.0)
            continue
        norm = BM25_K1 * (1 - BM25_B + BM25_B * len(m.terms) / average)
        scores.append(sum(idf[t] for t in terms) * (BM25_K1 + 1) / (1 + norm))
    return scores


def retrieve(
    agent: AgentState, now: datetime, query: str, k: int = 5, *, audience: str = PUBLIC
) -> list[Memory]:
    """The ``k`` memories that best fit the situation described by ``query``, among those ``audience``
    may hear."""
    candidates = visible_to(agent.memories, audience)
    relevance = _bm25(candidates, terms_of(query))
    best = max(relevance, default=0.0) or 1.0
    scored = [
        (_recency(m, now) + m.importance / 10 + r / best, m)
        for m, r in zip(candidates, relevance, strict=True)
    ]
    scored.sort(key=lambda pair: (pair[0], pair[1].seq), reverse=True)
    return [Memory(m.seq, m.content, m.importance, round(s, 4), m.audience, m.kind) for s, m in scored[:k]]


def forget_beyond(agent: AgentState, now: datetime, limit: int) -> list[int]:
    """Keep the ``limit`` memories that score best with no particular query; return the seqs dropped."""
    if len(agent.memories) <= limit:
        return []
    keep = sorted(agent.memories, key=lambda m: (_recency(m, now) + m.importance / 10, m.seq), reverse=True)
    kept = {m.seq for m in keep[:limit]}
    dropped = [m.seq for m in agent.memories if m.seq not in kept]
    agent.memories = [m for m in agent.memories if m.seq in kept]
    agent.dirty = True
    return dropped


def reflect(agent: AgentState, now: datetime, threshold: float) -> MemoryEntry | None:
    """When enough has happened, condense the most important recent observations and conversations into
    one insight. A reflection is drawn from public memories only (it is itself public) and never from
    other reflections, so reflections do not nest."""
    if agent.importance_since_reflection < threshold:
        return None
    agent.importance_since_reflection = 0.0
    # Only what happened since the last reflection: two reflections never share a source.
    last = max((m.seq for m in agent.memories if m.kind == "reflection"), default=0)
    sources: dict[str, MemoryEntry] = {}
    for m in agent.memories[-30:]:
        if m.seq > last and m.kind in REFLECTION_SOURCES and m.audience == PUBLIC:
            sources.setdefault(m.content, m)
    recent = sorted(sources.values(), key=lambda m: (m.importance, m.seq), reverse=True)[:3]
    if len(recent) < 2:
        return None
    parts = [_gist(m.content) for m in sorted(recent, key=lambda m: m.seq)]
    en = agent.language == "en"
    content = "Looking back: " + "; ".join(parts) if en else "回想起来:" + ";".join(parts)
    return remember(agent, now, "reflection", content, BASE_IMPORTANCE["reflection"])


def _gist(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
