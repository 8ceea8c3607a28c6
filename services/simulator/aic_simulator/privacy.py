"""The privacy guard: does a public text carry something a character was told, or said, in private?

A public text (a post, a comment) leaks when it shares *distinctive* content with a private text (a
direct message the character received, a memory of a private conversation): a run of six or more
Chinese characters, four or more consecutive words, or any token that looks like a secret (a long
number, a code such as CANARY-7F3K, an e-mail address, a phone number). Overlaps made only of very
common characters or words ("我也是这么想的", "I think so too") are everyday language, not a leak, and
so is anything inside the texts passed as ``public`` (the speaker's catchphrases, names, places).

The engine asks :func:`find_leak` before publishing; the society report counts what got through.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

MIN_CJK_RUN = 6
MIN_WORD_RUN = 4
# A run this long must hold at least this many uncommon characters or words to be distinctive.
MIN_UNCOMMON = 2

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s-]{6,}\d")
_DIGITS = re.compile(r"\d{4,}")
# Letters and digits mixed, with or without hyphens: CANARY-7F3K, A7X9Q2, tok_3f9a.
_CODE = re.compile(
    r"(?<![a-z0-9])(?=[a-z0-9_-]*\d)(?=[a-z0-9_-]*[a-z])[a-z0-9]+(?:[-_][a-z0-9]+)*(?![a-z0-9])"
)

# The characters of everyday Chinese: pronouns, particles, common verbs and time words.
COMMON_CJK = frozenset(
    "的一是不了在人有我他她它这个们中来上大为和到以说时要就出会可也你对生能而子那得于着下自之年过发后"
    "作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心本前开但因只"
    "从想实日意无力与长把给很最又再已经被让向跟吧吗呢啊呀哦嗯哈嘛啦喔哇么什怎哪谁几少今明昨早晚点次回"
    "真太更挺非常特别还比较有点一些东西地方时候觉得知道喜欢谢请问欢迎嗨您咱俩"
)


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


COMMON_WORDS = word_set(
    """a an the and or but so if then than that this these those there here it its i me my mine you your
    yours he him his she her hers we us our they them their is am are was were be been being do does did
    have has had will would can could shall should may might must not no yes of to in on at by for from
    with about as into over after before up down out off again just too very really much many more most
    some any all what which who whom whose when where why how hi hello hey thanks thank please sorry ok
    okay oh ah well like know think feel see get got go going went come came good great nice fine sure
    today tomorrow yesterday now time day night morning evening one also still even"""
)


def _normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _secrets(text: str) -> set[str]:
    """Tokens that look like something only the writer should know."""
    found = {m.group() for m in _EMAIL.finditer(text)}
    found |= {re.sub(r"\D", "", m.group()) for m in _PHONE.finditer(text)}
    found |= {m.group() for m in _DIGITS.finditer(text) if not _is_year(m.group())}
    found |= {m.group() for m in _CODE.finditer(text) if len(m.group()) >= 5}
    return found


def _is_year(digits: str) -> bool:
    return len(digits) == 4 and digits[:2] in ("19", "20")


def _cjk_shingles(text: str) -> set[str]:
    shingles: set[str] = set()
    for run in _CJK_RUN.findall(text):
        shingles.update(run[i : i + MIN_CJK_RUN] for i in range(len(run) - MIN_CJK_RUN + 1))
    return shingles


def _word_shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(_CJK_RUN.sub(" | ", text))  # Chinese breaks a run of words
    shingles: set[tuple[str, ...]] = set()
    for i in range(len(words) - MIN_WORD_RUN + 1):
        window = tuple(words[i : i + MIN_WORD_RUN])
        if "|" not in window:
            shingles.add(window)
    return shingles


@lru_cache(maxsize=4096)
def _features(text: str) -> tuple[frozenset[str], frozenset[str], frozenset[tuple[str, ...]]]:
    """What a text could leak or be leaked from (cached: one private text is checked against many)."""
    normalized = _normalized(text)
    return (
        frozenset(_secrets(normalized)),
        frozenset(_cjk_shingles(normalized)),
        frozenset(_word_shingles(normalized)),
    )


def _hint(secret: str) -> str:
    """Enough of a shared text to find it, never all of it."""
    keep = 2 if len(secret) <= 6 else 3
    return f"“{secret[:keep]}…” ({len(secret)} characters)"


def find_leak(public_text: str, private_texts: Iterable[str], *, public: Iterable[str] = ()) -> str | None:
    """Why ``public_text`` gives away distinctive content of one of ``private_texts``; None when it does not.

    ``public``: texts known to be public anyway (catchphrases, names); what lies inside them is not a leak.
    """
    said_secrets, said_cjk, said_words = _features(public_text)
    if not (said_secrets or said_cjk or said_words):
        return None
    known = [_normalized(text) for text in public]

    def already_public(fragment: str) -> bool:
        return any(fragment in text for text in known)

    for private in private_texts:
        secrets, cjk, words = _features(private)
        for secret in sorted(said_secrets & secrets, key=len, reverse=True):
            if not already_public(secret):
                return f"repeats a code or number from a private text: {_hint(secret)}"
        for shingle in sorted(said_cjk & cjk):
            uncommon = sum(1 for ch in shingle if ch not in COMMON_CJK)
            if uncommon >= MIN_UNCOMMON and not already_public(shingle):
                return f"repeats a private text's words: {_hint(shingle)}"
        for window in sorted(said_words & words):
            uncommon = sum(1 for word in window if word not in COMMON_WORDS)
            phrase = " ".join(window)
            if uncommon >= MIN_UNCOMMON and not already_public(phrase):
                return f"repeats {MIN_WORD_RUN}+ words of a private text: “{window[0]} {window[1]} …”"
    return None
