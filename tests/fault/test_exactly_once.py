"""10 000 simulator commands, each applied exactly once while social crashes and the broker restarts.

The commands go the way the simulator's own go: written to the simulator's outbox (producer
``simulator``, a ``decision-*`` correlation id) and published by the relay of the running simulator
process, over a RabbitMQ node of this test's own. Meanwhile social is SIGKILLed three times and the
node is restarted once. Afterwards every command id is in social's inbox once, every post, comment and
message carries the number of exactly one command, every like and follow is there, and social
announced each change with exactly one event.
"""

from __future__ import annotations

import collections
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from aic_common.bus import Outbox
from aic_common.messages import (
    CreateCommentCommand,
    CreatePostCommand,
    FollowCommand,
    LikeCommand,
    SendMessageCommand,
    SocialCommand,
)
from aic_common.testing import wait_until
from aic_common.testing.rabbitmq_node import RabbitNode
from aic_gateway.stack import SERVICES, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

COMMANDS = 10_000
SEED_POSTS = 150  # posts the likes and comments go to
LIKES = 1_500  # every (AI character, seed post) pair once
COMMENTS = 2_500
MESSAGES = 2_000
CHUNKS = 10
AI_CHARACTERS = 10  # the default world's
# The chunk during which each fault strikes.
FAULTS = {1: "kill social", 3: "kill social", 5: "restart the broker", 7: "kill social"}
TAG = re.compile(r"\[fault (\d+)\]")


@pytest.fixture
def command_stack(start_stack: Callable[..., Stack]) -> Stack:
    # The simulator and social, and auth for the AI characters' accounts; files plays no part.
    return start_stack(services=[spec for spec in SERVICES if spec.name != "files"])


@dataclass
class Ledger:
    """Every command sent, by id and by kind, and what social should hold once all are applied."""

    ids: set[str] = field(default_factory=set)
    posts: set[int] = field(default_factory=set)  # command numbers, carried in the content
    comments: set[int] = field(default_factory=set)
    messages: set[int] = field(default_factory=set)
    likes: set[tuple[int, str]] = field(default_factory=set)  # (post id, user id)
    follows: set[tuple[str, str]] = field(default_factory=set)  # (follower, followee)
    number: int = 0

    def tagged(self, text: str) -> tuple[int, str]:
        self.number += 1
        return self.number, f"[fault {self.number}] {text}"


class Social:
    """Reads social's database: what the commands did."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def scalar(self, sql: str, **params: object) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(sql), params).scalar_one())

    def rows(self, sql: str, **params: object) -> list[sa.Row]:
        statement = sa.text(sql).bindparams(
            *(sa.bindparam(name, expanding=True) for name, value in params.items() if isinstance(value, list))
        )
        with self.engine.connect() as conn:
            return list(conn.execute(statement, params))

    def applied(self) -> int:
        return self.scalar("SELECT COUNT(*) FROM processed_messages WHERE consumer = 'social.commands'")

    def ai_characters(self) -> list[str]:
        return [r.user_id for r in self.rows("SELECT user_id FROM profiles WHERE is_ai = 1 ORDER BY user_id")]

    def numbers(self, table: str, author_column: str, authors: list[str]) -> list[int]:
        rows = self.rows(
            f"SELECT content FROM {table} WHERE {author_column} IN :authors",
            authors=authors,
        )
        return [int(match.group(1)) for row in rows if (match := TAG.search(row.content))]


class SimulatorOutbox:
    """Writes commands where the simulator writes its own, for its relay to publish."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine)
        self.outbox = Outbox("simulator")
        self.decisions = 0

    def send(self, commands: list[SocialCommand], ledger: Ledger) -> None:
        with self.sessions.begin() as session:
            for command in commands:
                self.decisions += 1
                # As the engine does: the correlation id names the deciding action.
                envelope = self.outbox.add(
                    session, command, correlation_id=f"decision-fault-{self.decisions}"
                )
                ledger.ids.add(str(envelope.id))

    def unsent(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.text("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")).scalar_one()
            )


def plan_commands(
    ledger: Ledger, actors: list[str], seed_posts: list[int], count: int, rng: random.Random
) -> list[SocialCommand]:
    """A shuffled mix of every kind of command, each one valid, none a repeat of another."""
    commands: list[SocialCommand] = []
    for post_id in seed_posts:
        for actor in actors:
            ledger.likes.add((post_id, actor))
            commands.append(LikeCommand(actor_id=actor, post_id=str(post_id)))
    for follower in actors:
        for followee in actors:
            if follower != followee:
                ledger.follows.add((follower, followee))
                commands.append(FollowCommand(actor_id=follower, followee_id=followee))
    for _ in range(COMMENTS):
        number, text = ledger.tagged("评论:说得好,下次一起去看看 🌿")
        ledger.comments.add(number)
        commands.append(
            CreateCommentCommand(
                actor_id=rng.choice(actors), post_id=str(rng.choice(seed_posts)), content=text
            )
        )
    for _ in range(MESSAGES):
        sender, recipient = rng.sample(actors, 2)
        number, text = ledger.tagged("私信:今晚码头见?")
        ledger.messages.add(number)
        commands.append(SendMessageCommand(actor_id=sender, to_user_id=recipient, content=text))
    while len(commands) < count:
        number, text = ledger.tagged("动态:旧港的清晨,雾还没散 ☕")
        ledger.posts.add(number)
        commands.append(CreatePostCommand(actor_id=rng.choice(actors), content=text))
    rng.shuffle(commands)
    return commands


