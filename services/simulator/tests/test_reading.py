"""What the characters read: home and explore feeds, comments, likes remembered, search (over worlds built
by hand), and the perception behind them (comments, likes and unfollows written by the consumers on a
real database and pulled into the world)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from aic_common.bus import InProcessBus, Outbox
from aic_common.db import create_db_engine, create_session_factory, utc_now
from aic_common.messages import (
    CommentCreated,
    Envelope,
    MessageData,
    MessageSent,
    PostCreated,
    PostLiked,
    UserFollowed,
    UserUnfollowed,
    make_envelope,
)
from aic_common.migrations import upgrade
from aic_common.ranking import DEFAULT_GRAVITY, DEFAULT_WINDOW_HOURS, explore_score
from aic_common.testing import app_lifespan, wait_for
from aic_simulator import reading
from aic_simulator.app import MIGRATIONS, create_app
from aic_simulator.messaging import message_text, perception_handlers
from aic_simulator.models import KnownFollow, SeenComment, SeenLike
from aic_simulator.reading import (
    COMMENTS_KEPT,
    READS_KEPT,
    REREAD_AFTER,
    comments_of,
    engagement,
    explore_feed,
    has_liked,
    home_feed,
    mark_read,
    record_like,
    search,
)
from aic_simulator.settings import SimulatorSettings
from aic_simulator.state import AgentState, FeedEntry, World
from aic_simulator.store import SimStore
from aic_social.settings import SocialSettings

START = datetime(2026, 6, 1, 12)


def character(agent_id: str, user_id: str | None) -> AgentState:
    return AgentState(
        id=agent_id,
        username=agent_id,
        display_name=agent_id.upper(),
        user_id=user_id,
        persona={},
        home_id="home",
        location_id="home",
        energy=1.0,
        sociability=0.5,
        mood=0.0,
        current_action=None,
        current_decision=None,
        next_wake_at=START,
        importance_since_reflection=0.0,
        memory_seq=0,
    )


def world_of(agents: list[AgentState], posts: list[FeedEntry] | None = None) -> World:
    world = World(START, 0, "running", 1, 0, 0, {}, {}, [], {a.id: a for a in agents})
    world.feed.extend(posts or [])
    return world


def post(number: int, author: str, content: str = "", *, hours_old: float = 0) -> FeedEntry:
    entry = FeedEntry(number, str(number), author, author, content or f"post {number}")
    entry.seen_at = START - timedelta(hours=hours_old)  # when the world first perceived it
    return entry


def ids(entries: list[FeedEntry]) -> list[str]:
    return [e.post_id for e in entries]


# ---------------------------------------------------------------- the feeds


def test_home_feed_holds_the_followed_accounts_and_the_own_posts_newest_first() -> None:
    me, other = character("lin", "u-lin"), character("zhou", None)
    world = world_of(
        [me, other],
        [post(1, "u-a"), post(2, "u-lin"), post(3, "u-b"), post(4, "u-a"), post(5, "u-c"), post(6, "u-a")],
    )
    world.follows |= {("u-lin", "u-a"), ("u-b", "u-lin"), ("u-other", "u-c")}

    assert ids(home_feed(world, me, 10)) == ["6", "4", "2", "1"]
    assert ids(home_feed(world, me, 2)) == ["6", "4"]
    assert home_feed(world, other, 10) == [], "no account, nothing followed"


def test_the_characters_rank_with_the_products_defaults() -> None:
    social = SocialSettings()
    assert (social.explore_gravity, social.explore_window_hours) == (DEFAULT_GRAVITY, DEFAULT_WINDOW_HOURS)
    assert explore_score(3, 1, 2.0) == 6 / 4**DEFAULT_GRAVITY  # a comment weighs two likes
    assert explore_score(0, 0, -1.0) == explore_score(0, 0, 0.0), "a post from the future counts as new"


def test_explore_ranks_by_the_products_score_with_ages_in_simulated_hours() -> None:
    me = character("lin", "u-lin")
    world = world_of(
        [me],
        [
            post(1, "u-a", hours_old=30),  # old, much liked
            post(2, "u-b", hours_old=5),
            post(3, "u-c", hours_old=1),
            post(4, "u-d", hours_old=1),  # as new and as liked as 3: the higher id goes first
            post(5, "u-e", hours_old=80),  # outside the 72-hour window
            post(6, "u-f"),
        ],
    )
    for user in range(20):
        record_like(world, f"fan-{user}", "1")
    record_like(world, "u-x", "2")
    world.reading.activity_of("2").comment_count = 2

    shown = explore_feed(world, me, 10)

    def expected(entry: FeedEntry) -> tuple[float, int]:
        likes, comments = engagement(world, entry.post_id)
        age = (START - (entry.seen_at or START)).total_seconds() / 3600
        return explore_score(likes, comments, age, DEFAULT_GRAVITY), int(entry.post_id)

    in_window = [e for e in world.feed if e.post_id != "5"]
    assert ids(shown) == ids(sorted(in_window, key=expected, reverse=True))
    assert ids(shown) == ["6", "2", "4", "3", "1"]
    world.sim_time = START + timedelta(hours=40)  # a day and a half on, engagement outweighs freshness
    assert ids(explore_feed(world, me, 10)) == ["1", "2", "6", "4", "3"]
    world.sim_time = START + timedelta(hours=43)  # and the first is out of the window
    assert ids(explore_feed(world, me, 10))[0] == "2"


def test_a_post_without_a_perceived_time_ranks_as_new() -> None:
    me = character("lin", "u-lin")
    world = world_of([me], [post(1, "u-a", hours_old=1), FeedEntry(2, "2", "u-b", "u-b", "just in")])
    world.sim_time = START + timedelta(hours=5)
    assert ids(explore_feed(world, me, 10)) == ["2", "1"]


def test_explore_leaves_out_what_the_agent_read_lately_and_a_like_can_move_a_post_up() -> None:
    first, second = character("lin", "u-lin"), character("zhou", "u-zhou")
    world = world_of([first, second], [post(n, f"u-{n}", hours_old=10 - n) for n in range(1, 9)])

    seen = explore_feed(world, first, 3)
    assert ids(seen) == ["8", "7", "6"]
    mark_read(world, first, ids(seen))
    assert ids(explore_feed(world, first, 3)) == ["5", "4", "3"], "browsing again shows the next posts"
    assert ids(explore_feed(world, second, 3)) == ["8", "7", "6"], "what one read is not left out for another"

    for fan in ("u-a", "u-b", "u-c", "u-d"):
        record_like(world, fan, "2")
    assert ids(explore_feed(world, second, 3)) == ["2", "8", "7"]

    world.sim_time = START + REREAD_AFTER
    assert "8" in ids(explore_feed(world, first, 8)), "read long enough ago: shown again"


def test_an_agent_remembers_a_bounded_number_of_reads_most_recent_kept() -> None:
    me = character("lin", "u-lin")
    world = world_of([me])
    mark_read(world, me, [str(n) for n in range(READS_KEPT + 10)])  # 0 to 9 are forgotten
    mark_read(world, me, ["0"])  # read again: the latest, and 10 goes

    remembered = list(world.reading.reads[me.id])
    assert len(remembered) == READS_KEPT
    assert remembered[0] == "11" and remembered[-1] == "0"
    assert reading.read_recently(world, me, "0") and not reading.read_recently(world, me, "10")


def test_comments_are_the_newest_few_oldest_first() -> None:
    world = world_of([], [post(1, "u-a")])
    for n in range(COMMENTS_KEPT + 5):
        world.reading.add_comment(
            reading.CommentEntry(n, f"c{n}", "1", "u-b", "b", f"comment {n}", START + timedelta(minutes=n))
        )

    assert [c.comment_id for c in comments_of(world, "1", 3)] == [f"c{n}" for n in (102, 103, 104)]
    assert len(comments_of(world, "1", 1000)) == COMMENTS_KEPT
    assert engagement(world, "1") == (0, COMMENTS_KEPT + 5), "every comment counts, the newest are kept"
    assert comments_of(world, "2", 3) == []


def test_a_like_sent_is_remembered_and_counted_once() -> None:
    world = world_of([], [post(1, "u-a")])
    assert not has_liked(world, "u-lin", "1")
    record_like(world, "u-lin", "1")
    record_like(world, "u-lin", "1")
    assert has_liked(world, "u-lin", "1") and not has_liked(world, "u-zhou", "1")
    assert engagement(world, "1") == (1, 0)


def test_search_finds_the_posts_holding_every_term_best_first() -> None:
    world = world_of(
        [],
        [
            post(1, "u-a", "今天的咖啡馆很安静"),
            post(2, "u-b", "咖啡馆咖啡馆,咖啡馆的猫"),
            post(3, "u-c", "Morning coffee at the pier"),
            post(4, "u-d", "咖啡很好喝"),
            post(5, "u-e", "新开的咖啡馆"),
        ],
    )

    assert ids(search(world, "咖啡馆", 10)) == ["2", "5", "1"], "most mentions first, then the newer"
    assert ids(search(world, "咖啡", 2)) == ["2", "5"]
    assert ids(search(world, "COFFEE pier", 10)) == ["3"]
    assert search(world, "coffee 猫", 10) == [], "no post holds both"
    assert search(world, "  ", 10) == []


# ---------------------------------------------------------------- perception, on a real database


def published(data: MessageData) -> Envelope:
    return make_envelope(data, "social")


def perceive(session_factory, *events: MessageData) -> None:  # type: ignore[no-untyped-def]
    handlers = perception_handlers()
    with session_factory.begin() as session:
        for data in events:
            envelope = published(data)
            handlers[envelope.type](session, envelope)


def created(post_id: str, author: str = "u-person") -> PostCreated:
    return PostCreated(
        post_id=post_id,
        author_id=author,
        author_username="person",
        content=f"post {post_id}",
        created_at=START,
    )


def comment(comment_id: str, post_id: str, author: str = "u-person") -> CommentCreated:
    return CommentCreated(
        comment_id=comment_id,
        post_id=post_id,
        post_author_id="u-person",
        author_id=author,
        author_username=author,
        content=f"comment {comment_id}",
        created_at=datetime(2026, 6, 1, 12, tzinfo=UTC),
    )


def like(post_id: str, user: str) -> PostLiked:
    return PostLiked(post_id=post_id, post_author_id="u-person", user_id=user)


@pytest.mark.integration
def test_perceived_comments_likes_and_unfollows_are_pulled_into_the_world(database_url: str) -> None:
    upgrade(MIGRATIONS, database_url)
    session_factory = create_session_factory(create_db_engine(database_url))
    store = SimStore(session_factory, Outbox("test"), "test")
    perceive(
        session_factory,
        created("1"),
        created("2"),
        comment("11", "1"),
        comment("12", "1", "u-lin"),
        comment("11", "1"),  # the same comment heard twice
        comment("31", "3"),  # before its post
        like("1", "u-lin"),
        like("1", "u-zhou"),
        like("1", "u-lin"),  # a like heard twice
        UserFollowed(follower_id="u-lin", followee_id="u-a"),
        UserFollowed(follower_id="u-lin", followee_id="u-b"),
    )
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(SeenComment)) == 3
        assert session.scalar(sa.select(sa.func.count()).select_from(SeenLike)) == 2
    world = world_of([])
    store.refresh(world)

    assert ids(list(world.feed)) == ["1", "2"]
    assert engagement(world, "1") == (2, 2) and engagement(world, "2") == (0, 0)
    assert [c.content for c in comments_of(world, "1", 10)] == ["comment 11", "comment 12"]
    assert has_liked(world, "u-lin", "1") and not has_liked(world, "u-lin", "2")
    assert world.follows == {("u-lin", "u-a"), ("u-lin", "u-b")}

    world.follows.add(("u-lin", "u-c"))  # the engine's own follow, its event still on the way
    perceive(
        session_factory,
        UserUnfollowed(follower_id="u-lin", followee_id="u-a"),
        UserUnfollowed(follower_id="u-lin", followee_id="u-a"),  # heard twice
        comment("13", "1"),
        like("2", "u-lin"),
        created("3"),
    )
    with session_factory() as session:
        assert session.get(KnownFollow, ("u-lin", "u-a")) is None
    store.refresh(world)

    assert world.follows == {("u-lin", "u-b"), ("u-lin", "u-c")}
    assert engagement(world, "1") == (2, 3) and engagement(world, "2") == (1, 0)
    assert [c.comment_id for c in comments_of(world, "3", 10)] == ["31"], "its comment came first"

    restarted = world_of([])
    store.refresh(restarted)
    assert [engagement(restarted, p) for p in ("1", "2", "3")] == [(2, 3), (1, 0), (0, 1)]
    assert has_liked(restarted, "u-lin", "2")


@pytest.mark.integration
async def test_the_simulator_hears_comments_likes_and_unfollows_on_the_bus(tmp_path: Path) -> None:
    bus = InProcessBus(f"t{uuid.uuid4().hex[:8]}")
    settings = SimulatorSettings(data_dir=tmp_path, bus_namespace=bus.namespace, outbox_poll_seconds=0.05)
    app = create_app(settings, shared_bus=bus)
    async with app_lifespan(app):
        await bus.start()
        session_factory = app.state.runtime.session_factory
        with session_factory.begin() as session:
            session.add(KnownFollow(follower_id="u-lin", followee_id="u-a"))
        for data in (
            comment("11", "1"),
            like("1", "u-zhou"),
            UserUnfollowed(follower_id="u-lin", followee_id="u-a"),
        ):
            await bus.publish(published(data))

        def heard() -> bool:
            with session_factory() as session:
                return (
                    session.get(KnownFollow, ("u-lin", "u-a")) is None
                    and session.scalar(sa.select(SeenComment.post_id).where(SeenComment.comment_id == "11"))
                    == "1"
                    and session.scalar(sa.select(SeenLike.user_id).where(SeenLike.post_id == "1")) == "u-zhou"
                )

        await wait_for(heard, timeout=20, what="the comment, the like and the unfollow recorded")


@pytest.mark.integration
async def test_comments_and_likes_perceived_long_ago_are_swept(tmp_path: Path) -> None:
    settings = SimulatorSettings(data_dir=tmp_path, bus_namespace=f"t{uuid.uuid4().hex[:8]}")
    old = utc_now() - timedelta(days=settings.seen_post_retention_days + 1)
    app = create_app(settings)
    async with app_lifespan(app):
        runtime = app.state.runtime
        with runtime.session_factory.begin() as session:
            for number, at in ((1, old), (2, utc_now())):
                session.add(
                    SeenComment(
                        comment_id=f"c{number}",
                        post_id="1",
                        author_id="u-a",
                        author_username="a",
                        content="hi",
                        created_at=at,
                    )
                )
                session.add(SeenLike(post_id="1", user_id=f"u-{number}", created_at=at))
        deleted = await runtime.retention.sweep()
        with runtime.session_factory() as session:
            assert list(session.scalars(sa.select(SeenComment.comment_id))) == ["c2"]
            assert list(session.scalars(sa.select(SeenLike.user_id))) == ["u-2"]
    assert deleted["seen_comments"] == deleted["seen_likes"] == 1


def test_a_character_reads_a_word_for_the_images_of_a_message() -> None:
    def sent(content: str, image_ids: list[str]) -> MessageSent:
        return MessageSent(
            message_id="m-1",
            conversation_id="c-1",
            sender_id="u-person",
            sender_username="person",
            recipient_id="u-lin",
            recipient_username="lin",
            content=content,
            image_ids=image_ids,
            created_at=START,
        )

    assert message_text(sent("你好", [])) == "你好"
    assert message_text(sent("", ["f-1"])) == "[图片]"
    assert message_text(sent("看这个", ["f-1", "f-2"])) == "看这个 [图片 ×2]"
