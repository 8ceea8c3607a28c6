"""Recording and replaying the LLM's answers (aic_simulator.recording): the transport over loopback with
the scripted server, and whole runs of the default world through the community (auth, social, the
simulator with the LLM tier, lockstep) recorded, exported, imported into an empty database and replayed
with no server running, on SQLite and MariaDB; a fork that replays to its checkpoint and goes on live."""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Outbox
from aic_common.bus.tables import processed_messages_table
from aic_common.db import create_db_engine, create_session_factory
from aic_common.messages import SimCommand
from aic_common.migrations import downgrade, upgrade
from aic_common.testing import app_lifespan, free_port, wait_for
from aic_common.testing.fixtures import fresh_mysql_database
from aic_gateway.dev import build_dev_app
from aic_gateway.settings import GatewaySettings
from aic_simulator import cli
from aic_simulator.app import MIGRATIONS
from aic_simulator.llm import LlmPolicy, user_prompt
from aic_simulator.models import (
    ActionLog,
    Agent,
    GameEvent,
    KnownPerson,
    LlmAnswer,
    PersonInput,
    SeenPost,
    SimState,
    Stimulus,
)
from aic_simulator.policy import ActionKind, FeedItem, IncomingMessage, Option, Perception
from aic_simulator.recording import (
    AnswerStore,
    Mode,
    RecordingTransport,
    RunFileError,
    canonical,
    export_run,
    fork,
    import_run,
    read_run,
    request_key,
    write_run,
)
from aic_simulator.rules import RulePolicy
from aic_simulator.settings import SimulatorSettings
from aic_simulator.testing_llm import (
    ScriptedLlmServer,
    Step,
    answer,
    fixed,
    follows_plan,
    labelled_options_in,
    options_in,
    rate_limited,
    writes_chinese,
)
from aic_simulator.tiers import TieredPolicy
from aic_simulator.world import load_world_file, seed_world

START = SimulatorSettings().sim_start
WORLD = load_world_file(SimulatorSettings().world_file)
TEXT_ACTIONS = frozenset({"post", "comment", "message", "reply", "talk", "say", "goodbye"})
USERNAMES = {c["id"]: c["username"] for c in WORLD["characters"]}


# ---------------------------------------------------------------------- a model that does many things


def lively(request: dict[str, Any]) -> dict[str, Any]:
    """A stand-in model that keeps to its plan half the time and otherwise takes any option offered (a
    post, a like, a follow, a talk...), with a line made up for it: answers that exercise every target."""
    rng = random.Random(canonical(request["messages"])[0])  # the same in every run of the seed
    options = options_in(request)
    picked = follows_plan(request) if rng.random() < 0.5 or not options else rng.choice(options)
    zh = writes_chinese(request)
    line = rng.choice(
        ["今天风有点大。", "刚喝完一杯茶。", "想去海边走走。"] if zh else ["Windy today.", "Off for a walk."]
    )
    return {
        "action": picked["action"],
        "target": picked.get("target"),
        "content": line if picked["action"] in TEXT_ACTIONS else None,
        "reason": "scripted",
    }


# ---------------------------------------------------------------------- the transport


def sqlite_sessions(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'simulator.db'}"
    upgrade(MIGRATIONS, url)
    return sessions_of(url)


def llm(mode: Mode, sessions: sessionmaker[Session], base_url: str) -> LlmPolicy:
    """The LLM tier as the simulator builds it in ``mode``, its retries quick."""
    transport = RecordingTransport(mode, AnswerStore(sessions))
    client = httpx.AsyncClient(transport=transport, timeout=10)
    return LlmPolicy(base_url, "scripted", client=client, max_attempts=3, backoff_base=0.01, backoff_max=0.02)


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there


def perception(
    follow: str | None = None, at: int = 9, message: str | None = None, post_id: str = "7"
) -> Perception:
    """A moment of Lin Xiaoyu's morning; ``follow``: the account a follow option names; ``message``: the
    id of a message from 小红 she may reply to; ``post_id``: the id of Wang Lei's post in her feed."""
    options = [Option(ActionKind.post, None, "post something"), Option(ActionKind.rest, None, "rest")]
    if follow is not None:
        options.append(Option(ActionKind.follow, follow, "follow Wang Lei"))
    unread = []
    if message is not None:
        unread.append(IncomingMessage(message, str(uuid.UUID(int=5)), "小红", "咖啡馆几点关门?"))
        options.append(Option(ActionKind.reply, message, "reply:小红"))
    return Perception(
        agent_id="lin_xiaoyu",
        name="林小雨",
        persona={"occupation": "咖啡师", "interests": ["咖啡"]},
        sim_time=datetime(2026, 6, 1, at, 30),
        location_id="cafe",
        location_name="拾光咖啡馆",
        energy=0.8,
        sociability=0.6,
        mood=0.2,
        inventory=[],
        people_here=[],
        active_events=[],
        feed=[FeedItem(post_id, follow or "u-2", "王磊", "早市开了!")],
        unread_messages=unread,
        memories=[],
        options=options,
    )


