"""The rule-based policy: deterministic for a seed, in character, and always available.

Every decision draws from a random generator seeded by (seed, agent, simulated time), so the same seed
and the same steps give the same decisions however the engine schedules them. Turns come first (its
line in a talk, a person's message, a friend's message while the conversation is open), then what the
body needs (sleep in its hours, rest when tired), a hazard (go home), then the day's plan, which it
follows most of the time and leaves by a persona-weighted chance. Words come from the writer, built
from what is true at the moment (writer.py).
"""

from __future__ import annotations

import random
import time
from enum import StrEnum
from typing import Any

from aic_simulator.pictures.prompts import describe, subject_of_themes
from aic_simulator.policy import ActionKind, Decision, DecisionTrace, Option, Perception
from aic_simulator.writer import (
    WritingContext,
    compose_comment,
    compose_goodbye,
    compose_line,
    compose_opening,
    compose_post,
    compose_post_about,
    compose_reply,
    compose_repost,
    topic_for,
)

# How often a character leaves its plan for something else, by trait.
WANDERING_TRAITS = ("活泼", "爱拍照", "playful", "curious", "自由", "随性")
STEADY_TRAITS = ("细心", "认真", "克制", "calm", "concise", "严谨")
# Traits and interests of a character who photographs what it posts about.
PHOTO_LOVERS = ("爱拍照", "摄影", "photography", "photos", "painting", "画画", "美食", "food")
# The chance, each turn, that a conversation moves on to another subject.
CHANGE_SUBJECT = 0.15


class Why(StrEnum):
    """Why the rules chose an option. The log keeps the English text (``trace.reason``); the action
    log's API gives the member's name as ``reason_code``, which the console words in the reader's
    language."""

    say_goodbye = "time to say goodbye"
    keep_talking = "keep talking"
    answer_first = "someone wrote to me: answer first"
    end_conversation = "a good place to end the conversation"
    friend_wrote = "a friend wrote to me"
    answer_comment = "someone commented on my post"
    night = "night time"
    home_to_sleep = "time to go home and sleep"
    hazard = "a hazard: going home"
    spread_news = "passing the news on"
    tired = "tired"
    plan = "my plan"  # followed by ": " and what the plan says (trace.plan)
    at_work = "at work"
    event_here = "an event is on here"
    catch_up = "catch up on the feed"
    share = "share what is happening"
    talk = "talk to someone here"
    wander = "go somewhere else"
    like = "like a post"
    repost = "pass on a post I like"
    comment = "comment on a post"
    follow = "follow someone interesting"
    unfollow = "not my kind of posts"
    search = "look up something I like"
    reach_out = "reach out to a friend"
    pick_up = "something here caught my eye"
    use_item = "use something I have"
    take_break = "take a break"
    join_event = "join the event"


_WHY_BY_TEXT = {why.value: why for why in Why}


def reason_code(reason: str) -> str | None:
    """The code of a reason the rules wrote (see Why), None for any other text (an LLM's own words)."""
    if reason.startswith(f"{Why.plan}: "):
        return Why.plan.name
    why = _WHY_BY_TEXT.get(reason)
    return why.name if why else None


class RulePolicy:
    name = "rule"

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _rng(self, p: Perception) -> random.Random:
        # Not for security: a reproducible stream per (seed, agent, moment).
        return random.Random(f"{self.seed}:{p.agent_id}:{p.sim_time.isoformat()}")  # noqa: S311

    async def decide(self, perception: Perception) -> tuple[Decision, DecisionTrace]:
        started = time.perf_counter()
        rng = self._rng(perception)
        option, why = choose(perception, rng)
        picture = None
        if (
            option.action == ActionKind.post
            and perception.moment is not None
            and perception.writing is not None
        ):
            content, themes = compose_post_about(perception.writing, rng)  # the same words as write_content
            picture = self._picture(perception, themes)
        else:
            content = write_content(perception, option, rng)
        decision = Decision(
            action=option.action, target=option.target, content=content, reason=why, picture=picture
        )
        trace = DecisionTrace(
            tier="rule",
            latency_ms=(time.perf_counter() - started) * 1000,
            memories_used=[m.id for m in perception.memories],
            options_considered=[o.label or o.action.value for o in perception.options],
            detail={"rule": why},
        )
        return decision, trace

    def _picture(self, p: Perception, themes: tuple[str, ...]) -> str | None:
        """What the photo with a post shows, when the post is about something one can see; a character
        who loves taking photos nearly always adds one. Drawn apart from the words, which stay the same
        whether pictures are on or not."""
        subject = subject_of_themes(themes, p.moment)
        if subject is None:
            return None
        keen = any(term in PHOTO_LOVERS for term in _persona_terms(p.persona))
        rng = random.Random(f"{self.seed}:{p.agent_id}:{p.sim_time.isoformat()}:picture")  # noqa: S311
        return describe(p.moment, subject) if rng.random() < (0.9 if keen else 0.6) else None


