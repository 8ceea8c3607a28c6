"""The rule-based policy: deterministic for a seed, in character, and always available.

Every decision draws from a random generator seeded by (seed, agent, simulated time), so the same
seed and the same steps give the same decisions however the engine schedules them. Needs come first
(answer who wrote to you, rest when tired), then what the place and the persona invite.
"""

from __future__ import annotations

import random
import time

from aic_simulator.policy import ActionKind, Decision, DecisionTrace, Option, Perception

ZH_POST = [
    "在{place}。{thought}{catch}",
    "{thought}——此刻在{place}。{emoji}",
    "今天的{place}{scene}。{catch}",
    "{event_line}{thought}",
]
EN_POST = [
    "At {place}. {thought} {catch}",
    "{thought} (from {place}) {emoji}",
    "{place} is {scene_en} today. {catch}",
    "{event_line}{thought}",
]
ZH_THOUGHTS = [
    "想到了{topic},心里暖暖的。",
    "关于{topic},有点新的想法。",
    "今天想聊聊{topic}。",
    "{topic}真是让人着迷。",
    "慢下来,感受一下{topic}。",
    "有人也喜欢{topic}吗?",
]
EN_THOUGHTS = [
    "Thinking about {topic} again.",
    "A small note on {topic}.",
    "Anyone else into {topic}?",
    "{topic} never gets old.",
    "Slowing down to enjoy {topic}.",
]
ZH_SCENES = ["很热闹", "很安静", "阳光正好", "有点忙碌", "人来人往", "弥漫着咖啡香"]
EN_SCENES = ["lively", "quiet", "sunny", "busy", "full of people", "smelling of coffee"]
ZH_REPLIES = [
    "{name},谢谢你的消息!你说的“{snippet}”,我也这么想。{catch}",
    "哈哈,{name}!关于“{snippet}”——{topic_line}{emoji}",
    "收到~ {name},“{snippet}”这个话题我很喜欢。改天在{place}聊聊?",
]
EN_REPLIES = [
    "Thanks for the message, {name}! About “{snippet}” — I feel the same. {catch}",
    "Ha, {name}! “{snippet}”… {topic_line} {emoji}",
    "Got it, {name}. “{snippet}” is a lovely thing to bring up. Catch up at {place} sometime?",
]
ZH_COMMENTS = ["说得真好!", "同感~", "哈哈,太有意思了", "{catch}", "想去看看!", "支持一下 👍"]
EN_COMMENTS = ["Love this!", "So true.", "Ha, brilliant.", "{catch}", "Now I want to go there!", "👍"]
EMOJI = ["☕", "🌿", "✨", "🎵", "🌸", "😊", "📷", "🌅"]


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
        option, why = self._choose(perception, rng)
        content = self._content(perception, option, rng)
        decision = Decision(action=option.action, target=option.target, content=content, reason=why)
        trace = DecisionTrace(
            tier="rule",
            latency_ms=(time.perf_counter() - started) * 1000,
            memories_used=[m.id for m in perception.memories],
            options_considered=[o.label or o.action.value for o in perception.options],
            detail={"rule": why},
        )
        return decision, trace

    # ------------------------------------------------------------------ choosing

    def _choose(self, p: Perception, rng: random.Random) -> tuple[Option, str]:
        by_kind: dict[ActionKind, list[Option]] = {}
        for option in p.options:
            by_kind.setdefault(option.action, []).append(option)

        def first(kind: ActionKind) -> Option | None:
            return by_kind.get(kind, [None])[0]

        if reply := first(ActionKind.reply):
            return reply, "someone wrote to me: answer first"
        answer = [o for o in by_kind.get(ActionKind.comment, []) if o.label.startswith("answer")]
        if answer:
            return answer[0], "someone commented on my post"
        rhythm = p.persona.get("daily_rhythm", {})
        hour = p.sim_time.hour
        asleep = not _awake(hour, int(rhythm.get("wake", 7)), int(rhythm.get("sleep", 23)))
        if (asleep or p.energy < 0.2) and (rest := first(ActionKind.rest)):
            home = [o for o in by_kind.get(ActionKind.move, []) if o.label == "home"]
            if home and asleep:
                return home[0], "time to go home and sleep"
            return rest, "tired" if not asleep else "night time"
        if (event := first(ActionKind.attend_event)) and p.sociability > 0.3:
            return event, "an event is on here"
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

    # ------------------------------------------------------------------ writing

    def _content(self, p: Perception, option: Option, rng: random.Random) -> str | None:
        persona = p.persona
        zh = p.language != "en"
        catch = rng.choice(persona.get("catchphrases") or [""])
        topics = persona.get("topics") or persona.get("interests") or ["生活" if zh else "life"]
        topic = rng.choice(topics)
        emoji = rng.choice(EMOJI)
        if option.action == ActionKind.post:
            events = p.active_events
            event_line = (f"{events[0]}!" if zh else f"{events[0]}! ") if events else ""
            template = rng.choice(ZH_POST if zh else EN_POST)
            if "{event_line}" in template and not event_line:
                template = (ZH_POST if zh else EN_POST)[0]
            thought = rng.choice(ZH_THOUGHTS if zh else EN_THOUGHTS).format(topic=topic)
            return template.format(
                place=p.location_name,
                thought=thought,
                catch=catch,
                emoji=emoji,
                event_line=event_line,
                scene=rng.choice(ZH_SCENES),
                scene_en=rng.choice(EN_SCENES),
            ).strip()
        if option.action in (ActionKind.reply, ActionKind.message):
            message = next((m for m in p.unread_messages if m.message_id == option.target), None)
            name = message.sender_name if message else (option.label.split(":", 1)[-1] or "")
            snippet = (message.content if message else topic)[:24]
            topic_line = f"我最近在想{topic}。" if zh else f"I've been thinking about {topic}."
            template = rng.choice(ZH_REPLIES if zh else EN_REPLIES)
            return template.format(
                name=name,
                snippet=snippet,
                catch=catch,
                topic_line=topic_line,
                emoji=emoji,
                place=p.location_name,
            )
        if option.action == ActionKind.comment:
            return rng.choice(ZH_COMMENTS if zh else EN_COMMENTS).format(catch=catch or "👍")
        if option.action == ActionKind.talk:
            return f"聊了聊{topic}" if zh else f"chatted about {topic}"
        return None


def _awake(hour: int, wake: int, sleep: int) -> bool:
    if sleep <= wake:  # sleeps after midnight
        return hour >= wake or hour < sleep
    return wake <= hour < sleep


def _weight(option: Option, p: Perception) -> tuple[float, str]:
    social = 0.5 + p.sociability
    match option.action:
        case ActionKind.browse:
            return 3.0, "catch up on the feed"
        case ActionKind.post:
            return 1.5 * (0.5 + p.energy) * (1.2 if p.active_events else 1.0), "share what is happening"
        case ActionKind.talk:
            return 2.0 * social, "talk to someone here"
        case ActionKind.move:
            return 1.2 if option.label != "home" else 0.4, "go somewhere else"
        case ActionKind.like:
            return 0.8, "like a post"
        case ActionKind.comment:
            return 0.6 * social, "comment on a post"
        case ActionKind.follow:
            return 0.3, "follow someone interesting"
        case ActionKind.message:
            return 0.3 * social, "reach out to a friend"
        case ActionKind.pick_up:
            return 0.4, "something here caught my eye"
        case ActionKind.use_item:
            return 0.5, "use something I have"
        case ActionKind.rest:
            return 0.6 + (1 - p.energy) * 2, "take a break"
        case ActionKind.attend_event:
            return 2.0, "join the event"
    return 0.0, ""