def post(words: str) -> dict[str, Any]:
    return {"action": "post", "target": None, "content": words, "reason": "scripted"}


async def test_replay_answers_as_the_server_did_in_order_with_no_server(tmp_path: Path) -> None:
    sessions = sqlite_sessions(tmp_path)
    async with ScriptedLlmServer() as server:
        # Asked twice the same: a 429 with Retry-After first, then two different answers.
        server.script(
            rate_limited(times=1, retry_after=0.05), fixed(post("第一杯咖啡☕")), fixed(post("第二杯"))
        )
        recording = llm("record", sessions, server.base_url)
        first, first_trace = await recording.decide(perception())
        second, _ = await recording.decide(perception())
        calls = len(server.requests)

    replaying = llm("replay", sessions, closed_url())
    again, again_trace = await replaying.decide(perception())
    then, _ = await replaying.decide(perception())

    assert calls == 3 and (first.content, second.content) == ("第一杯咖啡☕", "第二杯")
    assert (again.content, then.content) == (first.content, second.content)
    # The 429 came back too, with its Retry-After: the client waited as it did.
    assert again_trace.detail["retry_waits"] == first_trace.detail["retry_waits"] == [0.05]
    with sessions() as session:
        rows = session.scalars(sa.select(LlmAnswer).order_by(LlmAnswer.id)).all()
    assert [(r.occurrence, r.status) for r in rows] == [(0, 429), (1, 200), (2, 200)]
    assert rows[0].headers["retry-after"] == "0.05" and rows[0].branch == "main"
    assert len({r.key for r in rows}) == 1 and rows[0].request["model"] == "scripted"


async def test_a_request_not_recorded_falls_back_to_the_rules_for_that_reason(tmp_path: Path) -> None:
    sessions = sqlite_sessions(tmp_path)
    async with ScriptedLlmServer(default=fixed(post("早安"))) as server:
        await llm("record", sessions, server.base_url).decide(perception(at=9))

    tiers = TieredPolicy([llm("replay", sessions, closed_url()), RulePolicy(7)], decision_timeout=5)
    recorded, recorded_trace = await tiers.decide(perception(at=9))
    _, later_trace = await tiers.decide(perception(at=10))  # a moment the run never lived

    assert recorded.content == "早安" and recorded_trace.tier == "llm"
    assert later_trace.tier == "rule" and later_trace.fallback_reason == "llm: not recorded"


async def test_a_replayed_answer_names_the_accounts_of_this_run(tmp_path: Path) -> None:
    sessions = sqlite_sessions(tmp_path)
    then, now = str(uuid.uuid4()), str(uuid.uuid4())
    follow = {"action": "follow", "target": then, "content": None, "reason": "scripted"}
    async with ScriptedLlmServer(default=fixed(follow)) as server:
        recorded, _ = await llm("record", sessions, server.base_url).decide(perception(follow=then))

    replayed, trace = await llm("replay", sessions, closed_url()).decide(perception(follow=now))

    assert recorded.target == then and replayed.target == now and trace.tier == "llm"


def test_a_request_is_keyed_by_its_content_not_by_the_order_of_its_keys_or_the_run_s_accounts() -> None:
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    body = {"model": "m", "temperature": 0.8, "messages": [{"role": "user", "content": f"follow {a} or {b}"}]}
    reordered = {
        "messages": [{"content": f"follow {c} or {a}", "role": "user"}],
        "temperature": 0.8,
        "model": "m",
    }
    assert request_key(body) == request_key(reordered)
    assert canonical(body)[1] == [a, b] and canonical(reordered)[1] == [c, a]
    assert request_key(body) != request_key({**body, "temperature": 0.2})
    assert request_key(body) != request_key({**body, "model": "other"})
    same_twice = {**body, "messages": [{"role": "user", "content": f"follow {a} or {a}"}]}
    assert request_key(same_twice) != request_key(body)  # one account named twice is not two accounts


