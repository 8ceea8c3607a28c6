"""The bus contract, run by the same test bodies on both transports.

``inprocess`` runs on SQLite with the in-process transport (embedded mode); ``rabbit`` runs on a real
MariaDB/MySQL and a real RabbitMQ, the producer reaching the broker through a proxy that the test can
cut to make the broker unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import (
    BatchingInbox,
    Bus,
    BusUnavailable,
    InProcessBus,
    Outbox,
    OutboxRelay,
    apply_once_async,
    claim_message,
    on_control,
    on_events,
)
from aic_common.bus.rabbit import RabbitBus
from aic_common.bus.tables import messaging_metadata, outbox_table
from aic_common.db import create_db_engine, create_session_factory, new_metadata
from aic_common.messages import Envelope, SimCommand, SimControl, UserDeleted, UserRegistered, make_envelope
from aic_common.testing import TcpProxy, free_port, wait_for

pytestmark = pytest.mark.integration

test_metadata = new_metadata()
counters = sa.Table(
    "counters",
    test_metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)
DELIVERY_LIMIT = 3
OUTAGE_PAUSE = 0.05


def registered(username: str) -> UserRegistered:
    return UserRegistered(
        user_id=str(uuid.uuid4()), username=username, display_name=username, created_at=datetime.now(UTC)
    )


@dataclass
class Harness:
    """One transport plus a database, with a way to make the broker unreachable for the producer."""

    kind: str
    session_factory: sessionmaker[Session]
    make_bus: Callable[[], Bus]
    make_producer_bus: Callable[[], Bus]
    outage: Callable[[], contextlib.AbstractAsyncContextManager[None]]
    buses: list[Bus] = field(default_factory=list)

    async def started(self, bus: Bus) -> Bus:
        await bus.start()
        self.buses.append(bus)
        return bus


class FlakyInProcessBus:
    """The in-process bus seen through a link that a test can cut, as the proxy does for RabbitMQ."""

    def __init__(self, inner: InProcessBus) -> None:
        self.inner = inner
        self.namespace = inner.namespace
        self.down = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def start(self) -> None:  # the inner bus is started by its owner
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, envelope: Envelope) -> None:
        if self.down:
            raise BusUnavailable("link down")
        await self.inner.publish(envelope)


def _database(url: str) -> sessionmaker[Session]:
    engine = create_db_engine(url)
    messaging_metadata.create_all(engine)
    test_metadata.create_all(engine)
    return create_session_factory(engine)


@pytest.fixture(params=["inprocess", "rabbit"])
async def harness(request: pytest.FixtureRequest, bus_namespace: str) -> AsyncIterator[Harness]:
    if request.param == "inprocess":
        session_factory = _database(request.getfixturevalue("sqlite_url"))
        shared = InProcessBus(bus_namespace, delivery_limit=DELIVERY_LIMIT, outage_pause=OUTAGE_PAUSE)
        flaky = FlakyInProcessBus(shared)

        @contextlib.asynccontextmanager
        async def inprocess_outage() -> AsyncIterator[None]:
            flaky.down = True
            try:
                yield
            finally:
                flaky.down = False

        h = Harness("inprocess", session_factory, lambda: shared, lambda: flaky, inprocess_outage)  # type: ignore[arg-type]
        yield h
        await shared.stop()
        return

    session_factory = _database(request.getfixturevalue("mysql_url"))
    rabbit_url = request.getfixturevalue("rabbitmq_url")
    parsed = make_url(rabbit_url.replace("amqp://", "mysql://", 1))  # reuse the URL parser for host/port
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5672)
    await proxy.start()
    proxied_url = rabbit_url.replace(f"{parsed.host}:{parsed.port}", f"127.0.0.1:{proxy.port}")

    @contextlib.asynccontextmanager
    async def rabbit_outage() -> AsyncIterator[None]:
        await proxy.stop()
        try:
            yield
        finally:
            await proxy.start()

    h = Harness(
        "rabbit",
        session_factory,
        lambda: RabbitBus(
            rabbit_url, bus_namespace, delivery_limit=DELIVERY_LIMIT, outage_pause=OUTAGE_PAUSE
        ),
        lambda: RabbitBus(proxied_url, bus_namespace, delivery_limit=DELIVERY_LIMIT, publish_timeout=2.0),
        rabbit_outage,
    )
    yield h
    for bus in reversed(h.buses):
        with contextlib.suppress(Exception):
            await bus.stop()
    for bus in reversed(h.buses):
        if isinstance(bus, RabbitBus):
            with contextlib.suppress(Exception):
                await bus.delete_topology()
    await proxy.stop()


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Envelope] = []

    async def __call__(self, envelope: Envelope) -> None:
        self.seen.append(envelope)

    def usernames(self) -> list[str]:
        return [e.data.get("username") for e in self.seen]


async def _start_relay(h: Harness, bus: Bus) -> OutboxRelay:
    relay = OutboxRelay(h.session_factory, bus, poll_seconds=0.05, max_backoff_seconds=0.5)
    await relay.start()
    return relay


async def test_event_committed_while_broker_unreachable_is_delivered_later(harness: Harness) -> None:
    recorder = Recorder()
    consumer = harness.make_bus()
    consumer.subscribe("test.users", on_events("user.*"), recorder)
    await harness.started(consumer)
    producer = await harness.started(harness.make_producer_bus())
    relay = await _start_relay(harness, producer)
    outbox = Outbox("test")
    try:
        async with harness.outage():
            with harness.session_factory.begin() as session:
                session.execute(counters.insert().values(name="alice", value=1))
                outbox.add(session, registered("alice"))

            def attempted() -> bool:
                with harness.session_factory() as session:
                    return (session.scalar(sa.select(outbox_table.c.attempts)) or 0) >= 1

            await wait_for(attempted, timeout=30, what="a failed publish attempt")
            assert recorder.seen == []
        await wait_for(lambda: recorder.seen, timeout=30, what="delivery after the outage")
        assert recorder.usernames() == ["alice"]
        await wait_for(lambda: relay.pending_count() == 0, what="row marked sent")
    finally:
        await relay.stop()


async def test_rolled_back_change_publishes_nothing(harness: Harness) -> None:
    recorder = Recorder()
    consumer = harness.make_bus()
    consumer.subscribe("test.users", on_events("user.*"), recorder)
    await harness.started(consumer)
    producer = await harness.started(harness.make_producer_bus())
    relay = await _start_relay(harness, producer)
    outbox = Outbox("test")
    try:
        with pytest.raises(RuntimeError), harness.session_factory.begin() as session:
            session.execute(counters.insert().values(name="ghost", value=1))
            outbox.add(session, registered("ghost"))
            raise RuntimeError("the change fails after writing its event")
        with harness.session_factory.begin() as session:
            outbox.add(session, registered("marker"))
        await wait_for(lambda: "marker" in recorder.usernames(), timeout=20)
        assert recorder.usernames() == ["marker"]
        with harness.session_factory() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(counters)) == 0
    finally:
        await relay.stop()


def _outbox_usernames(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as session:
        payloads = session.scalars(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))
        return [Envelope.model_validate_json(p).data["username"] for p in payloads]


async def test_outbox_rows_follow_their_savepoints_and_commit_in_one_statement(harness: Harness) -> None:
    outbox = Outbox("test")
    engine = harness.session_factory.kw["bind"]
    inserts: list[int] = []

    def count_outbox_inserts(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            inserts.append(len(parameters) if executemany else 1)

    sa.event.listen(engine, "before_cursor_execute", count_outbox_inserts)
    try:
        with harness.session_factory.begin() as session:
            outbox.add(session, registered("kept-1"))
            with contextlib.suppress(LookupError), session.begin_nested():
                outbox.add(session, registered("lost-in-a-savepoint"))
                raise LookupError
            with session.begin_nested():
                outbox.add(session, registered("kept-2"))
            with contextlib.suppress(LookupError), session.begin_nested():
                with session.begin_nested():  # released, then rolled back with its parent
                    outbox.add(session, registered("lost-with-its-parent"))
                raise LookupError
            outbox.add(session, registered("kept-3"))
        assert inserts == [3], "the transaction's rows are written by one statement, at its commit"

        session = harness.session_factory()
        session.begin()
        outbox.add(session, registered("rolled-back"))
        session.rollback()
        with session.begin():  # the same session, a new transaction: nothing of the last one
            outbox.add(session, registered("kept-4"))
        session.close()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count_outbox_inserts)
    assert _outbox_usernames(harness.session_factory) == ["kept-1", "kept-2", "kept-3", "kept-4"]


async def test_same_message_twice_changes_state_once(harness: Harness) -> None:
    applied: list[str] = []

    def apply(session: Session, envelope: Envelope) -> None:
        name = envelope.data["username"]
        updated = session.execute(
            counters.update().where(counters.c.name == name).values(value=counters.c.value + 1)
        )
        if updated.rowcount == 0:
            session.execute(counters.insert().values(name=name, value=1))

    async def handler(envelope: Envelope) -> None:
        if await apply_once_async(harness.session_factory, "test-counter", envelope, apply):
            applied.append(envelope.data["username"])

    consumer = harness.make_bus()
    consumer.subscribe("test.counter", on_events("user.registered"), handler)
    await harness.started(consumer)
    publisher = await harness.started(harness.make_bus()) if harness.kind == "rabbit" else consumer

    twice = make_envelope(registered("bob"), "test")
    await publisher.publish(twice)
    await publisher.publish(twice)
    await publisher.publish(make_envelope(registered("marker"), "test"))
    await wait_for(lambda: "marker" in applied, timeout=20)

    with harness.session_factory() as session:
        value = session.scalar(sa.select(counters.c.value).where(counters.c.name == "bob"))
    assert value == 1
    assert applied.count("bob") == 1


async def test_a_batching_inbox_commits_together_and_fails_only_the_bad_message(harness: Harness) -> None:
    prefetch, count = 40, 60
    inbox = BatchingInbox(harness.session_factory, "test-batch", max_batch=25)
    attempts: dict[str, int] = {}
    holding = asyncio.Event()
    in_flight = 0
    most_in_flight = 0

    def apply(session: Session, envelope: Envelope) -> None:
        name = envelope.data["username"]
        attempts[name] = attempts.get(name, 0) + 1
        # A row inserted twice would break the primary key: what a rolled-back run wrote must be gone.
        session.execute(counters.insert().values(name=name, value=1))
        if name == "bad" and attempts[name] <= 2:
            # Fails in the batch's first run (no savepoints) and in its run again (in a savepoint), so its
            # first delivery fails; the redelivery succeeds.
            raise ValueError("the first delivery of this one fails")

    async def handler(envelope: Envelope) -> None:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        try:
            await holding.wait()  # until the test has seen the prefetch fill up
            await inbox.apply_once(envelope, apply)
        finally:
            in_flight -= 1

    consumer = harness.make_bus()
    consumer.subscribe("test.batch", on_events("user.registered"), handler, prefetch=prefetch)
    await harness.started(consumer)
    publisher = await harness.started(harness.make_bus()) if harness.kind == "rabbit" else consumer
    names = [f"u{i}" for i in range(count - 1)] + ["bad"]
    envelopes = [make_envelope(registered(name), "test") for name in names]
    for envelope in envelopes:
        await publisher.publish(envelope)
    await publisher.publish(envelopes[0])  # a duplicate, possibly in the same batch as the original

    await wait_for(lambda: in_flight == prefetch, timeout=20, what="the prefetch window filled")
    assert most_in_flight == prefetch, "the subscription's prefetch bounds what its consumer holds"
    holding.set()

    def stored() -> dict[str, int]:
        with harness.session_factory() as session:
            query = sa.select(counters.c.name, counters.c.value)
            return {name: value for name, value in session.execute(query)}

    rows = await wait_for(lambda: len(stored()) == count and stored(), timeout=30, what="every message")
    # Each committed once, the failed one rolled back alone and applied on its redelivery.
    assert rows == dict.fromkeys(names, 1)
    assert attempts["bad"] == 3, "its batch's first run, the run again in savepoints, the redelivery"
    assert all(attempts[name] <= 2 for name in names[:-1]), "run again at most once, with the bad one's batch"
    assert inbox.isolated_runs == 1
    assert inbox.batches < count / 2, f"{count} messages took {inbox.batches} transactions"


async def test_a_batching_inbox_uses_savepoints_only_from_a_failing_message_on(harness: Harness) -> None:
    # A savepoint costs two round trips: a batch whose messages all succeed is written without any; one
    # whose message fails is run again with savepoints from that message on, and only that one fails.
    savepoints: list[str] = []
    engine = harness.session_factory.kw["bind"]
    sa.event.listen(engine, "savepoint", lambda connection, name: savepoints.append(name))
    failing = {"bad"}

    def apply(session: Session, envelope: Envelope) -> None:
        name = envelope.data["username"]
        session.execute(counters.insert().values(name=name, value=1))
        if name in failing:
            raise ValueError("a message that cannot be applied")

    def stored() -> set[str]:
        with harness.session_factory() as session:
            return set(session.scalars(sa.select(counters.c.name)))

    inbox = BatchingInbox(harness.session_factory, "test-savepoints")
    good = [make_envelope(registered(f"g{i}"), "test") for i in range(6)]
    assert await asyncio.gather(*(inbox.apply_once(e, apply) for e in good)) == [True] * 6
    assert savepoints == [] and inbox.batches == 1 and inbox.isolated_runs == 0
    assert stored() == {f"g{i}" for i in range(6)}

    names = ["a0", "a1", "bad", "a3", "a4"]
    envelopes = [make_envelope(registered(name), "test") for name in names]
    outcomes = await asyncio.gather(*(inbox.apply_once(e, apply) for e in envelopes), return_exceptions=True)
    assert outcomes[:2] == [True, True] and outcomes[3:] == [True, True]
    assert isinstance(outcomes[2], ValueError)
    assert inbox.isolated_runs == 1 and inbox.batches == 2
    assert len(savepoints) == 3, "one a message from the failing one on"
    assert stored() == {f"g{i}" for i in range(6)} | {"a0", "a1", "a3", "a4"}


async def test_a_batching_inbox_records_an_error_its_recover_takes(harness: Harness) -> None:
    # A refusal (a broken rule) is an answer, not a failed delivery: the message's own work rolls back,
    # what recover writes commits with the batch, and the message counts as processed.
    def apply(session: Session, envelope: Envelope) -> None:
        name = envelope.data["username"]
        session.execute(counters.insert().values(name=name, value=1))
        if name == "refused":
            raise LookupError("a rule says no")
        if name == "broken":
            raise ValueError("not a rule: a bug")

    def recover(session: Session, envelope: Envelope, error: Exception) -> bool:
        if not isinstance(error, LookupError):
            return False
        session.execute(counters.insert().values(name=envelope.data["username"] + " (answered)", value=1))
        return True

    inbox = BatchingInbox(harness.session_factory, "test-recover", recover=recover)
    envelopes = [make_envelope(registered(name), "test") for name in ("a", "refused", "broken", "b")]
    outcomes = await asyncio.gather(*(inbox.apply_once(e, apply) for e in envelopes), return_exceptions=True)
    assert outcomes[:2] == [True, True] and outcomes[3] is True
    assert isinstance(outcomes[2], ValueError), "an error recover does not take fails its delivery"
    assert inbox.batches == 1
    with harness.session_factory() as session:
        assert set(session.scalars(sa.select(counters.c.name))) == {"a", "refused (answered)", "b"}
    # The refused message was claimed: a redelivery does nothing; the failed one is applied again.
    assert await inbox.apply_once(envelopes[1], apply) is False
    with pytest.raises(ValueError):
        await inbox.apply_once(envelopes[2], apply)


async def test_a_batching_inbox_prepares_each_batch_once_and_keeps_what_it_loaded(harness: Harness) -> None:
    class Loaded:  # stands for the ORM objects a prepare loads: alive only while referred to
        pass

    prepared: list[list[str]] = []
    alive_while_applying: list[bool] = []
    loaded_refs: list[weakref.ref[Loaded]] = []

    def prepare(session: Session, envelopes: list[Envelope]) -> Loaded:
        prepared.append([e.data["username"] for e in envelopes])
        loaded = Loaded()
        loaded_refs.append(weakref.ref(loaded))
        return loaded

    def apply(session: Session, envelope: Envelope) -> None:
        gc.collect()
        alive_while_applying.append(loaded_refs[-1]() is not None)

    inbox = BatchingInbox(harness.session_factory, "test-prepare", prepare=prepare)
    a, b, c = (make_envelope(registered(name), "test") for name in "abc")
    assert await inbox.apply_once(a, apply) is True
    assert await asyncio.gather(*(inbox.apply_once(e, apply) for e in (a, b, c))) == [False, True, True]
    assert prepared == [["a"], ["b", "c"]], "once a batch, with the messages not processed before"
    assert alive_while_applying == [True, True, True]
    gc.collect()
    assert all(ref() is None for ref in loaded_refs), "released once its batch is written"


async def test_a_message_another_consumer_claims_mid_batch_is_skipped_and_the_batch_commits(
    mysql_url: str,
) -> None:
    # Two replicas may hold the same message (a redelivery while the first is still writing). The one that
    # commits second finds the claim taken when it writes the batch's claims: it runs the batch again,
    # skipping that message, instead of failing every delivery in it. Two writers at once: MySQL only.
    session_factory = _database(mysql_url)
    envelopes = [make_envelope(registered(f"m{i}"), "test") for i in range(5)]
    contested = envelopes[2]
    applied: list[str] = []

    def apply(session: Session, envelope: Envelope) -> None:
        applied.append(envelope.data["username"])
        session.execute(counters.insert().values(name=envelope.data["username"], value=1))
        if envelope is contested and applied.count("m2") == 1:
            with session_factory.begin() as other:  # the other replica commits it meanwhile
                claim_message(other, "test-race", str(contested.id))

    inbox = BatchingInbox(session_factory, "test-race")
    try:
        outcomes = await asyncio.gather(*(inbox.apply_once(e, apply) for e in envelopes))
        assert outcomes == [True, True, False, True, True]
        with session_factory() as session:
            assert set(session.scalars(sa.select(counters.c.name))) == {"m0", "m1", "m3", "m4"}
        assert applied.count("m2") == 1 and applied.count("m0") == 2, "the batch ran again, once"
    finally:
        session_factory.kw["bind"].dispose()


async def test_message_that_always_fails_is_dead_lettered_and_the_queue_keeps_flowing(
    harness: Harness,
) -> None:
    attempts: dict[str, int] = {}
    handled: list[str] = []

    async def handler(envelope: Envelope) -> None:
        name = envelope.data["username"]
        attempts[name] = attempts.get(name, 0) + 1
        if name == "poison":
            raise ValueError("this message can never be applied")
        handled.append(name)

    consumer = harness.make_bus()
    consumer.subscribe("test.poison", on_events("user.deleted"), handler)
    await harness.started(consumer)
    publisher = await harness.started(harness.make_bus()) if harness.kind == "rabbit" else consumer

    poison = make_envelope(UserDeleted(user_id="1", username="poison"), "test")
    await publisher.publish(poison)
    await publisher.publish(make_envelope(UserDeleted(user_id="2", username="healthy"), "test"))

    await wait_for(lambda: "healthy" in handled, timeout=20, what="the next message")

    async def dead() -> list[Envelope]:
        return await consumer.dead_letters("test.poison")

    letters = await wait_for(dead, timeout=30, what="the poison message in the DLQ")
    assert [e.id for e in letters] == [poison.id]
    # Both transports count the same way: the first delivery plus DELIVERY_LIMIT redeliveries.
    assert attempts["poison"] == DELIVERY_LIMIT + 1
    assert attempts["healthy"] == 1


async def test_a_database_outage_holds_a_message_instead_of_dead_lettering_it(harness: Harness) -> None:
    """A handler whose database refuses connections more often than the delivery limit allows still
    applies the message once the database answers; nothing reaches the DLQ."""
    gone = create_db_engine(f"mysql+pymysql://root@127.0.0.1:{free_port()}/gone")  # nothing listens
    outage_attempts = DELIVERY_LIMIT + 3
    attempts: list[str] = []
    handled: list[str] = []

    async def handler(envelope: Envelope) -> None:
        attempts.append(envelope.data["username"])
        if len(attempts) <= outage_attempts:
            with gone.connect():  # refused: (2003, "Can't connect to MySQL server")
                pass
        handled.append(envelope.data["username"])

    consumer = harness.make_bus()
    consumer.subscribe("test.outage", on_events("user.deleted"), handler)
    await harness.started(consumer)
    publisher = await harness.started(harness.make_bus()) if harness.kind == "rabbit" else consumer
    await publisher.publish(make_envelope(UserDeleted(user_id="1", username="patient"), "test"))

    await wait_for(lambda: handled, timeout=30, what="the message applied after the outage")
    assert handled == ["patient"] and len(attempts) == outage_attempts + 1
    assert await consumer.dead_letters("test.outage") == []
    gone.dispose()


async def test_events_are_routed_by_topic_pattern(harness: Harness) -> None:
    users, posts, everything = Recorder(), Recorder(), Recorder()
    consumer = harness.make_bus()
    consumer.subscribe("test.users", on_events("user.*"), users)
    consumer.subscribe("test.posts", on_events("post.created"), posts)
    consumer.subscribe("test.all", on_events("#"), everything)
    await harness.started(consumer)
    publisher = await harness.started(harness.make_bus()) if harness.kind == "rabbit" else consumer

    await publisher.publish(make_envelope(registered("carol"), "test"))
    await publisher.publish(make_envelope(UserDeleted(user_id="9", username="dave"), "test"))
    # A control message goes to another exchange: '#' on events must not see it.
    with contextlib.suppress(BusUnavailable):
        await publisher.publish(make_envelope(SimControl(command=SimCommand.pause), "test"))
    await wait_for(lambda: len(everything.seen) == 2 and len(users.seen) == 2, timeout=20)
    assert posts.seen == []
    assert sorted(e.type for e in everything.seen) == ["user.deleted", "user.registered"]


async def test_a_live_consumer_handles_messages_in_the_order_they_were_published(harness: Harness) -> None:
    """Live streams of different gateway replicas must hold the same order, or a stream resumed on
    another replica repeats or skips events: even a handler that awaits sees them one by one."""
    seen: list[str] = []
    pauses = iter([0.0, 0.02, 0.0, 0.01] * 10)

    async def slow_now_and_then(envelope: Envelope) -> None:
        await asyncio.sleep(next(pauses))
        seen.append(envelope.data["username"])

    consumer = harness.make_bus()
    consumer.subscribe("test.live", on_events("user.registered"), slow_now_and_then, exclusive=True)
    await harness.started(consumer)
    publisher = await harness.started(harness.make_bus()) if harness.kind == "rabbit" else consumer
    names = [f"user{n:02d}" for n in range(40)]
    for name in names:
        await publisher.publish(make_envelope(registered(name), "test"))
    await wait_for(lambda: len(seen) == len(names), timeout=20, what="every message")
    assert seen == names


async def test_request_gets_the_handlers_reply(harness: Harness) -> None:
    async def control(envelope: Envelope) -> Envelope:
        return Envelope(type="sim.control.reply", producer="sim", data={"echo": envelope.data["command"]})

    consumer = harness.make_bus()
    consumer.subscribe("test.control", on_control("sim.control"), control)
    await harness.started(consumer)
    requester = await harness.started(harness.make_bus()) if harness.kind == "rabbit" else consumer

    reply = await requester.request(make_envelope(SimControl(command=SimCommand.status), "cli"), timeout=10)
    assert reply.data == {"echo": "status"}


async def test_ping_reports_a_started_bus(harness: Harness) -> None:
    bus = await harness.started(harness.make_bus())
    assert await bus.ping() is True


async def test_two_relays_on_one_outbox_publish_each_event_once(harness: Harness) -> None:
    recorder = Recorder()
    consumer = harness.make_bus()
    consumer.subscribe("test.users", on_events("user.*"), recorder)
    await harness.started(consumer)
    producers = [await harness.started(harness.make_bus()) for _ in range(2)]
    if harness.kind == "inprocess":
        producers = [consumer, consumer]
    outbox = Outbox("test")
    names = [f"user{i}" for i in range(300)]
    with harness.session_factory.begin() as session:
        for name in names:
            outbox.add(session, registered(name))
    relays = [
        OutboxRelay(harness.session_factory, bus, batch_size=25, poll_seconds=0.05) for bus in producers
    ]
    for relay in relays:
        await relay.start()
    try:
        await wait_for(lambda: len(recorder.seen) >= len(names), timeout=60, what="all events")
        await wait_for(lambda: relays[0].pending_count() == 0, what="all rows marked sent")
        assert sorted(recorder.usernames()) == sorted(names)
        assert sum(r.published for r in relays) == len(names)
    finally:
        for relay in relays:
            await relay.stop()


class HeldBus:
    """A producer whose publishes wait until the test lets them through."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.publishing = asyncio.Event()
        self.release = asyncio.Event()

    async def publish(self, envelope: Envelope) -> None:
        self.publishing.set()
        await self.release.wait()