def test_ten_thousand_commands_are_applied_exactly_once_through_crashes_and_a_broker_restart(
    command_stack: Stack,
    private_rabbitmq: RabbitNode,
    stack_database: Callable[[Stack, str], sa.Engine],
) -> None:
    stack = command_stack
    social = Social(stack_database(stack, "social"))
    simulator = SimulatorOutbox(stack_database(stack, "simulator"))
    ledger = Ledger()
    rng = random.Random(uuid.uuid4().int)

    actors = wait_until(
        lambda: (found := social.ai_characters()) and len(found) == AI_CHARACTERS and found,
        timeout=90,
        interval=0.5,
        what="the AI characters' profiles in social",
    )

    # Posts first: the likes and comments need something to go to.
    seeds: list[SocialCommand] = []
    for _ in range(SEED_POSTS):
        number, text = ledger.tagged("开张啦!欢迎来坐坐")
        ledger.posts.add(number)
        seeds.append(CreatePostCommand(actor_id=rng.choice(actors), content=text))
    started = time.monotonic()
    simulator.send(seeds, ledger)
    wait_until(lambda: social.applied() == SEED_POSTS, timeout=60, interval=0.2, what="the seed posts")
    seed_posts = [r.id for r in social.rows("SELECT id FROM posts WHERE author_id IN :a", a=actors)]
    assert len(seed_posts) == SEED_POSTS

    commands = plan_commands(ledger, actors, seed_posts, COMMANDS - SEED_POSTS, rng)
    chunk_size = -(-len(commands) // CHUNKS)
    restarts: list[tuple[str, float]] = []
    for index in range(CHUNKS):
        chunk = commands[index * chunk_size : (index + 1) * chunk_size]
        before = len(ledger.ids)
        simulator.send(chunk, ledger)
        fault = FAULTS.get(index)
        if fault is None:
            continue
        if fault == "restart the broker":
            # While the simulator's relay is publishing this chunk and social consuming the last.
            wait_until(
                lambda chunk=chunk: simulator.unsent() < len(chunk),
                timeout=30,
                interval=0.05,
                what="the relay to publish",
            )
            began = time.monotonic()
            private_rabbitmq.restart()
        else:
            # In the middle of the chunk: transactions are open and messages unacknowledged.
            target = before + len(chunk) // 3
            wait_until(
                lambda target=target: social.applied() >= target, timeout=90, interval=0.05, what=fault
            )
            began = time.monotonic()
            stack.kill("social")
            stack.restart("social")  # from this (the starting) thread: see Stack.restart
        restarts.append((fault, time.monotonic() - began))

    assert len(ledger.ids) == COMMANDS
    wait_until(lambda: social.applied() == COMMANDS, timeout=240, interval=0.5, what="every command applied")
    elapsed = time.monotonic() - started
    wait_until(lambda: simulator.unsent() == 0, timeout=30, interval=0.2, what="the simulator's outbox sent")

    processed = {
        r.message_id
        for r in social.rows("SELECT message_id FROM processed_messages WHERE consumer = 'social.commands'")
    }
    assert processed == ledger.ids, (
        f"{len(ledger.ids - processed)} commands missing, {len(processed - ledger.ids)} unknown"
    )

    for table, author_column, expected in (
        ("posts", "author_id", ledger.posts),
        ("comments", "author_id", ledger.comments),
        ("messages", "sender_id", ledger.messages),
    ):
        found = collections.Counter(social.numbers(table, author_column, actors))
        repeated = {number: n for number, n in found.items() if n > 1}
        assert not repeated, f"{table} applied more than once: {sorted(repeated.items())[:10]}"
        assert set(found) == expected, f"{len(expected - set(found))} {table} missing"
    likes = {(r.post_id, r.user_id) for r in social.rows("SELECT post_id, user_id FROM likes")}
    assert likes == ledger.likes
    follows = {
        (r.follower_id, r.followee_id) for r in social.rows("SELECT follower_id, followee_id FROM follows")
    }
    assert follows == ledger.follows

    # Each change announced once, and no command refused.
    events = dict(
        social.rows(
            "SELECT message_type, COUNT(*) FROM outbox WHERE message_type IN "
            "('post.created', 'comment.created', 'message.sent', 'post.liked', 'user.followed', "
            "'social.command.rejected') GROUP BY message_type"
        )
    )
    assert events == {
        "post.created": len(ledger.posts),
        "comment.created": len(ledger.comments),
        "message.sent": len(ledger.messages),
        "post.liked": len(ledger.likes),
        "user.followed": len(ledger.follows),
    }
    assert all(stack.is_running(name) for name in stack.names)
    print(
        f"\n{COMMANDS} commands applied in {elapsed:.1f}s ({COMMANDS / elapsed:.0f}/s) through "
        + ", ".join(f"{what} ({seconds:.1f}s)" for what, seconds in restarts)
    )