def test_a_request_is_keyed_by_the_order_of_its_messages_not_their_ids_which_people_shift() -> None:
    def asked(message: str, post_id: str = "7") -> dict[str, Any]:
        prompt = user_prompt(perception(message=message, post_id=post_id), [])
        return {"model": "m", "messages": [{"role": "user", "content": prompt}]}

    # Another run's network, or a replayed person's message (its id negated): the same request.
    assert request_key(asked("12")) == request_key(asked("3")) == request_key(asked("-12"))
    assert canonical(asked("12")).messages == ["12"] and "<message 1>" in canonical(asked("12")).text
    assert request_key(asked("12")) != request_key(asked("12", post_id="8"))  # posts keep their ids


async def test_a_replayed_reply_answers_this_run_s_message(tmp_path: Path) -> None:
    sessions = sqlite_sessions(tmp_path)
    # A model answering with the action and its target rather than the option's id.
    reply = {"action": "reply", "target": "12", "content": "九点。", "reason": "scripted"}
    async with ScriptedLlmServer(default=Step("text", text=json.dumps(reply, ensure_ascii=False))) as server:
        recorded, _ = await llm("record", sessions, server.base_url).decide(perception(message="12"))

    replayed, trace = await llm("replay", sessions, closed_url()).decide(perception(message="-12"))

    assert (recorded.target, replayed.target, trace.tier) == ("12", "-12", "llm")


async def test_a_transport_error_is_replayed_as_the_recorded_run_met_it(tmp_path: Path) -> None:
    sessions = sqlite_sessions(tmp_path)
    recording = TieredPolicy([llm("record", sessions, closed_url()), RulePolicy(7)], decision_timeout=5)
    _, recorded = await recording.decide(perception())
    replaying = TieredPolicy([llm("replay", sessions, closed_url()), RulePolicy(7)], decision_timeout=5)
    _, replayed = await replaying.decide(perception())

    assert recorded.fallback_reason and "ConnectError" in recorded.fallback_reason
    assert replayed.fallback_reason == recorded.fallback_reason
    with sessions() as session:
        assert session.scalars(sa.select(LlmAnswer.body)).all() == ["ConnectError"] * 3


# ---------------------------------------------------------------------- the community


class Town:
    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.simulator = app.state.service_apps["simulator"]
        self.client = client  # the gateway, as people's browsers call it

    @property
    def simulation(self) -> Any:
        return self.simulator.state.simulation

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.simulator.state.runtime.session_factory

    async def live_until(self, moment: datetime) -> float:
        """Start once every character has its account, and pause when the clock has passed ``moment``;
        the wall seconds it lived."""
        await wait_for(lambda: self.simulation.is_leader, timeout=30, what="the simulator leads")

        def linked() -> bool:
            engine = self.simulation.engine
            return engine is not None and all(a.user_id for a in engine.world.agents.values())

        await wait_for(linked, timeout=30, what="every character has its account")
        started = time.perf_counter()
        await self.simulation.control(SimCommand.start)
        await wait_for(
            lambda: self.simulation.engine.world.sim_time >= moment,
            timeout=600,
            interval=0.2,
            what=f"simulated time {moment}",
        )
        await self.simulation.control(SimCommand.pause)
        return time.perf_counter() - started

    async def person(self, username: str, display_name: str) -> dict[str, str]:
        """A person's account, signed in, once the simulator knows it by its name: its request headers."""
        password = f"{username} passphrase 123"
        body = {"username": username, "email": f"{username}@example.com", "password": password}
        response = await self.client.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.text
        signing_in = {"username": username, "password": password}
        response = await self.client.post("/api/auth/login", json=signing_in)
        assert response.status_code == 200, response.text
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        named = {"display_name": display_name}
        response = await self.client.patch("/api/auth/me", json=named, headers=headers)
        assert response.status_code == 200, response.text

        def known() -> bool:
            with self.sessions() as session:
                person = session.scalar(sa.select(KnownPerson).where(KnownPerson.username == username))
                return person is not None and person.display_name == display_name

        await wait_for(known, timeout=30, what=f"the simulator knows {display_name}")
        return headers

    async def message(self, headers: dict[str, str], character: str, content: str) -> None:
        """A direct message to ``character``, once the social network knows its account (it may start
        after the simulator has linked it)."""
        username = USERNAMES[character]

        async def known() -> bool:
            return (await self.client.get(f"/api/users/{username}")).status_code == 200

        await wait_for(known, timeout=30, interval=0.1, what=f"the social network knows {username}")
        body = {"to": username, "content": content}
        response = await self.client.post("/api/messages", json=body, headers=headers)
        assert response.status_code == 201, response.text

    async def comment(self, headers: dict[str, str], post_id: str, content: str) -> None:
        response = await self.client.post(
            f"/api/posts/{post_id}/comments", json={"content": content}, headers=headers
        )
        assert response.status_code == 201, response.text

    def stimuli_from(self, username: str) -> list[tuple[str, str, str]]:
        """What reached the characters from ``username``: (agent, kind, content)."""
        with self.sessions() as session:
            rows = session.scalars(
                sa.select(Stimulus).where(Stimulus.from_username == username).order_by(Stimulus.id)
            )
            return [(s.agent_id, s.kind, s.content) for s in rows]

    def perceived(self) -> int:
        """How many messages from the bus the simulator's perception has applied."""
        with self.sessions() as session:
            return session.scalar(
                sa.select(sa.func.count())
                .select_from(processed_messages_table)
                .where(processed_messages_table.c.consumer == "simulator.perception")
            )