async def test_writing_to_the_outbox_does_not_wait_for_the_relay_to_publish(
    mysql_url: str, bus_namespace: str
) -> None:
    # The relay holds its claimed rows locked while it publishes; a service writing new events meanwhile
    # (the next post, the next command's answer) must not queue up behind that. Row locks: MySQL only
    # (on SQLite one process lock serialises the relays).
    session_factory = _database(mysql_url)
    outbox = Outbox("test")
    with session_factory.begin() as session:
        outbox.add(session, registered("claimed"))
    held = HeldBus(bus_namespace)
    # Only a wake-up publishes in time: the row written meanwhile must not be left for the next poll.
    relay = OutboxRelay(session_factory, held, poll_seconds=600)  # type: ignore[arg-type]
    await relay.start()
    try:
        await asyncio.wait_for(held.publishing.wait(), 20)

        def write_another() -> None:
            with session_factory.begin() as session:
                session.execute(sa.text("SET SESSION innodb_lock_wait_timeout = 2"))
                outbox.add(session, registered("written meanwhile"))

        await asyncio.to_thread(write_another)  # a lock wait timeout (1205) after 2 s fails the test
        held.release.set()
        await wait_for(lambda: relay.pending_count() == 0, what="both rows published")
    finally:
        held.release.set()
        await relay.stop()
        session_factory.kw["bind"].dispose()


