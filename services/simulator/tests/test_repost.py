"""Characters repost: a post they read that fits (by someone they follow or like, about what they care
about), never their own, never twice, a couple a day at most; the quote in their own voice and language,
held to what anyone may hear; the LLM's option; the command sent to social."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aic_common.messages import RepostCommand
from aic_simulator.engine import REPOSTS_PER_DAY, Engine
from aic_simulator.llm import LlmError, decision_from, option_ids, user_prompt
from aic_simulator.memory import private_audience, remember
from aic_simulator.policy import ActionKind, Decision, DecisionTrace, Option, Perception
from aic_simulator.rules import RulePolicy, Why, choose, reason_code, write_content
from aic_simulator.settings import SimulatorSettings
from aic_simulator.state import AgentState, FeedEntry, LocationInfo, Relation, Stimulus, World
from aic_simulator.writer import (
    EventView,
    Scene,
    Speaker,
    WritingContext,
    compose_repost,
    language_of,
)

START = datetime(2030, 1, 1, 10, tzinfo=UTC)


def character(agent_id: str, language: str, interests: list[str]) -> AgentState:
    return AgentState(
        id=agent_id,
        username=agent_id,
        display_name=agent_id.capitalize(),
        user_id=f"u-{agent_id}",
        persona={"language": language, "interests": interests},
        home_id="home",
        location_id="cafe",
        energy=0.8,
        sociability=0.5,
        mood=0.0,
        current_action=None,
        current_decision=None,
        next_wake_at=START,
        importance_since_reflection=0.0,
        memory_seq=0,
    )


def town(*posts: tuple[str, str, str]) -> Engine:
    """小雨 (Chinese, likes coffee and photos) at the café follows 阿明; 老王 is a stranger to her.
    ``posts`` are (post id, author id, text), oldest first."""
    places = {
        "home": LocationInfo("home", "家", "Home", "home", 0, 0, 50, 0, 24),
        "cafe": LocationInfo("cafe", "咖啡馆", "Café", "cafe", 3, 4, 50, 0, 24),
    }
    agents = {
        "xiaoyu": character("xiaoyu", "zh", ["咖啡", "摄影"]),
        "aming": character("aming", "zh", ["咖啡"]),
        "laowang": character("laowang", "zh", ["钓鱼"]),
    }
    world = World(START, 0, "running", 1, 0, 0, places, {}, [], agents)
    world.follows.add(("u-xiaoyu", "u-aming"))
    for number, (post_id, author, text) in enumerate(posts):
        world.feed.append(FeedEntry(number + 1, post_id, f"u-{author}", author, text, START))
    return Engine(SimulatorSettings(data_dir=Path("/nonexistent")), None, RulePolicy(1), world)  # type: ignore[arg-type]


def reposts_offered(engine: Engine, agent_id: str = "xiaoyu") -> list[str | None]:
    perception = engine.perceive(engine.world.agents[agent_id])
    return [o.target for o in perception.options if o.action == ActionKind.repost]


def repost(
    engine: Engine, post_id: str, content: str | None = "值得一看。", agent_id: str = "xiaoyu"
) -> None:
    agent = engine.world.agents[agent_id]
    perception = engine.perceive(agent)
    decision = Decision(action=ActionKind.repost, target=post_id, content=content, reason=Why.repost)
    engine._apply(agent, perception, decision, DecisionTrace(tier="rule", latency_ms=0.1), engine.pending, 1)


def sent(engine: Engine) -> list[tuple[RepostCommand, str | None]]:
    pending = engine.pending
    return [
        (m, c)
        for m, c in zip(pending.messages, pending.correlations, strict=True)
        if isinstance(m, RepostCommand)
    ]


# ---------------------------------------------------------------------- which posts are offered


def test_a_fitting_post_by_someone_followed_is_offered_and_nothing_else() -> None:
    engine = town(
        ("1", "xiaoyu", "今天的咖啡拉花很成功"),  # its own
        ("2", "laowang", "咖啡豆到货了"),  # a stranger's
        ("3", "aming", "今天的球赛太精彩了"),  # a friend's, about nothing it cares about
        ("4", "aming", "新到的耶加雪菲咖啡，果香很明显"),
    )
    assert reposts_offered(engine) == ["4"]


def test_a_post_by_someone_it_likes_or_about_its_place_fits_too() -> None:
    engine = town(("5", "laowang", "咖啡馆门口的猫又来了"))  # its place, by someone not followed
    assert reposts_offered(engine) == []
    engine.world.agents["xiaoyu"].relations["u-laowang"] = Relation(affinity=0.4)
    assert reposts_offered(engine) == ["5"]


def test_a_post_is_reposted_once_and_a_character_reposts_at_most_twice_a_day() -> None:
    assert REPOSTS_PER_DAY == 2
    engine = town(
        ("4", "aming", "新到的耶加雪菲咖啡，果香很明显"),
        ("6", "aming", "雨天拍照的小技巧：摄影要找反光"),
        ("7", "aming", "手冲咖啡的水温我试了三种"),
    )
    first = reposts_offered(engine)[0]
    repost(engine, first or "")
    assert first not in reposts_offered(engine), "never the same post twice"
    second = reposts_offered(engine)[0]
    repost(engine, second or "", content=None)
    assert len({first, second}) == 2
    assert reposts_offered(engine) == [], "two a day at most"
    engine.world.sim_time = START + timedelta(days=1)
    [third] = {"4", "6", "7"} - {first, second}
    assert reposts_offered(engine) == [third], "a new day: the one post not passed on yet"


def test_only_the_public_feed_is_looked_at_never_what_came_in_private() -> None:
    """What a person wrote to the character in private (here about coffee, which it likes, and about a
    post of theirs) is never offered to pass on: only posts of the public feed are."""
    engine = town(("4", "aming", "新到的耶加雪菲咖啡，果香很明显"))
    agent = engine.world.agents["xiaoyu"]
    agent.stimuli.append(
        Stimulus(1, "message", "m-1", "9", "u-person", "someone", "我私下给你看：我那条咖啡的帖子先别转")
    )
    perception = engine.perceive(agent)
    assert [m.message_id for m in perception.unread_messages] == ["m-1"]
    assert reposts_offered(engine) == ["4"]


# ---------------------------------------------------------------------- the command and the log


def test_a_repost_sends_social_the_command_with_its_quote_and_is_logged() -> None:
    engine = town(("4", "aming", "新到的耶加雪菲咖啡，果香很明显"))
    repost(engine, "4", content="咖啡同好看过来。")
    [(command, correlation)] = sent(engine)
    assert command == RepostCommand(actor_id="u-xiaoyu", post_id="4", content="咖啡同好看过来。")
    [row] = engine.pending.action_logs
    assert row["action"] == "repost" and row["target"] == "4" and row["content"] == "咖啡同好看过来。"
    assert row["command_id"] == correlation == f"decision-{row['decision']}"
    assert reason_code(row["trace"]["reason"]) == "repost"
    agent = engine.world.agents["xiaoyu"]
    assert agent.relations["u-aming"].affinity > 0, "passing a friend's post on brings them closer"


def test_a_plain_repost_sends_an_empty_quote() -> None:
    engine = town(("4", "aming", "新到的耶加雪菲咖啡，果香很明显"))
    repost(engine, "4", content=None)
    [(command, _)] = sent(engine)
    assert command.content == ""


def test_a_quote_carrying_what_was_said_in_private_is_rewritten() -> None:
    engine = town(("4", "aming", "新到的耶加雪菲咖啡，果香很明显"))
    agent = engine.world.agents["xiaoyu"]
    secret = "小红私信对我说:我下个月要偷偷搬去杭州开一家花店"
    remember(agent, START, "conversation", secret, audience=private_audience("p9"))
    repost(engine, "4", content="转发！小红下个月要偷偷搬去杭州开一家花店")
    [(command, _)] = sent(engine)
    assert "杭州" not in command.content and "花店" not in command.content
    [row] = engine.pending.action_logs
    assert "privacy_guard" in row["trace"]["detail"]


# ---------------------------------------------------------------------- the rules and the writer


def perception_with(options: list[Option], language: str = "zh") -> Perception:
    engine = town(("4", "aming", "新到的耶加雪菲咖啡，果香很明显"))
    agent = engine.world.agents["xiaoyu"]
    agent.persona["language"] = language
    perception = engine.perceive(agent)
    perception.options = options
    return perception


def test_the_rules_sometimes_choose_an_offered_repost_and_say_why() -> None:
    offered = Option(ActionKind.repost, "4", "repost Aming's post")
    perception = perception_with([Option(ActionKind.browse, None, "browse the feed"), offered])
    chosen = [choose(perception, random.Random(seed)) for seed in range(200)]
    reposts = [why for option, why in chosen if option == offered]
    assert 20 < len(reposts) < 180
    assert set(reposts) == {Why.repost}


async def test_the_rule_policy_writes_the_quote_in_the_characters_language() -> None:
    perception = perception_with([Option(ActionKind.repost, "4", "repost Aming's post")])
    quotes = [write_content(perception, perception.options[0], random.Random(s)) for s in range(60)]
    assert all(q is not None for q in quotes)
    written = [q for q in quotes if q]
    assert 0 < len(quotes) - len(written) < 30, "now and then a plain repost"
    assert all(language_of(q) == "zh" for q in written), written
    decision, trace = await RulePolicy(3).decide(perception)
    assert decision.action == ActionKind.repost and trace.detail == {"rule": Why.repost}


def context(language: str, interests: list[str], hazard: bool = False) -> WritingContext:
    event = EventView("台风预警 · Typhoon warning", "hazard") if hazard else None
    return WritingContext(
        speaker=Speaker("Emma" if language == "en" else "小雨", language, {"interests": interests}),
        scene=Scene("Café" if language == "en" else "咖啡馆", "cafe", True, (), 10, event),
    )


@pytest.mark.parametrize(
    ("language", "interests", "post"),
    [
        ("zh", ["咖啡", "摄影"], "新到的耶加雪菲咖啡，果香很明显"),
        ("en", ["coffee", "photography"], "Tried a new pour-over recipe with Yirgacheffe beans this morning"),
    ],
)
def test_quotes_read_naturally_and_vary(language: str, interests: list[str], post: str) -> None:
    ctx = context(language, interests)
    quotes = [
        compose_repost(ctx, "阿明" if language == "zh" else "Ming", post, random.Random(s)) for s in range(80)
    ]
    written = [q for q in quotes if q]
    assert all(language_of(q) == language for q in written), written
    assert len(set(written)) >= 0.5 * len(written), "no template-sounding repetition"
    assert all("{" not in q for q in written)


def test_a_warning_is_passed_on_as_one() -> None:
    ctx = context("en", ["coffee"])
    quotes = {
        compose_repost(ctx, "Ming", "Typhoon warning: storm coming, stay indoors", random.Random(s))
        for s in range(30)
    }
    quotes.discard("")
    assert quotes and all(not q.startswith(("Good news", "Sharing the joy")) for q in quotes)


# ---------------------------------------------------------------------- the LLM's option


def test_the_llm_is_offered_the_repost_and_its_quote_is_optional() -> None:
    offered = Option(ActionKind.repost, "4", "repost 阿明's post")
    perception = perception_with([Option(ActionKind.rest, None, "rest"), offered])
    prompt = user_prompt(perception, [])
    line = next(line for line in prompt.splitlines() if '"repost"' in line)
    assert "转发语" in line and "null" in line
    option_id = next(i for i, o in option_ids(perception).items() if o == offered)
    quoted = decision_from(perception, {"option": option_id, "content": "咖啡同好看过来", "reason": "喜欢"})
    assert (quoted.action, quoted.target, quoted.content) == (ActionKind.repost, "4", "咖啡同好看过来")
    plain = decision_from(perception, {"option": option_id, "content": None, "reason": "喜欢"})
    assert plain.content is None
    blank = decision_from(perception, {"option": option_id, "content": "  ", "reason": ""})
    assert blank.content is None
    with pytest.raises(LlmError):
        decision_from(perception, {"option": option_id, "content": "字" * 2001, "reason": ""})
    rest = decision_from(perception, {"option": "o1", "content": "ignored", "reason": ""})
    assert rest.content is None, "content only where the option takes it"