def _persona_terms(persona: dict[str, Any]) -> list[str]:
    return [str(t).lower() for key in ("traits", "interests") for t in persona.get(key) or []]


def choose(p: Perception, rng: random.Random) -> tuple[Option, str]:
    by_kind: dict[ActionKind, list[Option]] = {}
    for option in p.options:
        by_kind.setdefault(option.action, []).append(option)

    def first(kind: ActionKind, label: str = "") -> Option | None:
        return next((o for o in by_kind.get(kind, []) if o.label.startswith(label)), None)

    if p.conversation is not None and (say := first(ActionKind.say)):
        talk = p.conversation
        if talk.turns + 1 >= talk.budget or p.energy < 0.15:
            return first(ActionKind.goodbye) or say, Why.say_goodbye
        return say, Why.keep_talking
    for reply in by_kind.get(ActionKind.reply, []):
        view = p.conversations.get(reply.target or "")
        if view is None or view.with_person:
            return reply, Why.answer_first
    for reply in by_kind.get(ActionKind.reply, []):
        view = p.conversations[reply.target or ""]
        if view.turns + 1 >= view.budget:
            goodbye = next(o for o in by_kind[ActionKind.goodbye] if o.target == reply.target)
            return goodbye, Why.end_conversation
        return reply, Why.friend_wrote
    if answer := first(ActionKind.comment, "answer"):
        return answer, Why.answer_comment
    if sleep := first(ActionKind.sleep):
        return sleep, Why.night
    if not p.awake and (home := first(ActionKind.move, "home")):
        return home, Why.home_to_sleep
    if p.hazard and (home := first(ActionKind.move, "home")):
        return home, Why.hazard
    if p.news and (post := first(ActionKind.post)) and rng.random() < (0.7 if p.hazard else 0.35):
        return post, Why.spread_news
    if p.energy < 0.2 and (rest := first(ActionKind.rest)):
        return rest, Why.tired
    steady = _steadiness(p)
    if (go := first(ActionKind.move, "plan:")) and rng.random() < steady:
        return go, f"{Why.plan}: {p.plan}"
    if (work := first(ActionKind.work)) and rng.random() < steady:
        return work, Why.at_work
    if (event := first(ActionKind.attend_event)) and p.sociability > 0.3 and rng.random() < 0.6:
        return event, Why.event_here
    weights: list[tuple[Option, float, str]] = []
    for option in p.options:
        weight, why = _weight(option, p)
        if weight > 0:
            weights.append((option, weight, why))
    total = sum(w for _, w, _ in weights)
    pick = rng.random() * total
    for option, weight, why in weights:
        pick -= weight
        if pick <= 0:
            return option, why
    return weights[-1][0], weights[-1][2]


def _steadiness(p: Perception) -> float:
    """How likely the character sticks to its plan rather than doing something else for a while."""
    traits = " ".join(map(str, p.persona.get("traits", [])))
    steady = 0.75
    steady -= 0.15 if any(t in traits for t in WANDERING_TRAITS) else 0.0
    steady += 0.1 if any(t in traits for t in STEADY_TRAITS) else 0.0
    return steady


def _weight(option: Option, p: Perception) -> tuple[float, str]:
    weight, why = _base_weight(option, p)
    if p.plan_activity == "work" and option.action in (ActionKind.move, ActionKind.attend_event):
        weight *= 0.15  # at work: leaving is the exception
    return weight, why


