"""Pictures with characters' posts, in the engine: which posts get one, the caps, the post held back
until its picture is stored (and sent without it when making it failed or took too long), the clock
never held by a slow server, what the trace keeps, and the LLM's part (its description, guarded)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from aic_common.messages import CreatePostCommand
from aic_common.testing import wait_for
from aic_simulator.engine import Engine
from aic_simulator.llm import decision_from, decision_schema, user_prompt
from aic_simulator.pictures.base import Moment, Picture, PictureFailed, PictureRequest
from aic_simulator.pictures.prompts import MEALS, describe, framed, subject_of_description, subject_of_themes
from aic_simulator.pictures.renderer import item_shape
from aic_simulator.pictures.studio import PictureStudio
from aic_simulator.policy import ActionKind, Decision, DecisionTrace, Option, Perception
from aic_simulator.rules import RulePolicy

from .test_engine import seeded_engine


class DrawingBackend:
    """Stands in for a backend: a tiny valid picture per request, named ``name`` (builtin is instant)."""

    def __init__(self, name: str = "builtin") -> None:
        self.name = name
        self.requests: list[PictureRequest] = []

    async def generate(self, request: PictureRequest) -> Picture:
        self.requests.append(request)
        return Picture(data=b"\x89PNG fake", content_type="image/png", backend=self.name, seed=request.seed)

    async def aclose(self) -> None:
        pass


class GatedBackend(DrawingBackend):
    """A server that answers when the test says so (or never)."""

    def __init__(self) -> None:
        super().__init__("comfyui")
        self.gate = asyncio.Event()

    async def generate(self, request: PictureRequest) -> Picture:
        await self.gate.wait()
        return await super().generate(request)


class FailingBackend(DrawingBackend):
    async def generate(self, request: PictureRequest) -> Picture:
        raise PictureFailed("bad_workflow", "ComfyUI refused the workflow: node 'Nope' does not exist")


class MemoryStore:
    """The files service, as far as the studio sees it: who stored which picture."""

    def __init__(self) -> None:
        self.stored: dict[str, tuple[str, Picture]] = {}

    async def store(self, owner_id: str, picture: Picture) -> str:
        file_id = str(uuid.uuid4())
        self.stored[file_id] = (owner_id, picture)
        return file_id


def with_studio(engine: Engine, backend: DrawingBackend, *, timeout: float = 30.0) -> MemoryStore:
    store = MemoryStore()
    engine.studio = PictureStudio(backend, store, concurrency=2, timeout_seconds=timeout)
    return store


def posts_sent(engine: Engine) -> list[tuple[CreatePostCommand, str | None]]:
    return [
        (message, correlation)
        for message, correlation in zip(engine.pending.messages, engine.pending.correlations, strict=True)
        if isinstance(message, CreatePostCommand)
    ]


def post_logs(engine: Engine) -> dict[int, dict]:
    return {log["decision"]: log for log in engine.pending.action_logs if log["action"] == "post"}


async def test_posts_about_what_one_can_see_carry_pictures_within_the_caps(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, RulePolicy(11), copies=1)
    engine.settings = engine.settings.model_copy(update={"picture_share": 0.5, "pictures_per_sim_hour": 3})
    backend = DrawingBackend()
    store = with_studio(engine, backend)
    for _ in range(400):
        await engine.step(refresh=False, checkpoint=False)
    sent = posts_sent(engine)
    logs = post_logs(engine)
    pictured = [(post, correlation) for post, correlation in sent if post.image_ids]
    assert len(sent) >= 20 and 0 < len(pictured) < len(sent)
    by_agent_day: Counter[tuple[str, object]] = Counter()
    all_by_agent_day: Counter[tuple[str, object]] = Counter()
    by_hour: Counter[object] = Counter()
    for post, correlation in sent:
        log = logs[int((correlation or "").removeprefix("decision-"))]
        key = (log["agent_id"], log["sim_time"].date())
        all_by_agent_day[key] += 1
        if not post.image_ids:
            continue
        by_agent_day[key] += 1
        by_hour[log["sim_time"].replace(minute=0, second=0)] += 1
        # Stored as the author, and the post waits for nothing else: the one file is its own.
        owner, _ = store.stored[post.image_ids[0]]
        assert owner == post.actor_id
        assert log["trace"]["picture"]["status"] == "making"  # when it posted
        picture = engine.pending.pictures[log["decision"]]  # what the checkpoint writes once it is sent
        assert picture["status"] == "attached" and picture["file_id"] == post.image_ids[0]
        assert picture["backend"] == "builtin" and picture["seed"] >= 0 and "generate_ms" in picture
        # The picture is taken where the post is written, of what the words are about.
        place = engine.world.locations[log["location_id"]]
        assert place.name_en in picture["prompt"]
        if picture["subject"] == "event":
            event = next(e for e in engine.world.events if e.title_in("en") in picture["prompt"])
            assert event.location_id == log["location_id"]
    assert max(by_hour.values()) <= 3
    for key, count in by_agent_day.items():
        assert count <= (all_by_agent_day[key] + 1) * 0.5, key
    # Each request's moment is the place and hour of its post; the operator's status counts them.
    assert len(backend.requests) == len(pictured)
    assert engine.studio is not None
    assert engine.studio.status() == {
        "backend": "builtin",
        "waiting": 0,
        "attached": len(pictured),
        "failed": {},
    }
    assert {r.moment.subject for r in backend.requests} <= {"place", "event", "item", "food", "sky"}


async def test_the_hourly_cap_holds_when_many_post_in_one_tick(tmp_path: Path) -> None:
    """Everyone due in a tick perceives before anyone posts: the caps are checked again as each posts."""
    engine = seeded_engine(tmp_path, RulePolicy(11), copies=1)
    engine.settings = engine.settings.model_copy(update={"picture_share": 1.0, "pictures_per_sim_hour": 2})
    with_studio(engine, DrawingBackend())
    due = [(agent, engine.perceive(agent)) for agent in engine.world.agents.values()]
    offered = [(agent, perception) for agent, perception in due if perception.moment is not None]
    assert len(offered) >= 4  # all perceived with the caps not reached
    for agent, perception in offered:
        posted = Decision(action=ActionKind.post, content="Morning!", picture="the view from here")
        engine._apply(
            agent, perception, posted, DecisionTrace(tier="rule", latency_ms=1.0), engine.pending, 1
        )
    with_pictures = [log for log in engine.pending.action_logs if "picture" in log["trace"]]
    assert len(with_pictures) == 2
    # The others went out at once, as text.
    assert len(posts_sent(engine)) == len(offered) - 2
    assert engine.studio is not None
    await engine.studio.wait()


async def test_no_pictures_when_the_hourly_cap_is_zero(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, RulePolicy(11), copies=1)
    engine.settings = engine.settings.model_copy(update={"pictures_per_sim_hour": 0})
    backend = DrawingBackend()
    with_studio(engine, backend)
    for _ in range(200):
        await engine.step(refresh=False, checkpoint=False)
    assert posts_sent(engine) and not backend.requests


async def test_a_failed_picture_leaves_the_post_without_it_and_the_reason_in_the_trace(
    tmp_path: Path,
) -> None:
    engine = seeded_engine(tmp_path, RulePolicy(11), copies=1)
    with_studio(engine, FailingBackend("builtin"))
    for _ in range(300):
        await engine.step(refresh=False, checkpoint=False)
    logs = post_logs(engine)
    failed = [log for log in logs.values() if "picture" in log["trace"]]
    assert failed
    sent = {correlation: post for post, correlation in posts_sent(engine)}
    for log in failed:
        # The trace the checkpoint writes: the engine's own row, then the update once the post is sent.
        outcome = engine.pending.pictures[log["decision"]]
        assert outcome["status"] == "failed" and outcome["reason"] == "bad_workflow"
        assert "does not exist" in outcome["error"]
        post = sent[f"decision-{log['decision']}"]
        assert post.image_ids == [] and post.content == log["content"]
    assert engine.studio is not None and engine.studio.status()["failed"] == {"bad_workflow": len(failed)}


async def test_a_slow_server_holds_neither_the_clock_nor_the_post_for_ever(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, RulePolicy(11), copies=1)
    backend = GatedBackend()
    with_studio(engine, backend)
    while not backend.requests and engine.studio.waiting == 0:  # type: ignore[union-attr]
        await engine.step(refresh=False, checkpoint=False)
    ordered = next(number for number, log in post_logs(engine).items() if "picture" in log["trace"])
    held = f"decision-{ordered}"
    clock = engine.world.sim_time
    for _ in range(20):  # the town goes on while the picture is being made
        await engine.step(refresh=False, checkpoint=False)
    assert engine.world.sim_time > clock
    assert held not in engine.pending.correlations
    backend.gate.set()
    await wait_for(lambda: engine.studio.waiting == 0 or _ready(engine), timeout=10)  # type: ignore[union-attr]
    await engine.step(refresh=False, checkpoint=False)
    post = next(p for p, correlation in posts_sent(engine) if correlation == held)
    assert len(post.image_ids) == 1
    assert engine.pending.pictures[ordered]["backend"] == "comfyui"


def _ready(engine: Engine) -> bool:
    studio = engine.studio
    return studio is not None and all(job.task is not None and job.task.done() for job in studio._jobs)


async def test_a_picture_that_takes_too_long_is_given_up(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, RulePolicy(11), copies=1)
    with_studio(engine, GatedBackend(), timeout=0.2)  # the gate never opens
    while not any("picture" in log["trace"] for log in post_logs(engine).values()):
        await engine.step(refresh=False, checkpoint=False)
    number = next(n for n, log in post_logs(engine).items() if "picture" in log["trace"])

    async def stepped_until_sent() -> bool:
        await engine.step(refresh=False, checkpoint=False)
        return number in engine.pending.pictures

    await wait_for(stepped_until_sent, timeout=20)
    assert engine.pending.pictures[number]["reason"] == "timeout"
    post = next(p for p, correlation in posts_sent(engine) if correlation == f"decision-{number}")
    assert post.image_ids == []


# ---------------------------------------------------------------------- what the picture is of


MARKET = Moment(
    place_id="market",
    place_name="Market",
    place_kind="market",
    hour=9,
    minute=0,
    event_title="Market opens",
    event_kind="market",
    item_name="Mooncake",
    item_kind="food",
)


def test_a_post_about_a_mood_has_no_picture_unless_the_light_is_worth_one() -> None:
    assert subject_of_themes(("mood",), MARKET) is None
    assert subject_of_themes(("read", "memory"), MARKET) is None
    assert subject_of_themes(("mood",), Moment("harbor", "Harbor", "harbor", 18, 10)) == "sky"
    stormy_sunset = Moment("harbor", "Harbor", "harbor", 18, 10, weather="storm")
    assert subject_of_themes(("mood",), stormy_sunset) is None
    # The first sentence one can photograph decides.
    assert subject_of_themes(("mood", "event", "item"), MARKET) == "event"
    assert subject_of_themes(("item", "event"), MARKET) == "food"
    assert subject_of_themes(("scene",), MARKET) == "place"
    # Words about the meal it is having: the plate, the place's dish when it holds nothing.
    lunch = Moment("cafe", "Moments Café", "cafe", 12, 30, activity="meal")
    assert subject_of_themes(("activity",), lunch) == "food"
    assert subject_of_themes(("activity",), replace(lunch, activity="work")) is None
    plate = framed(lunch, "food")
    assert plate.item_kind == "food" and plate.item_name and "latte" in describe(lunch, "food")
    assert subject_of_description(describe(lunch, "food"), lunch) == "food"
    # Every place's dish is one the built-in renderer draws as food (not a wrapped parcel).
    for kind in MEALS:
        assert item_shape(framed(replace(lunch, place_kind=kind), "food")) in ("coffee", "fruit", "mooncake")


def test_an_llm_description_is_read_against_what_is_there() -> None:
    assert subject_of_description("A half-eaten mooncake on my plate", MARKET) == "food"
    assert subject_of_description("The market opens, stalls full of lychees", MARKET) == "event"
    assert subject_of_description("Pink sky over the rooftops", MARKET) == "sky"
    assert subject_of_description("The street outside", MARKET) == "place"
    assert subject_of_description("My lunch: a bowl of noodles", MARKET) == "food"
    # The rules' own words say it exactly, whatever names they share ("the stalls of Market").
    for subject in ("event", "food", "sky", "place"):
        assert subject_of_description(describe(MARKET, subject), MARKET) == subject


def _perception(moment: Moment | None) -> Perception:
    return Perception(
        agent_id="emma_w",
        name="Emma",
        persona={"visual_style": "travel-journal photo"},
        sim_time=datetime(2026, 6, 1, 9),
        location_id="market",
        location_name="Market",
        energy=0.8,
        sociability=0.5,
        mood=0.2,
        inventory=[],
        people_here=[],
        active_events=["Market opens"],
        feed=[],
        unread_messages=[],
        memories=[],
        options=[Option(ActionKind.post, None, "post"), Option(ActionKind.rest, None, "rest")],
        language="en",
        moment=moment,
    )


def test_the_llm_is_asked_for_a_picture_only_when_a_post_may_carry_one() -> None:
    schema = decision_schema(_perception(MARKET))
    assert schema["properties"]["picture"] == {"type": ["string", "null"]}
    assert "picture" in schema["required"]  # strict mode wants every property required
    assert "picture" in user_prompt(_perception(MARKET), [])
    assert "picture" not in decision_schema(_perception(None))["properties"]
    assert "picture" not in user_prompt(_perception(None), [])
    answer = {"option": "o1", "content": "Lychees!", "reason": "fresh", "picture": "Lychees piled on a stall"}
    assert decision_from(_perception(MARKET), answer).picture == "Lychees piled on a stall"
    # Not offered, or not a post: no picture, whatever the answer says.
    assert decision_from(_perception(None), answer).picture is None
    rest = {**answer, "option": "o2", "content": None}
    assert decision_from(_perception(MARKET), rest).picture is None
    assert decision_from(_perception(MARKET), {**answer, "picture": "null"}).picture is None


class PictureTellingPolicy:
    """An LLM that posts with a photo whose description repeats what a person told it in private."""

    name = "llm"

    def __init__(self, secret: str) -> None:
        self.secret = secret

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        post = next((o for o in perception.options if o.action == ActionKind.post), None)
        option = post if post is not None and perception.moment is not None else perception.options[0]
        content = "What a morning at the market" if option.action == ActionKind.post else None
        if option.action in (ActionKind.talk, ActionKind.say, ActionKind.goodbye, ActionKind.message):
            content = "Hello"
        decision = Decision(
            action=option.action,
            target=option.target,
            content=content,
            picture=f"A note that reads {self.secret}" if option.action == ActionKind.post else None,
        )
        return decision, DecisionTrace(tier="llm", latency_ms=1.0)


async def test_a_picture_description_that_would_repeat_a_secret_is_dropped(tmp_path: Path) -> None:
    from aic_simulator.memory import private_audience, terms_of
    from aic_simulator.state import MemoryEntry

    secret = "my sister Lanlan is expecting twins"
    engine = seeded_engine(tmp_path, PictureTellingPolicy(secret), copies=1)
    for agent in engine.world.agents.values():  # each was told it in a private conversation
        agent.memories.append(
            MemoryEntry(
                seq=len(agent.memories) + 1,
                sim_time=engine.world.sim_time,
                kind="conversation",
                content=f"someone told me: {secret}",
                importance=8.0,
                terms=terms_of(secret),
                audience=private_audience("p-secret"),
            )
        )
    backend = DrawingBackend()
    with_studio(engine, backend)
    for _ in range(60):
        await engine.step(refresh=False, checkpoint=False)
    posts = list(post_logs(engine).values())
    assert posts
    assert not any(secret.split()[1] in r.prompt for r in backend.requests)
    guarded = [log for log in posts if "privacy_guard_picture" in log["trace"].get("detail", {})]
    assert guarded and all("picture" not in log["trace"] for log in guarded)
