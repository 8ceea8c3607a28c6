"""Races between concurrent writers on MariaDB: each ends in one consistent result, never an error."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory, utc_now
from aic_common.migrations import upgrade
from aic_common.testing import wait_until
from aic_social.app import MIGRATIONS
from aic_social.models import Conversation, Profile
from aic_social.service import Actor, SocialService
from aic_social.settings import SocialSettings

pytestmark = pytest.mark.integration


def profile(session: Session, name: str) -> str:
    user_id = str(uuid.uuid4())
    now = utc_now()
    session.add(
        Profile(
            user_id=user_id,
            username=name,
            username_key=name,
            display_name=name,
            created_at=now,
            updated_at=now,
        )
    )
    return user_id


def test_the_first_messages_of_a_pair_crossing_end_in_one_conversation(mysql_url: str) -> None:
    upgrade(MIGRATIONS, mysql_url)
    engine = create_db_engine(mysql_url)
    factory = create_session_factory(engine)
    service = SocialService(
        SocialSettings(env="test", database_url=mysql_url, metrics_token="metrics-token-of-the-test"),
        factory,
        Outbox("social"),
    )
    with factory.begin() as session:
        lin, bo = profile(session, "lin"), profile(session, "bo")
    errors: list[BaseException] = []

    def bo_writes_back() -> None:
        try:
            with factory.begin() as session:
                recipient = session.get(Profile, lin)
                assert recipient is not None
                service.send_message(session, Actor(bo, "user", False), to=recipient, content="你好!")
        except BaseException as error:  # reported by the test below
            errors.append(error)

    def waiting_for_a_lock() -> bool:
        # Lin's insert is done (its connection sleeps): one still running is Bo's, waiting on it.
        query = (
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE db = DATABASE() AND info LIKE 'INSERT INTO conversations%'"
        )
        with engine.connect() as conn:
            return bool(conn.execute(sa.text(query)).scalar())

    try:
        with factory.begin() as session:
            recipient = session.get(Profile, bo)
            assert recipient is not None
            service.send_message(session, Actor(lin, "user", False), to=recipient, content="在吗?")
            # Bo's first message starts before Lin's commits: it reads no conversation, and its
            # insert of one waits on Lin's until Lin commits.
            crossing = threading.Thread(target=bo_writes_back)
            crossing.start()
            wait_until(lambda: waiting_for_a_lock() or errors, timeout=20, what="the second writer to wait")
            assert not errors, errors
        crossing.join(timeout=30)
        assert not errors, errors
        with factory() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Conversation)) == 1
            assert session.execute(sa.text("SELECT COUNT(*) FROM messages")).scalar() == 2
    finally:
        engine.dispose()