def test_a_relay_whose_event_loop_stops_mid_publish_gives_up_instead_of_waiting_forever(
    sqlite_url: str, bus_namespace: str
) -> None:
    """An app torn down mid-batch (its loop stopped, the publish still pending) must not leave the relay's
    worker thread waiting for confirms that can no longer come: the process could never exit."""
    session_factory = _database(sqlite_url)
    with session_factory.begin() as session:
        Outbox("test").add(session, registered("in flight"))
    held = HeldBus(bus_namespace)
    relay = OutboxRelay(session_factory, held, poll_seconds=0.05)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever)
    loop_thread.start()
    outcome: dict[str, BaseException] = {}

    def drain() -> None:
        try:
            relay._drain_batch(loop)
        except Exception as exc:
            outcome["error"] = exc

    drainer = threading.Thread(target=drain)
    drainer.start()
    try:
        asyncio.run_coroutine_threadsafe(held.publishing.wait(), loop).result(timeout=20)
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(timeout=5)
        drainer.join(timeout=10)
        assert not drainer.is_alive(), "the relay's thread gave up once the loop had stopped"
        assert "event loop stopped" in str(outcome["error"])
        assert relay.pending_count() == 1, "the batch rolled back: it is published again later"

        loop.close()  # and with its loop closed already, the relay refuses at once
        with pytest.raises(RuntimeError, match="closed"):
            relay._drain_batch(loop)
        assert relay.pending_count() == 1
    finally:
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(timeout=5)
        if not loop.is_closed():
            loop.close()
        session_factory.kw["bind"].dispose()


