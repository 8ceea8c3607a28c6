"""Word pools the rule-based writer (aic_simulator.writer) grows texts from, one module per language.

A pool is a list of frames; a frame names facts (``{place}``, ``{person}``...) or other pools in braces.
The writer uses a frame only when everything it names is known, so pools are split by situation (open or
closed, alone or in company, hour of the day, event kind) rather than checked after the fact.
Domains are what characters know about: the words that point to them, and notes, recommendations,
questions and item uses the writer draws on when a subject or an interest falls in one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from aic_simulator.grammar import en, zh


@dataclass(frozen=True)
class Grammar:
    language: str
    pools: MappingProxyType[str, tuple[str, ...]]
    domains: MappingProxyType[str, dict[str, Any]]
    place_domains: MappingProxyType[str, str]  # place kind -> the domain it is about
    lexicon: tuple[str, ...]  # words that can be the subject of a message
    lexicon_set: frozenset[str]  # the same, lower case
    places: tuple[str, ...]  # words for places, to tell "where" from "what" in a question
    stop_subjects: frozenset[str]  # captures that are no subject (pronouns, time words...)
    key_domains: MappingProxyType[str, str]  # a domain key (lower case) -> its domain
    domain_keys: re.Pattern[str]  # finds domain keys in lower-case text, longest first at each position
    lexicon_words: re.Pattern[str]  # finds lexicon words in lower-case text, longest first at each position

    def domain_of(self, text: str) -> str | None:
        """The domain of the longest domain key in `text` (the earliest on a tie)."""
        keys = [m.group(1) for m in self.domain_keys.finditer(text.lower())]
        return self.key_domains[max(keys, key=len)] if keys else None


def _grammar(language: str, module: Any) -> Grammar:
    domains = {name: dict(spec) for name, spec in module.DOMAINS.items()}
    words = [*module.LEXICON, *(key for spec in domains.values() for key in spec["keys"])]
    key_domains: dict[str, str] = {}
    for name, spec in domains.items():
        for key in spec["keys"]:
            key_domains.setdefault(key.lower(), name)
    return Grammar(
        language=language,
        pools=MappingProxyType({key: tuple(frames) for key, frames in module.POOLS.items()}),
        domains=MappingProxyType(domains),
        place_domains=MappingProxyType(dict(module.PLACE_DOMAINS)),
        lexicon=tuple(dict.fromkeys(w for w in words if len(w) >= 2)),
        lexicon_set=frozenset(w.lower() for w in words if len(w) >= 2),
        places=tuple(module.PLACES),
        stop_subjects=frozenset(module.STOP_SUBJECTS),
        key_domains=MappingProxyType(key_domains),
        domain_keys=_finder(key_domains, whole_words=language == "en"),
        lexicon_words=_finder(
            dict.fromkeys(w.lower() for w in words if len(w) >= 2), whole_words=language == "en"
        ),
    )


def _finder(words: dict[str, object], *, whole_words: bool) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    # English keys match whole words ("run" not in "brunch");
    # a lookahead lets matches overlap ("coffee beans", "beans")
    return re.compile(rf"(?=\b({alternatives})\b)" if whole_words else f"(?=({alternatives}))")


GRAMMARS: dict[str, Grammar] = {"zh": _grammar("zh", zh), "en": _grammar("en", en)}