@contextlib.asynccontextmanager
async def town(data_dir: Path, **simulator: Any) -> AsyncIterator[Town]:
    settings = GatewaySettings(database_url="", broker_url="", data_dir=data_dir, env="dev")
    overrides = {"seed": 7, "speed": 0, "prelive_days": 0, "autostart": False, **simulator}
    app, _ = build_dev_app(settings, simulator=overrides)
    async with (
        app_lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
            base_url="http://dev",
            timeout=30,
        ) as client,
    ):
        yield Town(app, client)


def story(sessions: sessionmaker[Session], until: datetime) -> list[tuple[Any, ...]]:
    """The action log before ``until``: who did what when, to whom or what by meaning (account ids are
    new in every run), and what they said."""
    with sessions() as session:
        accounts = {a.user_id: f"agent {a.id}" for a in session.scalars(sa.select(Agent)) if a.user_id}
        accounts |= {p.user_id: f"person {p.username}" for p in session.scalars(sa.select(KnownPerson))}
        posts = {
            p.post_id: f"post by {p.author_username}: {p.content}"
            for p in session.scalars(sa.select(SeenPost))
        }
        messages = {
            s.ref_id: f"message from {s.from_username}: {s.content}"
            for s in session.scalars(sa.select(Stimulus).where(Stimulus.kind == "message"))
        }
        rows = session.scalars(
            sa.select(ActionLog).where(ActionLog.sim_time < until).order_by(ActionLog.decision)
        )
        meanings = {
            "follow": accounts,
            "unfollow": accounts,
            "message": accounts,
            "like": posts,
            "comment": posts,
        }
        meanings |= {"reply": messages, "goodbye": messages}
        return [
            (
                r.agent_id,
                r.sim_time.isoformat(),
                r.action,
                meanings.get(r.action, {}).get(r.target or "", r.target),
                r.content,
            )
            for r in rows
        ]


def tiers(sessions: sessionmaker[Session], until: datetime) -> list[tuple[str, str | None]]:
    with sessions() as session:
        rows = session.scalars(
            sa.select(ActionLog).where(ActionLog.sim_time < until).order_by(ActionLog.decision)
        )
        return [(r.tier, r.fallback_reason) for r in rows]