async def test_a_commit_that_wrote_to_the_outbox_wakes_the_relay_before_its_next_poll(
    sqlite_url: str, bus_namespace: str
) -> None:
    session_factory = _database(sqlite_url)
    bus = InProcessBus(bus_namespace)
    await bus.start()
    relay = OutboxRelay(session_factory, bus, poll_seconds=600)  # only a wake-up can publish in time
    wake_ups: list[None] = []
    notify = relay.notify
    relay.notify = lambda: (wake_ups.append(None), notify())[1]  # type: ignore[method-assign]
    drains: list[None] = []
    drain = relay.drain
    relay.drain = lambda: (drains.append(None), drain())[1]  # type: ignore[method-assign]
    await relay.start()
    try:
        with (
            session_factory.begin() as session,
            contextlib.suppress(LookupError),
            session.begin_nested(),
        ):
            Outbox("test").add(session, registered("rolled back"))
            raise LookupError
        assert wake_ups == [], "a commit whose outbox rows all rolled back wakes nobody"
        with session_factory.begin() as session:
            Outbox("test").add(session, registered("sent"))
            with contextlib.suppress(LookupError), session.begin_nested():
                raise LookupError  # a savepoint rolled back later does not cancel the wake-up
        assert len(wake_ups) == 1
        await wait_for(lambda: relay.published == 1, timeout=10, what="the row published at once")
        with session_factory.begin() as session:
            Outbox("test").add(session, registered("sent next"))
        await wait_for(lambda: relay.published == 2, timeout=10, what="the next row published at once")
        # One batch read at start and one per wake-up: a batch that was not full is not followed by
        # another read to find nothing (two transactions a published event instead of one).
        assert len(drains) == 3
    finally:
        await relay.stop()
        await bus.stop()
        session_factory.kw["bind"].dispose()