def _base_weight(option: Option, p: Perception) -> tuple[float, str]:
    social = 0.5 + p.sociability
    match option.action:
        case ActionKind.browse:
            return 2.0, Why.catch_up
        case ActionKind.post:
            return 1.6 * (0.5 + p.energy) * (1.3 if p.active_events else 1.0), Why.share
        case ActionKind.talk:
            # One talks more readily with a friend, and with someone who speaks one's language.
            name = option.label.removeprefix("talk with ")
            liking = 1.0 + p.affinity.get(name, 0.0)
            return 1.2 * social * liking * (0.3 if name in p.foreigners else 1.0), Why.talk
        case ActionKind.move:
            return (0.8 if option.label != "home" else 0.3), Why.wander
        case ActionKind.like:
            return 0.8, Why.like
        case ActionKind.repost:  # offered only for a post that fits, a couple of times a day
            return 0.6, Why.repost
        case ActionKind.comment:
            return 0.7 * social, Why.comment
        case ActionKind.follow:
            return 0.3, Why.follow
        case ActionKind.unfollow:
            return 0.2, Why.unfollow
        case ActionKind.search:
            return 0.25, Why.search
        case ActionKind.message:
            return 0.15 * social, Why.reach_out
        case ActionKind.pick_up:
            return 0.3, Why.pick_up
        case ActionKind.use_item:
            return 0.4, Why.use_item
        case ActionKind.work:
            return 1.5, Why.at_work
        case ActionKind.rest:
            return 0.4 + (1 - p.energy) * 2, Why.take_break
        case ActionKind.attend_event:
            return 1.5, Why.join_event
    return 0.0, ""


def write_content(p: Perception, option: Option, rng: random.Random) -> str | None:
    """The text the option needs, from the writer, built from what is true now (public memories only)."""
    ctx: WritingContext | None = p.writing
    if ctx is None:
        return None
    match option.action:
        case ActionKind.post:
            return compose_post(ctx, rng)
        case ActionKind.comment if option.label.startswith("answer:"):
            # Answering what someone said under its post (or where it was mentioned): to them, about that.
            commenter, said = p.answering.get(option.target or "", (option.label.split(":", 1)[-1], ""))
            return compose_comment(ctx, commenter, said, rng)
        case ActionKind.repost:
            post = next((f for f in p.feed if f.post_id == option.target), None)
            return compose_repost(ctx, post.author_name if post else "", post.content if post else "", rng)
        case ActionKind.comment:
            post = next((f for f in p.feed if f.post_id == option.target), None)
            return compose_comment(ctx, post.author_name if post else "", post.content if post else "", rng)
        case ActionKind.reply | ActionKind.goodbye if option.target in p.conversations:
            view = p.conversations[option.target or ""]
            if option.action == ActionKind.goodbye:
                return compose_goodbye(ctx, view.partner, view.topic or view.last_line, rng)
            if view.with_person or view.turns == 0:
                return compose_reply(ctx, view.partner, view.last_line, view.first_meeting, rng)
            return compose_line(
                ctx, view.partner, view.topic, view.last_line, rng.random() < CHANGE_SUBJECT, rng
            )
        case ActionKind.message:
            name = option.label.split(":", 1)[-1]
            return compose_opening(ctx, name, conversation_topic(p), False, rng)
        case ActionKind.talk:
            name = option.label.removeprefix("talk with ")
            return compose_opening(ctx, name, conversation_topic(p), name in p.strangers, rng)
        case ActionKind.say | ActionKind.goodbye if p.conversation is not None:
            talk = p.conversation
            if option.action == ActionKind.goodbye:
                return compose_goodbye(ctx, talk.partner, talk.topic, rng)
            return compose_line(
                ctx, talk.partner, talk.topic, talk.last_line, rng.random() < CHANGE_SUBJECT, rng
            )
    return None


def conversation_topic(p: Perception) -> str:
    """What a conversation the agent opens now is about: the same for its first line and its record."""
    if p.writing is None:
        return ""
    rng = random.Random(f"topic:{p.agent_id}:{p.sim_time.isoformat()}")  # noqa: S311 - reproducible
    return topic_for(p.writing, rng)
