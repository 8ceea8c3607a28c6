"""Cutting text into terms, for Chinese and English alike (search, and the simulator's memory).

Chinese is written without spaces, so words cannot be found by splitting on them. Text in CJK scripts
is cut into overlapping two-character terms (“咖啡馆” → “咖啡”, “啡馆”) plus single characters, the way
MySQL's ngram parser does; other scripts into lower-cased words.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

MAX_TERM_LENGTH = 40
_WORD = re.compile(r"\w+")
# Kana, CJK ideographs (with extension A and compatibility forms) and Hangul syllables.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_OR_NOT = re.compile(f"[{_CJK}]+|[^{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")


def _is_cjk(char: str) -> bool:
    return _CJK_CHAR.match(char) is not None


def tokenize(text: str, *, for_query: bool = False) -> Counter[str]:
    """Terms of ``text`` with their counts. Documents get CJK unigrams and bigrams; a query of two or
    more CJK characters uses only its bigrams (precise), a single character its unigram."""
    text = unicodedata.normalize("NFKC", text).lower()
    terms: Counter[str] = Counter()
    for run in _WORD.findall(text):
        if not any(_is_cjk(ch) for ch in run):
            if len(run) > 1 or for_query:
                terms[run[:MAX_TERM_LENGTH]] += 1
            continue
        # Split a mixed run ("iphone手机") into its CJK and non-CJK pieces.
        for piece in _CJK_OR_NOT.findall(run):
            if not _is_cjk(piece[0]):
                terms[piece[:MAX_TERM_LENGTH]] += 1
                continue
            bigrams = [piece[i : i + 2] for i in range(len(piece) - 1)]
            if for_query:
                terms.update(bigrams if bigrams else [piece])
            else:
                terms.update(piece)
                terms.update(bigrams)
    return terms
