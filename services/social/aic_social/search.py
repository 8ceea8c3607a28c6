"""Search over posts and people, ranked, in Chinese and English, on MySQL, MariaDB and SQLite alike.

Why an index table of our own: Chinese is written without spaces, so a full-text index that splits
on spaces sees a whole sentence as one "word" and finds nothing inside it. MySQL 8 solves this with
its ngram parser, but MariaDB has none and SQLite's FTS5 tokenizers have the same problem. So we do
what the ngram parser does, portably: Chinese (and Japanese/Korean) text is cut into overlapping
two-character terms (“咖啡馆” → “咖啡”, “啡馆”) and single characters, other scripts into
lower-cased words. A query is cut the same way; a document matches when it holds every query term,
and it ranks by how often the terms occur, rarer terms counting more, newer documents first on ties.
The lookup is an index range on (term) for each query term.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aic_common.text import tokenize
from aic_social.models import SearchTerm

POST, USER = "p", "u"
MAX_QUERY_TERMS = 12


def index_document(session: Session, kind: str, doc_id: str, text: str, *, new: bool = False) -> None:
    """Index ``text`` as the document's terms, replacing what it had unless ``new``.

    For a new document there is nothing to replace, and on InnoDB the delete of absent rows takes gap
    locks on which concurrent inserts of other new documents deadlock.
    """
    if not new:
        remove_document(session, kind, doc_id)
    terms = tokenize(text)
    if not terms:
        return
    # Saturating term frequency: a word said ten times is not ten times as relevant.
    rows = [
        {"term": term, "doc_kind": kind, "doc_id": doc_id, "weight": 1.0 + math.log(count)}
        for term, count in terms.items()
    ]
    session.execute(sa.insert(SearchTerm), rows)


def remove_document(session: Session, kind: str, doc_id: str) -> None:
    session.execute(sa.delete(SearchTerm).where(SearchTerm.doc_kind == kind, SearchTerm.doc_id == doc_id))


def search(
    session: Session, kind: str, query: str, *, limit: int, offset: int = 0
) -> list[tuple[str, float]]:
    """(doc_id, score) of the documents holding every term of ``query``, best first."""
    terms = list(tokenize(query, for_query=True))[:MAX_QUERY_TERMS]
    if not terms:
        return []
    # Rarer terms weigh more (inverse document frequency), computed from the index itself.
    total = (
        session.scalar(
            sa.select(sa.func.count(sa.distinct(SearchTerm.doc_id))).where(SearchTerm.doc_kind == kind)
        )
        or 1
    )
    frequencies = dict(
        session.execute(
            sa.select(SearchTerm.term, sa.func.count())
            .where(SearchTerm.doc_kind == kind, SearchTerm.term.in_(terms))
            .group_by(SearchTerm.term)
        ).all()
    )
    if len(frequencies) < len(terms):
        return []  # some term occurs nowhere: nothing holds them all
    idf = sa.case(
        *((SearchTerm.term == term, math.log(1 + total / frequencies[term])) for term in terms), else_=0.0
    )
    score = sa.func.sum(SearchTerm.weight * idf).label("score")
    statement = (
        sa.select(SearchTerm.doc_id, score)
        .where(SearchTerm.doc_kind == kind, SearchTerm.term.in_(terms))
        .group_by(SearchTerm.doc_id)
        .having(sa.func.count() == len(terms))
        .order_by(score.desc(), SearchTerm.doc_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(row.doc_id, float(row.score)) for row in session.execute(statement)]