@pytest.fixture(params=["sqlite", "mysql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty simulator databases: the recorded run's and the one its export is imported into."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'recorded.db'}", f"sqlite:///{tmp_path / 'replayed.db'}"
        return
    server = str(request.getfixturevalue("mysql_server_url"))
    with fresh_mysql_database(server) as recorded, fresh_mysql_database(server) as replayed:
        yield recorded, replayed


def sessions_of(url: str) -> sessionmaker[Session]:
    return create_session_factory(create_db_engine(url))


# ---------------------------------------------------------------------- record, export, import, replay


@pytest.mark.e2e
async def test_a_replayed_run_tells_the_recorded_story_with_no_server_running(
    tmp_path: Path, databases: tuple[str, str]
) -> None:
    recorded_db, replayed_db = databases
    until = START + timedelta(days=1)
    exported = tmp_path / "run.json.gz"
    async with ScriptedLlmServer(default=answer(lively)) as server:
        async with town(
            tmp_path / "recorded",
            database_url=recorded_db,
            llm_base_url=server.base_url,
            llm_model=server.model,
            llm_mode="record",
        ) as t:
            recording = await t.live_until(until)
            recorded = story(t.sessions, until)
            recorded_tiers = tiers(t.sessions, until)
            write_run(export_run(t.sessions, WORLD, START), exported)
        calls = len(server.requests)

    # Elsewhere: an empty database, the file, and no server.
    document = read_run(exported)
    upgrade(MIGRATIONS, replayed_db)
    import_run(document, sessions_of(replayed_db), Outbox("simulator"))
    async with town(
        tmp_path / "replayed",
        database_url=replayed_db,
        llm_base_url=closed_url(),
        llm_model=server.model,
        llm_mode="replay",
    ) as t:
        replaying = await t.live_until(until)
        replayed = story(t.sessions, until)
        replayed_tiers = tiers(t.sessions, until)

    by_llm = sum(1 for tier, _ in recorded_tiers if tier == "llm")
    size = exported.stat().st_size
    print(
        f"\n{len(recorded)} decisions in a simulated day, {by_llm} by the LLM, {calls} calls recorded; "
        f"lived in {recording:.1f} s recording, {replaying:.1f} s replaying; exported: {size / 1024:.0f} KiB"
    )
    assert len(document["answers"]) == calls and len(document["log"]) >= len(recorded)
    assert by_llm > 200
    # Answers naming accounts, posts, messages, places and people nearby.
    assert {a for _, _, a, _, _ in recorded} >= {"follow", "message", "like", "comment", "move", "talk"}
    assert replayed == recorded
    assert replayed_tiers == recorded_tiers  # every LLM decision replayed, none fell back


# ---------------------------------------------------------------------- people's input

PERSON = ("xiaohong", "小红")
THANKS = {"zh": "谢谢你的留言!", "en": "Thanks for writing!"}


def answers_people(request: dict[str, Any]) -> dict[str, Any]:
    """``lively``, but a character a person wrote to answers the person whenever it may, and one whose
    post someone commented on answers at once (one comment at a time is on offer, the person's in turn)."""
    options = labelled_options_in(request)
    picked = next((o for o, label in options if label.startswith(f"reply:{PERSON[1]}")), None)
    picked = picked or next((o for o, label in options if label.startswith("answer:")), None)
    if picked is None:
        return lively(request)
    words = THANKS["zh" if writes_chinese(request) else "en"]
    return {"action": picked["action"], "target": picked.get("target"), "content": words}


@pytest.mark.e2e
async def test_a_replayed_run_gives_the_characters_what_people_said_when_they_heard_it(
    tmp_path: Path, databases: tuple[str, str]
) -> None:
    recorded_db, replayed_db = databases
    until = START + timedelta(days=1)
    exported = tmp_path / "run.json.gz"
    async with (
        ScriptedLlmServer(default=answer(answers_people)) as server,
        town(
            tmp_path / "recorded",
            database_url=recorded_db,
            llm_base_url=server.base_url,
            llm_model=server.model,
            llm_mode="record",
        ) as t,
    ):
        await t.live_until(START + timedelta(hours=3))
        person = await t.person(*PERSON)
        await t.message(person, "lin_xiaoyu", "你好,咖啡馆今天几点关门?")
        await wait_for(lambda: len(t.stimuli_from(PERSON[0])) == 1, timeout=30, what="the message heard")
        await t.live_until(START + timedelta(hours=9))
        with t.sessions() as session:  # another character's latest post
            others = {a.user_id: a for a in session.scalars(sa.select(Agent)) if a.id != "lin_xiaoyu"}
            post = session.scalar(
                sa.select(SeenPost)
                .where(SeenPost.author_id.in_(list(others)))
                .order_by(SeenPost.id.desc())
                .limit(1)
            )
            assert post is not None, "the characters posted by 16:00"
            owner = others[post.author_id]
        await t.message(person, "lin_xiaoyu", "那我明天早上再来。")
        await t.comment(person, post.post_id, "写得真好!")
        await wait_for(lambda: len(t.stimuli_from(PERSON[0])) == 3, timeout=30, what="both heard")
        await t.live_until(until)
        recorded = story(t.sessions, until)
        recorded_tiers = tiers(t.sessions, until)
        write_run(export_run(t.sessions, WORLD, START), exported)
        with t.sessions() as session:
            comment_answered = session.scalars(
                sa.select(Stimulus.handled).where(
                    Stimulus.from_username == PERSON[0], Stimulus.kind == "comment"
                )
            ).all()

    # Elsewhere, where 小红 has no account, and no server: someone else writes to 林小雨 meanwhile.
    document = read_run(exported)
    upgrade(MIGRATIONS, replayed_db)
    import_run(document, sessions_of(replayed_db), Outbox("simulator"))
    async with town(
        tmp_path / "replayed",
        database_url=replayed_db,
        llm_base_url=closed_url(),
        llm_model=server.model,
        llm_mode="replay",
    ) as t:
        stranger = await t.person("xiaoming", "小明")
        perceived = t.perceived()
        await t.message(stranger, "lin_xiaoyu", "在吗?")
        await wait_for(lambda: t.perceived() > perceived, timeout=30, what="the stranger's message")
        await t.live_until(until)
        replayed = story(t.sessions, until)
        replayed_tiers = tiers(t.sessions, until)
        stranger_heard = t.stimuli_from("xiaoming")

    from_person = f"message from {PERSON[0]}: "
    replies = [row for row in recorded if row[2] == "reply" and str(row[3]).startswith(from_person)]
    assert [(agent, content) for agent, _, _, _, content in replies] == [("lin_xiaoyu", THANKS["zh"])] * 2
    answered = (owner.id, "comment", f"post by {owner.username}: {post.content}")
    assert (*answered, THANKS[owner.persona["language"]]) in {(r[0], r[2], r[3], r[4]) for r in recorded}
    assert comment_answered == [True]
    assert replayed == recorded
    assert replayed_tiers == recorded_tiers
    assert not any(reason and "not recorded" in reason for _, reason in replayed_tiers)
    assert stranger_heard == []  # not part of the recorded run
    assert len(document["people"]) >= 3  # two messages and a comment (and the comment as a stimulus)


# ---------------------------------------------------------------------- a fork


def rests(request: dict[str, Any]) -> dict[str, Any]:
    """Another model: it rests whenever it may (and otherwise takes the first option)."""
    options = options_in(request)
    picked = next((o for o in options if o["action"] == "rest"), options[0] if options else {})
    return {
        "action": picked.get("action", "rest"),
        "target": picked.get("target"),
        "content": "嗯。",
        "reason": "tired",
    }


@pytest.mark.e2e
async def test_a_fork_replays_its_parent_up_to_the_checkpoint_and_asks_its_own_server_after(
    tmp_path: Path, databases: tuple[str, str]
) -> None:
    parent_db, fork_db = databases
    checkpoint = START + timedelta(hours=5)
    async with (
        ScriptedLlmServer(default=answer(answers_people)) as server,
        town(
            tmp_path / "parent",
            database_url=parent_db,
            llm_base_url=server.base_url,
            llm_model=server.model,
            llm_mode="record",
        ) as t,
    ):
        await t.live_until(START + timedelta(hours=2))
        person = await t.person(*PERSON)  # who has no account where the fork goes on
        await t.message(person, "lin_xiaoyu", "早上好,今天有新到的咖啡豆吗?")
        await wait_for(lambda: t.stimuli_from(PERSON[0]) != [], timeout=30, what="the message heard")
        await t.live_until(checkpoint)  # paused: its checkpoint holds every decision so far
        paused_at = t.simulation.engine.world.sim_time
        parent = story(t.sessions, paused_at)

    upgrade(MIGRATIONS, fork_db)
    made = fork(sessions_of(parent_db), sessions_of(fork_db), Outbox("simulator"), WORLD, START, "what-if")
    copied = len(made["answers"])

    async with ScriptedLlmServer(default=answer(rests)) as other:
        async with town(
            tmp_path / "fork",
            database_url=fork_db,
            llm_base_url=other.base_url,
            llm_model=server.model,  # the model is part of the key: the fork's answers are the parent's
            llm_mode="record",
        ) as t:
            await t.live_until(checkpoint + timedelta(hours=3))
            forked = story(t.sessions, paused_at)
            after = [row for row in story(t.sessions, checkpoint + timedelta(hours=3)) if row not in forked]
            with t.sessions() as session:
                rows = session.scalars(sa.select(LlmAnswer).order_by(LlmAnswer.id)).all()
                branches = {r.branch for r in rows}
        asked = len(other.requests)

    assert made["checkpoint"]["sim_time"] == paused_at.isoformat() and made["parent"] == "main"
    assert [entry["data"]["content"] for entry in made["people"]] == ["早上好,今天有新到的咖啡豆吗?"]
    assert any(action == "reply" and content == THANKS["zh"] for _, _, action, _, content in parent)
    assert forked == parent  # replayed up to the checkpoint, what the person wrote too
    assert asked > 0 and len(rows) == copied + asked  # then live, every new exchange recorded
    assert branches == {"what-if"}
    # After the checkpoint the fork's own model decided: it rests where it may (in a conversation it may
    # not, and how many are under way at the checkpoint varies) and says nothing but "嗯。", but for what
    # the parent had asked in its last tick before it paused (replayed from the parent's answers).
    assert any(action == "rest" for _, _, action, _, _ in after)
    last_tick = (paused_at + timedelta(minutes=15)).isoformat()
    odd = [row for row in after if row[2] != "rest" and row[4] not in (None, "", "嗯。")]
    assert all(at <= last_tick for _, at, *_ in odd), odd
    assert not any(content == "嗯。" for *_, content in parent)


# ---------------------------------------------------------------------- the migration


def test_migration_0007_adds_people_input_and_takes_it_away(database_url: str) -> None:
    upgrade(MIGRATIONS, database_url)
    engine = create_db_engine(database_url)
    try:
        entry = {
            "step": 3,
            "kind": "stimulus",
            "key": "stimulus:lin_xiaoyu:message:5",
            "data": {"content": "早"},
        }
        with create_session_factory(engine).begin() as session:
            session.add(PersonInput(**entry, delivered=False, created_at=START))
        with pytest.raises(sa.exc.IntegrityError), create_session_factory(engine).begin() as session:
            session.add(PersonInput(**entry, delivered=True, created_at=START))  # taken in once
        downgrade(MIGRATIONS, database_url, "0006")
        assert "people_input" not in sa.inspect(engine).get_table_names()
        upgrade(MIGRATIONS, database_url)
        assert "people_input" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_migration_0006_adds_llm_answers_and_takes_it_away(database_url: str) -> None:
    upgrade(MIGRATIONS, database_url)
    engine = create_db_engine(database_url)
    try:
        assert "llm_answers" in sa.inspect(engine).get_table_names()
        exchange = {"branch": "main", "key": "k", "request": {}, "status": 200, "headers": {}, "body": "{}"}
        with create_session_factory(engine).begin() as session:
            session.add(LlmAnswer(**exchange, occurrence=0, created_at=START))
        with pytest.raises(sa.exc.IntegrityError), create_session_factory(engine).begin() as session:
            session.add(LlmAnswer(**exchange, occurrence=0, created_at=START))  # one answer an occurrence
        downgrade(MIGRATIONS, database_url, "0005")
        assert "llm_answers" not in sa.inspect(engine).get_table_names()
        upgrade(MIGRATIONS, database_url)
        assert "llm_answers" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- the CLI


@pytest.fixture
def recorded_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    """The simulator database AIC_DATABASE_URL names: the default world, an operator's event, a checkpoint,
    four answers, two recorded before the checkpoint was written and two after, and two messages from a
    person, one written with the checkpoint and one after."""
    url = f"sqlite:///{tmp_path / 'simulator.db'}"
    monkeypatch.setenv("AIC_DATABASE_URL", url)
    monkeypatch.setenv("AIC_DATA_DIR", str(tmp_path))
    upgrade(MIGRATIONS, url)
    sessions = sessions_of(url)
    seed_world(sessions, Outbox("simulator"), WORLD, START)
    written = datetime(2026, 12, 1, 12, 0)
    with sessions.begin() as session:
        session.add(
            GameEvent(
                title="台风预警 · Typhoon warning",
                description="台风逼近 · A typhoon is coming",
                location_id=None,
                starts_at=START + timedelta(hours=3),
                ends_at=START + timedelta(hours=5),
                effects={},
                kind="hazard",
                source="admin",
                created_at=written,
            )
        )
        session.add(
            SimState(
                id=1,
                state="paused",
                sim_time=START + timedelta(hours=2),
                speed=60,
                seed=7,
                steps=40,
                decisions=80,
                updated_at=written,
            )
        )
        for minutes in (-2, -1, 1, 2):
            request = {"model": "scripted", "messages": [{"role": "user", "content": f"at {minutes}"}]}
            session.add(
                LlmAnswer(
                    branch="main",
                    key=request_key(request),
                    occurrence=0,
                    request=request,
                    status=200,
                    headers={"content-type": "application/json"},
                    body='{"choices": []}',
                    created_at=written + timedelta(minutes=minutes),
                )
            )
        for step, at in ((40, written), (41, written + timedelta(minutes=1))):
            words = f"heard at step {step}"
            data = {"agent_id": "lin_xiaoyu", "kind": "message", "ref_id": str(step), "content": words}
            key = f"stimulus:lin_xiaoyu:message:{step}"
            session.add(
                PersonInput(step=step, kind="stimulus", key=key, data=data, delivered=True, created_at=at)
            )
    return sessions


def people_input(sessions: sessionmaker[Session]) -> list[tuple[int, str, bool]]:
    with sessions() as session:
        rows = session.scalars(sa.select(PersonInput).order_by(PersonInput.id))
        return [(row.step, row.data["content"], row.delivered) for row in rows]


def test_aic_sim_export_and_import_carry_a_run_to_an_empty_database(
    recorded_database: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    exported = tmp_path / "run.json.gz"
    assert cli.main(["sim", "export", str(exported)]) == 0
    assert exported.read_bytes()[:2] == b"\x1f\x8b"  # gzipped
    document = read_run(exported)
    assert document["seed"] == 7 and document["start"] == START.isoformat() and document["branch"] == "main"
    assert len(document["answers"]) == 4 and [e["title"] for e in document["events"]] == [
        "台风预警 · Typhoon warning"
    ]
    assert [c["id"] for c in document["world"]["characters"]] == [c["id"] for c in WORLD["characters"]]
    assert [entry["step"] for entry in document["people"]] == [40, 41]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("AIC_DATABASE_URL", f"sqlite:///{elsewhere / 'simulator.db'}")
    capsys.readouterr()
    assert cli.main(["sim", "import", str(exported)]) == 0
    said = capsys.readouterr().out
    assert "AIC_LLM_MODE=replay" in said and "AIC_SEED=7" in said and "AIC_LLM_MODEL=scripted" in said
    assert load_world_file(tmp_path / "run.world.json") == WORLD
    imported = sessions_of(f"sqlite:///{elsewhere / 'simulator.db'}")
    with imported() as session, recorded_database() as original:

        def answers(s: Session) -> list[tuple[Any, ...]]:
            return [
                (a.key, a.occurrence, a.request, a.status, a.body)
                for a in s.scalars(sa.select(LlmAnswer).order_by(LlmAnswer.id))
            ]

        def events(s: Session) -> list[tuple[Any, ...]]:
            return [
                (e.id, e.key, e.title, e.starts_at, e.kind)
                for e in s.scalars(sa.select(GameEvent).order_by(GameEvent.id))
            ]

        assert answers(session) == answers(original)
        assert events(session) == events(original)  # the operator's event keeps its id, after the world's
        assert session.get(SimState, 1) is None  # the replay starts at the start
    # Each to be given to the characters at its step.
    assert people_input(imported) == [(40, "heard at step 40", False), (41, "heard at step 41", False)]

    assert cli.main(["sim", "import", str(exported)]) == 1  # only into an empty database
    assert "not empty" in capsys.readouterr().err


def test_aic_sim_fork_takes_the_answers_recorded_up_to_the_checkpoint(
    recorded_database: sessionmaker[Session], tmp_path: Path, capsys: Any
) -> None:
    target = f"sqlite:///{tmp_path / 'fork.db'}"
    with pytest.raises(SystemExit):
        cli.main(["sim", "fork", "--to", target])  # a fork starts at a checkpoint: it says so
    assert cli.main(["sim", "fork", "--from-checkpoint", "--to", target, "--branch", "calm"]) == 0
    said = capsys.readouterr().out
    assert "calm forked from main at 2026-06-01T09:00:00 (step 40)" in said and "AIC_LLM_MODE=record" in said
    with sessions_of(target)() as session:
        kept = session.scalars(sa.select(LlmAnswer).order_by(LlmAnswer.id)).all()
    assert [(a.branch, a.request["messages"][0]["content"]) for a in kept] == [
        ("calm", "at -2"),
        ("calm", "at -1"),
    ]
    assert people_input(sessions_of(target)) == [(40, "heard at step 40", False)]


def test_a_run_exported_by_the_version_before_is_imported_with_its_answers_keyed_as_now(
    recorded_database: sessionmaker[Session], tmp_path: Path
) -> None:
    document = export_run(recorded_database, WORLD, START)
    unread = 'Unread messages:\n- [12] 小红: 在吗?\n\no1. {"action": "reply", "target": "12"} — reply'
    asked = {"model": "scripted", "messages": [{"role": "user", "content": unread}]}
    answered = {**document["answers"][0], "key": "keyed-by-version-1", "request": asked}
    older = {**document, "version": 1, "answers": [answered, {**answered, "occurrence": 1}]}
    del older["people"]
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    upgrade(MIGRATIONS, url)

    import_run(older, sessions_of(url), Outbox("simulator"))

    with sessions_of(url)() as session:
        keys = [(a.key, a.occurrence) for a in session.scalars(sa.select(LlmAnswer).order_by(LlmAnswer.id))]
    assert keys == [(request_key(asked), 0), (request_key(asked), 1)]
    assert people_input(sessions_of(url)) == []
    with pytest.raises(RunFileError):
        import_run({**document, "version": 99}, sessions_of(url), Outbox("simulator"))
