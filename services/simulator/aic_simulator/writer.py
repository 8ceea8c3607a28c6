"""The rule-based writer: every text an AI character writes when no language model does.

Texts are grown from a grammar per language (aic_simulator.grammar) out of the character's real
context: where it is, whether the place is open, who else is there, the hour, the event on, what it is
doing, used, read and talked about. A frame is only used when every fact it names is known, and the
pools a frame may draw from are chosen by the situation (open or closed, alone or in company, day or
night, the event's kind), so a text never states what is false at that moment. Persona style (length,
emoji, catchphrases, asides) is applied last. Pure functions: the same context and rng state give the
same text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aic_simulator.grammar import GRAMMARS
from aic_simulator.grammar.subjects import (
    HAN,
    LATIN_WORD,
    fits,
    is_question,
    known_word,
    language_of,
    question_kind,
    subject_of,
)

__all__ = [
    "EventView",
    "Scene",
    "Speaker",
    "WritingContext",
    "compose_comment",
    "compose_goodbye",
    "compose_line",
    "compose_opening",
    "compose_post",
    "compose_reply",
    "compose_repost",
    "is_question",
    "language_of",
    "mask",
    "subject_of",
    "topic_for",
]

# ---------------------------------------------------------------------------------------------- API


@dataclass(frozen=True)
class EventView:
    title: str  # e.g. "早市开张 · Market opens" (bilingual titles use " · ")
    kind: str  # "gathering" | "market" | "show" | "hazard" | "announcement"
    description: str = ""


@dataclass(frozen=True)
class Scene:
    """What is true where and when the character writes."""

    place_name: str  # already in the writer's language
    # plaza, cafe, library, park, market, studio, gym, shop, school, clinic, bar, harbor, home
    place_kind: str
    place_open: bool
    people_here: tuple[str, ...]  # display names of others present now (may be empty)
    hour: int  # simulated hour 0-23
    event: EventView | None = None  # the event on here now, if any
    at_home: bool = False


@dataclass(frozen=True)
class Speaker:
    name: str  # display name
    language: str  # "zh" or "en"
    # keys as in default_world.json: occupation, interests, topics, catchphrases, writing_style...
    persona: dict[str, Any]
    mood: float = 0.0  # -1..1
    energy: float = 0.8  # 0..1


@dataclass(frozen=True)
class WritingContext:
    speaker: Speaker
    scene: Scene
    activity: str | None = None  # what the plan says it is doing, in its language
    read: tuple[tuple[str, str], ...] = ()  # (author display name, text) of posts it read recently
    item_used: str | None = None  # item name it just used, in its language
    talked_with: tuple[str, ...] = ()  # display names it talked with recently
    memories: tuple[str, ...] = ()  # memory texts this audience may see


def compose_post(ctx: WritingContext, rng: random.Random) -> str:
    """A public post about the character's moment."""
    return _Composer(ctx, rng).post()


def compose_post_about(ctx: WritingContext, rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """A post as compose_post writes it (the same draws), with the themes of its sentences in order
    (event, scene, item, activity, company, mood...): a picture shows what the words are about."""
    composer = _Composer(ctx, rng)
    return composer.post(), tuple(composer.themes_written)


def compose_comment(ctx: WritingContext, author: str, post_text: str, rng: random.Random) -> str:
    """A comment answering `post_text` by `author`: its subject, its question or its mood."""
    return _Composer(ctx, rng).comment(author, post_text)


def compose_repost(ctx: WritingContext, author: str, post_text: str, rng: random.Random) -> str:
    """The quote on a repost of `post_text` by `author`: why it is passed on, in a line; now and then
    nothing ("" is a plain repost)."""
    return _Composer(ctx, rng).repost(author, post_text)


def compose_opening(
    ctx: WritingContext, to_name: str, topic: str | None, first_meeting: bool, rng: random.Random
) -> str:
    """The first line of a conversation with `to_name` (a direct message or talk in person)."""
    return _Composer(ctx, rng).opening(to_name, topic, first_meeting)


def compose_reply(
    ctx: WritingContext, to_name: str, incoming: str, first_meeting: bool, rng: random.Random
) -> str:
    """An answer to `incoming`; a question is answered about its subject (see subject_of)."""
    return _Composer(ctx, rng).reply(to_name, incoming, first_meeting)


def compose_line(
    ctx: WritingContext,
    to_name: str,
    topic: str,
    last_line: str,
    change_subject: bool,
    rng: random.Random,
    new_topic: str | None = None,
) -> str:
    """A further turn: responds to `last_line` on `topic`, or moves on (to `new_topic` if given)."""
    return _Composer(ctx, rng).line(to_name, topic, last_line, change_subject, new_topic)


def compose_goodbye(ctx: WritingContext, to_name: str, topic: str, rng: random.Random) -> str:
    """The last line of a conversation, with a reason that fits the hour and what the speaker does."""
    return _Composer(ctx, rng).goodbye(to_name, topic)


def topic_for(ctx: WritingContext, rng: random.Random) -> str:
    """A conversation topic from the context: the event on, what it read, used, does, likes."""
    return _Composer(ctx, rng).topic()


_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|「[^」]*」|『[^』]*』")


def mask(text: str, names: Iterable[str]) -> str:
    """`text` with display names, quoted spans and digits masked, to count texts that differ in more."""
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        text = text.replace(name, "<N>")
    text = _QUOTED.sub("<Q>", text)
    return re.sub(r"\d+", "#", text)


def _side(text: str, language: str) -> str:
    """The `language` half of a bilingual "中文 · English" text (or of "咖啡师 barista")."""
    for sep in (" · ", "·"):
        if sep in text:
            halves = [h.strip() for h in text.split(sep) if h.strip()]
            return next(
                (h for h in halves if fits(h, language)), halves[-1] if language == "en" else halves[0]
            )
    if language == "en" and fits(text, language):
        return text
    if language == "zh" and not LATIN_WORD.search(text):
        return text
    if language == "en":
        return " ".join(w for w in text.split() if not HAN.search(w)).strip()
    return "".join(w for w in text.split() if HAN.search(w)).strip()


def _clean_phrase(text: str) -> str:
    return text.strip().rstrip("!！。.?？~～,，;； ").strip()


# -------------------------------------------------------------------------------------- the style


@dataclass(frozen=True)
class _Style:
    sentences: int  # how many sentences a text aims for: 1 short, 2 usual, 3 long
    emoji_rate: float
    emojis: tuple[str, ...]
    kaomoji: bool
    exclaim: bool
    tilde: bool
    asides: tuple[str, ...]  # pool keys of persona asides (proverbs, health tips, nerdy jokes...)
    catchphrases: tuple[str, ...]


_EMOJI = re.compile(
    "[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55\u3030\u303d\u2190-\u21ff]\ufe0f?", re.UNICODE
)
_ASIDE_CUES: tuple[tuple[str, str], ...] = (
    (r"诗词|古诗|引用|书面语|classical", "x_classical"),
    (r"俗语|口语", "x_proverb"),
    (r"健康|health", "x_health"),
    (r"nerd|geek|joke", "x_nerd"),
    (r"口号|slogan", "x_slogan"),
    (r"playful|witty|wry", "x_playful"),
    (r"诗意|poetic|haiku|颜色|光", "x_poetic"),
)


def _style_of(speaker: Speaker, language: str) -> _Style:
    persona = speaker.persona or {}
    phrases = tuple(c for c in (persona.get("catchphrases") or []) if isinstance(c, str))
    return _style(str(persona.get("writing_style") or ""), phrases, language)


@lru_cache(maxsize=256)
def _style(style: str, phrases: tuple[str, ...], language: str) -> _Style:
    low = style.lower()
    catchphrases = tuple(c for c in phrases if fits(c, language))
    own_emoji = tuple(dict.fromkeys(m.group(0) for m in _EMOJI.finditer(style + "".join(catchphrases))))
    wants_emoji = bool(re.search(r"emoji|颜文字|表情", low)) or bool(_EMOJI.search(style))
    rate = 0.55 if wants_emoji else 0.07
    if re.search(r"occasional\w*\s+emoji|偶尔.{0,4}(?:emoji|表情)|rare", low):
        rate = 0.25
    sentences = 2
    if re.search(r"短句|简洁|简短|克制|concise|short|terse|brief", low):
        sentences = 1
    elif re.search(r"长|详细|话多|long|detailed|chatty|verbose", low):
        sentences = 3
    asides = tuple(key for cue, key in _ASIDE_CUES if re.search(cue, low))
    return _Style(
        sentences=sentences,
        emoji_rate=rate,
        emojis=own_emoji,
        kaomoji="颜文字" in style or "kaomoji" in low,
        exclaim=bool(re.search(r"感叹|exclamation|!{2}|！", style)),
        tilde="~" in style or "～" in style,
        asides=asides,
        catchphrases=catchphrases,
    )


# ----------------------------------------------------------------------------------- the composer

_SLOT = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=8192)
def _slots(template: str) -> tuple[str, ...]:
    return tuple(_SLOT.findall(template))


@lru_cache(maxsize=4096)
def _domain(language: str, text: str) -> str | None:
    return GRAMMARS[language].domain_of(text)


def _bucket(hour: int) -> str:
    hour %= 24
    if hour >= 22:
        return "night"
    if hour <= 5:
        return "smallhours"
    if hour <= 10:
        return "morning"
    if hour <= 13:
        return "noon"
    if hour <= 17:
        return "afternoon"
    return "evening"


_WORK_CUE = re.compile(
    r"上班|工作|值班|干活|上课|教课|坐诊|看店|看摊|营业|出摊|训练课|带课|加班|"
    r"work|shift|teaching|class|on duty|at the stall|coding|writing the book|opening up",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"开心|高兴|喜欢|好吃|好喝|好看|太好了|真好|满足|幸福|舒服|不错|美|哈哈|棒|赞|"
    r"\b(?:happy|love|loved|lovely|great|wonderful|brilliant|delicious|beautiful|glad|enjoy\w*|fun|nice|perfect)\b",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"累|困|难过|伤心|烦|糟|头疼|生病|不舒服|失眠|郁闷|丢了|唉|"
    r"\b(?:tired|exhausted|sad|sick|awful|bad day|lost|worried|stressed|miss|missing|rough|ugh)\b",
    re.IGNORECASE,
)
_ART_SHOW = re.compile(r"画|展|作品|艺术|\bart\b|studio|exhibit|gallery|paint", re.IGNORECASE)
# plan labels that name an event (plans.py): said only while the scene has the event on
_EVENT_PLAN = re.compile(r"参加|躲一躲|\bgoing to .+ at\b|until it passes", re.IGNORECASE)
_HAZARD_WORDS = re.compile(
    r"雷阵雨|下雨|暴雨|大雨|雷雨|雷声|台风|风暴|乌云|危险|注意安全|"
    r"storm|thunder|\brain\b|flood|danger|stay safe",
    re.IGNORECASE,
)


class _Composer:
    """Writes one text for one context; holds the facts frames may name."""

    def __init__(self, ctx: WritingContext, rng: random.Random) -> None:
        self.ctx = ctx
        self.rng = rng
        self.lang = "en" if ctx.speaker.language == "en" else "zh"
        self.g = GRAMMARS[self.lang]
        self.style = _style_of(ctx.speaker, self.lang)
        scene = ctx.scene
        self.bucket = _bucket(scene.hour)
        self.night = self.bucket in ("night", "smallhours")
        self.home = scene.at_home or scene.place_kind == "home"
        self.event = scene.event
        self.hazard = bool(self.event and self.event.kind == "hazard")
        self.persona = ctx.speaker.persona or {}
        self.interests = self._persona_list("topics", "interests")
        self.my_domains = [d for d in (self._domain_of(t) for t in self._persona_terms()) if d]
        self.others = [p for p in ctx.scene.people_here if p and p != ctx.speaker.name]
        self.facts: dict[str, str] = {}
        self.avoid = ""  # the line being answered, lower case
        self.themes_written: list[str] = []  # a post's sentences' themes, in order
        self._set_facts()

    # ------------------------------------------------------------------ facts

    def _persona_list(self, *keys: str) -> list[str]:
        values: list[str] = []
        for key in keys:
            for value in self.persona.get(key) or []:
                if isinstance(value, str) and value and fits(value, self.lang) and value not in values:
                    values.append(value)
        return values

    def _persona_terms(self) -> list[str]:
        job = str(self.persona.get("occupation") or "")
        return [*self.interests, *([_side(job, self.lang)] if job else [])]

    def _set_facts(self) -> None:
        ctx, scene, facts = self.ctx, self.ctx.scene, self.facts
        facts["me"] = ctx.speaker.name
        facts["place"] = scene.place_name
        others = self.others
        if others:
            facts["person"] = self.rng.choice(others)
        if len(others) >= 2:
            facts["people"] = self._names(others)
        # a plan naming an event is said only while that event is the one on here
        on_here = _clean_phrase(_side(self.event.title, self.lang)) if self.event else ""
        names_an_event = bool(ctx.activity and _EVENT_PLAN.search(ctx.activity))
        if (
            ctx.activity
            and fits(ctx.activity, self.lang)
            and (not names_an_event or bool(on_here and on_here in ctx.activity))
        ):
            activity = _clean_phrase(ctx.activity)
            facts["activity"] = activity
            if self.lang == "zh" and re.match(r"(?:正在|在)..", activity):  # 在咖啡馆上班 -> 正在咖啡馆上班
                facts["act_core"] = re.sub(r"^(?:正在|在)", "", activity)
            elif self.lang == "en" and re.match(r"\w+ing\b", activity):  # "working at X", not "lunch at X"
                facts["act_ing"] = activity
        if ctx.item_used:
            facts["item"] = _item_name(_clean_phrase(ctx.item_used), self.lang)
        if ctx.talked_with:
            facts["talked"] = self.rng.choice(list(ctx.talked_with))
        if self.event:
            facts["event"] = _clean_phrase(_side(self.event.title, self.lang))
            if self.event.description:
                desc = _clean_phrase(_side(self.event.description, self.lang))
                if desc and fits(desc, self.lang):
                    facts["event_desc"] = desc
        job = _side(str(self.persona.get("occupation") or ""), self.lang)
        if job:
            facts["job"] = job
        if self.interests:
            picks = self.rng.sample(self.interests, k=min(2, len(self.interests)))
            facts["topic"] = facts["my_topic"] = picks[0]
            facts["topic2"] = picks[-1]
        else:
            facts["topic"] = facts["my_topic"] = facts["topic2"] = (
                self._place_topic() or self.g.pools["life"][0]
            )
        if note := self._domain_line(facts["topic"], "notes"):
            facts["note"] = note
        self._set_reading()
        if ctx.memories:
            memory = self.rng.choice(list(ctx.memories))
            subject = subject_of(memory, self.lang) if self._same_language(memory) else None
            if subject and fits(subject, self.lang):
                facts["mem_topic"] = subject
        facts["tod"] = self.pick(f"tod_{self.bucket}", "tod_night") or ""

    def _set_reading(self) -> None:
        if not self.ctx.read:
            return
        author, text = self.rng.choice(list(self.ctx.read))
        self.facts["author"] = author
        if not self._same_language(text):
            self.facts["foreign"] = "1"
            return
        subject = subject_of(text, self.lang)
        if subject and not self._salient(subject):
            subject = known_word(text, self.lang)
        if subject and fits(subject, self.lang):
            self.facts["read_topic"] = subject

    def _names(self, names: list[str]) -> str:
        shown = names[:3]
        if self.lang == "zh":
            if len(names) > 3:
                return "、".join(shown) + "他们"
            return "、".join(shown[:-1]) + "和" + shown[-1]
        if len(names) > 3:
            return ", ".join(shown) + " and others"
        return ", ".join(shown[:-1]) + " and " + shown[-1]

    def _domain_of(self, text: str | None) -> str | None:
        return _domain(self.lang, text) if text else None

    def _domain_line(self, text: str | None, part: str, **extra: str) -> str | None:
        domain = self._domain_of(text)
        if not domain:
            return None
        return self.pick_from(list(self.g.domains[domain].get(part, ())), **extra)

    def _place_topic(self) -> str | None:
        domain = self.g.place_domains.get(self.ctx.scene.place_kind)
        return self.g.domains[domain]["label"] if domain else None

    # ------------------------------------------------------------------ expansion

    def pick(self, *keys: str, **extra: str) -> str | None:
        """An expansion of the first pool among `keys` that has a frame whose facts are all known."""
        for key in keys:
            if text := self.pick_from(list(self.g.pools.get(key, ())), **extra):
                return text
        return None

    def pick_from(self, frames: list[str], **extra: str) -> str | None:
        facts = {**self.facts, **extra}
        usable = [f for f in frames if self._usable(f, facts, 0)]
        text = None
        for _ in range(4):  # a turn does not repeat what the other just said
            if not usable:
                break
            frame = self.rng.choice(usable)
            text = self._expand(frame, facts, 0)
            if not self.avoid or _clean_phrase(text).lower() not in self.avoid:
                return text
            usable.remove(frame)
        return text

    def _usable(self, template: str, facts: dict[str, str], depth: int) -> bool:
        for slot in _slots(template):
            if slot in facts:
                continue
            pool = self.g.pools.get(slot)
            if not pool or depth > 3 or not any(self._usable(f, facts, depth + 1) for f in pool):
                return False
        return True

    def _expand(self, template: str, facts: dict[str, str], depth: int) -> str:
        def fill(match: re.Match[str]) -> str:
            slot = match.group(1)
            if slot in facts:
                return facts[slot]
            usable = [f for f in self.g.pools[slot] if self._usable(f, facts, depth + 1)]
            return self._expand(self.rng.choice(usable), facts, depth + 1)

        return _SLOT.sub(fill, template)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # ------------------------------------------------------------------ finishing

    def finish(
        self, parts: list[str | None], *, catch: float = 0.25, emoji: bool = True, asides: bool = True
    ) -> str:
        sentences = [p.strip() for p in parts if p and p.strip()]
        if asides and self.style.asides and self.chance(0.3):
            key = self.rng.choice(list(self.style.asides))
            # daylight asides by day only; the evening shares the asides of any hour
            daylight = self.bucket in ("morning", "noon", "afternoon")
            aside = self.pick(f"{key}_night" if self.night else f"{key}_day" if daylight else key, key)
            if aside:
                sentences.append(aside)
        if self.style.catchphrases and self.chance(catch):
            phrase = self.rng.choice(list(self.style.catchphrases))
            if phrase not in "".join(sentences):
                sentences.append(phrase)
        text = self._join(sentences)
        text = self._punctuate(text)
        if emoji and self.chance(self.style.emoji_rate):
            text = self._add_emoji(text)
        return _tidy(text, self.lang)

    def _join(self, sentences: list[str]) -> str:
        if self.lang == "en":
            out = []
            for s in sentences:
                s = s[0].upper() + s[1:] if s and s[0].islower() else s
                if out and out[-1][-1:].isalnum():
                    out[-1] += "."
                out.append(s)
            return " ".join(out)
        out = []
        for s in sentences:
            if out and (out[-1][-1:].isalnum() or HAN.match(out[-1][-1:])):
                out[-1] += "。"
            out.append(s)
        return "".join(out)

    def _punctuate(self, text: str) -> str:
        if self.style.exclaim and self.chance(0.7):
            text = (
                text.replace("。", "！", 1 + self.rng.randrange(3))
                if self.lang == "zh"
                else _en_exclaim(text)
            )
        if self.style.tilde and self.lang == "zh" and self.chance(0.5):
            if text.endswith("。"):
                text = text[:-1] + "~"
            elif HAN.match(text[-1:]):
                text += "~"
        return text

    def _add_emoji(self, text: str) -> str:
        if self.style.kaomoji and self.chance(0.5):
            mark = self.pick("kaomoji") or ""
        else:
            topical = [self.g.domains[d]["emoji"] for d in self.my_domains if self.g.domains[d].get("emoji")]
            choices = list(self.style.emojis) * 2 + topical + list(self.g.pools["emoji_any"])
            mark = self.rng.choice(choices)
        if mark and mark in text:
            return text
        if self.lang == "zh":
            return re.sub(r"。$", "", text) + mark
        return f"{text} {mark}"

    # ------------------------------------------------------------------ posts

    def post(self) -> str:
        themes = self._post_themes()
        wanted = (
            self.style.sentences
            + (1 if self.chance(0.35) else 0)
            - (1 if self.style.sentences > 2 and self.chance(0.3) else 0)
        )
        parts: list[str | None] = []
        while themes and len(parts) < max(1, wanted):
            theme = self._weighted(themes)
            themes = [t for t in themes if t[0] != theme]
            sentence = self._post_sentence(theme)
            people = self.facts.get("people")
            if sentence and not (people and people in sentence and any(people in p for p in parts if p)):
                parts.append(sentence)  # a list of names once a post
                self.themes_written.append(theme)
        if not parts:
            parts.append(self.pick("muse"))
        if len(parts) < 3 and self.chance(0.25):
            parts.append(
                self.pick(
                    f"closer_{self.bucket}", "closer_night" if self.night else "closer_day", "closer_any"
                )
            )
        return self.finish(parts)

    def _post_themes(self) -> list[tuple[str, float]]:
        ctx, f = self.ctx, self.facts
        themes: list[tuple[str, float]] = [("muse", 2.5)]
        if self.event:
            themes.append(("event", 6.0 if self.hazard else 4.0))
        if not self.hazard:
            themes.append(("scene", 3.0))
        if "activity" in f:
            themes.append(("activity", 2.5))
        if "item" in f:
            themes.append(("item", 3.0))
        if "author" in f:
            themes.append(("read", 2.0))
        if "talked" in f:
            themes.append(("talked", 1.5))
        if "mem_topic" in f:
            themes.append(("memory", 1.0))
        if ctx.scene.people_here and not self.home and ctx.scene.place_open:
            themes.append(("company", 1.5))
        extreme = abs(ctx.speaker.mood) > 0.4 or ctx.speaker.energy < 0.3
        themes.append(("mood", 2.0 if extreme else 0.6))
        return themes

    def _weighted(self, themes: list[tuple[str, float]]) -> str:
        total = sum(w for _, w in themes)
        pick = self.rng.random() * total
        for name, weight in themes:
            pick -= weight
            if pick <= 0:
                return name
        return themes[-1][0]

    def _post_sentence(self, theme: str) -> str | None:
        builders: dict[str, Callable[[], str | None]] = {
            "muse": self._muse,
            "event": self._event_line,
            "scene": self._scene,
            "activity": lambda: self.pick("act_post", act_feel=self._act_feel()),
            "item": self._item_line,
            "read": self._read_line,
            "talked": lambda: self.pick("talk_post"),
            "memory": lambda: self.pick("memory_post"),
            "company": self._company,
            "mood": self._mood_line,
        }
        return builders[theme]()

    def _muse(self) -> str | None:
        topic = self.facts["topic"]
        if self.chance(0.45) and (line := self._domain_line(topic, "posts")):
            return line
        return self.pick("muse_note" if "note" in self.facts and self.chance(0.5) else "muse", "muse")

    def _scene(self) -> str | None:
        kind = self.ctx.scene.place_kind
        if self.home:
            return self.pick(f"home_{self.bucket}", "home_night" if self.night else "home_any", "home_any")
        if not self.ctx.scene.place_open:
            closed = self.pick(f"closed_{kind}", "closed_any")
            return self.pick("scene_closed", closed=closed or "")
        night = "_night" if self.night else ""
        amb = self.pick(f"amb_{kind}{night}", f"amb_any{night}")
        timebit = self.pick(f"time_{self.bucket}", "time_night")
        return self.pick("scene_open", amb=amb or "", timebit=timebit or "")

    def _company(self) -> str | None:
        if len(self.others) >= 2:
            return self.pick("company_crowd")
        if self.others:
            return self.pick("company_one")
        return None

    def _event_line(self) -> str | None:
        assert self.event is not None
        kind = self.event.kind
        crowd = len(self.others) >= 2
        if self.hazard and self.home:
            return self.pick("event_hazard_home")
        keys = [f"event_{kind}_crowd"] if crowd and self.chance(0.5) else []
        about = f"{self.event.title} {self.event.description}"
        show = (
            "show_bit_art" if _ART_SHOW.search(about) else "show_bit_music"
        )  # a jazz night is no exhibition
        return self.pick(*keys, f"event_{kind}", "event_gathering", show_bit=self.pick(show) or "")

    def _item_line(self) -> str | None:
        item = self.facts["item"]
        if self.chance(0.85) and (line := self._domain_line(item, "uses")):
            return line
        return self.pick("item_post")

    def _read_line(self) -> str | None:
        if "foreign" in self.facts:
            return self.pick("read_foreign")
        if "read_topic" in self.facts:
            mine = self._domain_of(self.facts["read_topic"]) in self.my_domains
            return self.pick("read_mine" if mine and self.chance(0.5) else "read_post", "read_post")
        return self.pick("read_plain")

    def _mood_line(self) -> str | None:
        speaker = self.ctx.speaker
        if speaker.energy < 0.3:
            key = "mood_tired"
        elif speaker.mood > 0.3:
            key = "mood_high"
        elif speaker.mood < -0.3:
            key = "mood_low"
        else:
            key = "mood_mid"
        return self.pick(f"{key}_night" if self.night else f"{key}_day", key)

    def _act_feel(self) -> str:
        energy = self.ctx.speaker.energy
        level = "low" if energy < 0.35 else "high" if energy > 0.7 else "mid"
        return self.pick(f"act_feel_{level}") or ""

    # ------------------------------------------------------------------ conversations

    def _greeting(self, to_name: str) -> str | None:
        return self.pick(
            f"greet_{self.bucket}", "greet_night" if self.night else "greet_any", "greet_any", to=to_name
        )

    def _intro(self, to_name: str) -> str | None:
        return self.pick("intro", to=to_name)

    def _own_topic(self, topic: str | None) -> str:
        """The topic if it is in the speaker's language, else one of its own (never mix languages);
        a whole line given as a topic is brought down to its subject."""
        if topic and fits(topic, self.lang):
            topic = _clean_phrase(topic)
            too_long = len(topic) > 12 if self.lang == "zh" else len(topic.split()) > 5
            return (subject_of(topic, self.lang) or self.topic()) if too_long else topic
        return self.topic()

    def opening(self, to_name: str, topic: str | None, first_meeting: bool) -> str:
        topic = self._own_topic(topic)
        facts = {"to": to_name, "topic": topic}
        parts: list[str | None] = []
        parts.append(self._intro(to_name) if first_meeting else self._greeting(to_name))
        here = to_name in self.ctx.scene.people_here and not self.home
        if here and self.chance(0.4):
            parts.append(self.pick("open_here", **facts))
        parts.extend(self._topic_opener(facts, lead=True))
        return self.finish(parts, catch=0.1, asides=False)

    def _topic_opener(self, facts: dict[str, str], *, lead: bool) -> list[str | None]:
        topic = facts["topic"]
        if self.event and topic == self.facts.get("event"):
            return [self.pick(f"open_event_{self.event.kind}", "open_event", **facts)]
        ask = self._domain_line(topic, "asks", **facts)
        if ask and self.chance(0.5):
            # a question of the topic's domain does not name the topic; a lead does when the topic is new
            if not lead or self.chance(0.5):
                return [self.pick("open_lead_topic", **facts), ask]
            return [self.pick("open_lead", **facts) if self.chance(0.5) else None, ask]
        return [self.pick("open_topic", **facts)]

    def reply(self, to_name: str, incoming: str, first_meeting: bool) -> str:
        parts: list[str | None] = []
        if first_meeting:
            parts.append(self._intro(to_name))
        elif self.chance(0.45):
            parts.append(self.pick("ack_name", to=to_name))
        if not self._same_language(incoming):
            parts.append(self.pick("foreign_reply", to=to_name))
            return self.finish(parts, catch=0.1, asides=False)
        self.avoid = incoming.lower()
        parts.extend(self._respond(to_name, incoming, self.facts["my_topic"]))
        return self.finish(parts, catch=0.15, asides=False)

    def _respond(self, to_name: str, incoming: str, topic: str) -> list[str | None]:
        """An answer to a question, or a reaction to a statement, then maybe a question back."""
        subject = subject_of(incoming, self.lang)
        parts: list[str | None] = []
        if is_question(incoming, self.lang) or question_kind(incoming, self.lang, subject) == "lost":
            answer, kind = self._answer(to_name, incoming, subject)
            parts.append(answer)
            if kind in _ASK_BACK_AFTER and answer and answer[-1:] not in "?？" and self.chance(0.35):
                parts.append(self.pick("ask_back", to=to_name))
            return parts
        facts = {"to": to_name, "topic": topic}
        if subject and not self._salient(subject):
            subject = known_word(incoming, self.lang)  # "the first hour" of a remark is no topic to take up
        if subject:
            facts["the_subject"] = _with_article(subject, self.lang)
            note = self._domain_line(subject, "notes") if self.chance(0.6) else None
            facts["subject"] = subject
            parts.append(self.pick("react_note" if note else "react_subject", note=note or "", **facts))
            if self.chance(0.4):
                parts.append(self._domain_line(subject, "asks", **facts) or self.pick("ask_subject", **facts))
        else:
            parts.append(self.pick(self._tone_key("react", incoming), "react_plain", **facts))
            if self.chance(0.5):
                parts.append(self.pick("share_topic", **facts))
        return parts

    def _tone_key(self, prefix: str, text: str) -> str:
        if _NEGATIVE.search(text):
            return f"{prefix}_neg"
        if _POSITIVE.search(text):
            return f"{prefix}_pos"
        return f"{prefix}_plain"

    def _answer(self, to_name: str, question: str, subject: str | None) -> tuple[str | None, str]:
        kind = question_kind(question, self.lang, subject)
        return self._answer_kind(to_name, kind, subject), kind

    def _answer_kind(self, to_name: str, kind: str, subject: str | None) -> str | None:
        facts: dict[str, str] = {"to": to_name}
        if subject:
            facts["subject"] = subject
            facts["the_subject"] = _with_article(subject, self.lang)
        if kind == "wellbeing":
            speaker = self.ctx.speaker
            level = (
                "low"
                if speaker.energy < 0.35 or speaker.mood < -0.3
                else "high"
                if speaker.mood > 0.3
                else "mid"
            )
            return self.pick(f"ans_well_{level}", "ans_well_mid", **facts)
        if not subject:
            return self.pick(f"ans_{kind}_none", "ans_nosubject", **facts)
        related = self._domain_of(subject) in self.my_domains or any(
            t.lower() in subject.lower() or subject.lower() in t.lower() for t in self._persona_terms() if t
        )
        domain_rec = self._domain_line(subject, "recs")
        note = self._domain_line(subject, "notes")
        if note:
            facts["note"] = note
        if domain_rec:
            facts["rec"] = domain_rec
        here = self._names_place(subject)
        if kind in ("yesno", "invite", "question", "habit") and (here or self._names_event(subject)):
            return self.pick("ans_here_event" if self._names_event(subject) else "ans_here", **facts)
        match kind:
            case "recommend":
                key = (
                    "ans_recommend_known"
                    if related
                    else "ans_recommend_hedged"
                    if domain_rec
                    else "ans_recommend_unsure"
                )
                return self.pick(key, "ans_recommend_unsure", **facts)
            case "hours" if here:
                return self.pick(
                    "ans_hours_open" if self.ctx.scene.place_open else "ans_hours_closed", **facts
                )
            case "hours" | "where" | "lost" | "plans" | "invite" | "doing" | "meet":
                return self.pick(f"ans_{kind}", **facts)
            case "weather":
                key = (
                    "ans_weather_hazard"
                    if self.hazard
                    else "ans_weather_night"
                    if self.night
                    else "ans_weather"
                )
                return self.pick(key, "ans_weather", **facts)
            case "opinion" | "like" | "can" | "habit":
                return self.pick(f"ans_{kind}_known" if related else f"ans_{kind}_unsure", **facts)
            case "yesno":
                return self.pick("ans_yesno_known" if related else "ans_yesno", "ans_yesno", **facts)
        return self.pick("ans_known" if related else "ans_question", "ans_question", **facts)

    def _names_event(self, subject: str) -> bool:
        event = self.facts.get("event", "")
        return bool(event) and len(subject) >= 2 and (subject in event or event in subject)

    def _names_place(self, subject: str) -> bool:
        place = self.ctx.scene.place_name
        return bool(place) and (subject in place or place in subject)

    def line(
        self, to_name: str, topic: str, last_line: str, change_subject: bool, new_topic: str | None
    ) -> str:
        topic = self._own_topic(topic)
        facts = {"to": to_name, "topic": topic}
        if change_subject:
            fresh = self._own_topic(new_topic) if new_topic else self._other_topic(topic)
            facts["topic"] = fresh
            parts = [self.pick("bridge", **facts), *self._topic_opener(facts, lead=False)]
            return self.finish(parts, catch=0.1, asides=False)
        if not self._same_language(last_line):
            return self.finish([self.pick("foreign_reply", **facts)], catch=0.1, asides=False)
        self.avoid = last_line.lower()
        parts = self._respond(to_name, last_line, topic)
        if not is_question(last_line, self.lang) and (len([p for p in parts if p]) < 2 or self.chance(0.4)):
            extend = self._domain_line(topic, "notes")  # carry the topic on, not only nod at it
            parts.append(
                self.pick("line_extend", note=extend, **facts)
                if extend and self.chance(0.6)
                else self._domain_line(topic, "asks", **facts) or self.pick("line_plain", **facts)
            )
        return self.finish(parts, catch=0.1, asides=self.style.sentences > 1)

    def _other_topic(self, current: str) -> str:
        for _ in range(6):
            fresh = self.topic()
            if fresh != current:
                return fresh
        return self.facts["topic2"]

    def goodbye(self, to_name: str, topic: str) -> str:
        topic = self._own_topic(topic)
        facts = {"to": to_name, "topic": topic}
        if self.night:
            reason = "bye_late"
        elif "activity" in self.facts and _WORK_CUE.search(self.facts["activity"]):
            reason = "bye_work"
        elif self.ctx.speaker.energy < 0.3:
            reason = "bye_tired"
        elif self.event and not self.hazard and self.chance(0.5):
            reason = "bye_event"
        elif self.hazard:
            reason = "bye_hazard"
        else:
            reason = f"bye_{self.bucket}" if self.chance(0.5) else "bye_any"
        wish_keys = (f"bye_wish_{self.bucket}", "bye_wish_night" if self.night else "bye_wish_any")
        parts = [
            self.pick(reason, "bye_any", **facts),
            self.pick("bye_topic", **facts) if self.chance(0.5) else None,
            self.pick(*wish_keys, **facts) if self.chance(0.5) else self.pick("bye_wish_any", **facts),
        ]
        return self.finish(parts, catch=0.1, asides=False)

    def comment(self, author: str, post_text: str) -> str:
        facts = {"author": author, "to": author}
        if not post_text.strip():  # answering a comment on its own post
            return self.finish([self.pick("com_thanks", **facts)], catch=0.15, asides=False)
        if not self._same_language(post_text):
            return self.finish([self.pick("com_foreign", **facts)], catch=0.15, asides=False)
        subject = subject_of(post_text, self.lang)
        if is_question(post_text, self.lang) and subject:
            lead = self.pick("com_lead", **facts) if self.chance(0.5) else None
            return self.finish([lead, self._answer(author, post_text, subject)[0]], catch=0.15, asides=False)
        if subject and not self._salient(subject):
            subject = known_word(post_text, self.lang)  # "the planks" of a post is no topic to answer
        parts: list[str | None] = []
        if _HAZARD_WORDS.search(post_text) and self.chance(0.7):
            parts.append(self.pick("com_hazard", **facts))
            if not subject:  # a warning gets concern, not small talk
                return self.finish(parts, catch=0.1, asides=False)
        tone = self._tone_key("com", post_text)
        if subject:
            facts["subject"] = subject
            note = (
                self._domain_line(subject, "notes") if self._domain_of(subject) in self.my_domains else None
            )
            main = "com_related" if note and self.chance(0.6) else "com_subject"
            parts.append(self.pick(main, note=note or "", **facts))
        else:
            parts.append(self.pick(tone, "com_plain", **facts))
            tone = "com_plain"  # the tone is answered already
        follows = [
            (tone, 2.0 * (tone != "com_plain")),
            ("com_ask", 1.2 * bool(subject)),
            ("com_share", 1.0),
            ("", 1.5),
        ]
        if follow := self._weighted([f for f in follows if f[1] > 0]):
            named = author in "".join(p for p in parts if p)  # name the author once
            parts.append(
                self.pick_from([f for f in self.g.pools[follow] if not (named and "{author}" in f)], **facts)
            )
        if self.chance(0.3):
            parts.insert(0, self.pick("com_interject"))
        return self.finish(parts, catch=0.2, asides=False)

    def repost(self, author: str, post_text: str) -> str:
        if self.chance(0.25):
            return ""
        facts = {"author": author}
        if not post_text.strip() or not self._same_language(post_text):
            return self.finish([self.pick("rp_plain", **facts)], catch=0.1, asides=False)
        if _HAZARD_WORDS.search(post_text):  # a warning is passed on as one
            return self.finish([self.pick("rp_hazard", **facts)], catch=0.0, emoji=False, asides=False)
        # Only a subject someone could be a fan of (a domain's word, a title) is named: "Read! Sharing
        # this one" is worse than a plain line.
        subject = subject_of(post_text, self.lang)
        if not (subject and self._nameable(subject)):
            subject = known_word(post_text, self.lang)
        parts: list[str | None] = []
        if subject and self._nameable(subject) and fits(subject, self.lang):
            facts.update(subject=subject, the_subject=_with_article(subject, self.lang))
            mine = self._domain_of(subject) in self.my_domains
            note = self._domain_line(subject, "notes") if mine else None
            if note and self.chance(0.5):
                parts.append(self.pick("rp_related", note=note, **facts))
            else:
                parts.append(self.pick("rp_subject", **facts))
        else:
            parts.append(self.pick(self._tone_key("rp", post_text), "rp_plain", **facts))
        if self.chance(0.3):
            named = author in "".join(p for p in parts if p)
            parts.append(
                self.pick_from([f for f in self.g.pools["rp_tail"] if not named or "{author}" not in f])
            )
        return self.finish(parts, catch=0.15, asides=False)

    def _nameable(self, subject: str) -> bool:
        return bool(self._domain_of(subject)) or subject.startswith(("《", "“", '"'))

    def _same_language(self, text: str) -> bool:
        """Whether the speaker can read `text`: its language, or no words at all (an emoji, a name)."""
        if not HAN.search(text) and not LATIN_WORD.search(text):
            return True
        return language_of(text) == self.lang

    def _salient(self, subject: str) -> bool:
        """A subject worth answering: a known word, a topic of some domain, or a title."""
        low = subject.lower()
        return (
            bool(self._domain_of(subject))
            or low in self.g.lexicon_set
            or subject.startswith(("《", "“", '"'))
        )

    # ------------------------------------------------------------------ topics

    def topic(self) -> str:
        f = self.facts
        options: list[tuple[str, float]] = []
        if "event" in f:
            options.append((f["event"], 3.0))
        if "read_topic" in f:
            options.append((f["read_topic"], 2.0))
        if "item" in f:
            domain = self._domain_of(f["item"])
            options.append((self.g.domains[domain]["label"] if domain else f["item"], 1.5))
        if "mem_topic" in f:
            options.append((f["mem_topic"], 1.0))
        if place_topic := self._place_topic():
            options.append((place_topic, 1.0))
        for interest in self.interests:
            options.append((interest, 4.0 / max(1, len(self.interests))))
        if not options:
            options.append((self.rng.choice(list(self.g.pools["life"])), 1.0))
        return self._weighted(options)


_ASK_BACK_AFTER = frozenset({"opinion", "like", "plans", "wellbeing", "recommend", "can", "question"})


def _with_article(subject: str, language: str) -> str:
    """ "the library" for a bare common noun in English, so frames can say "where the library is"."""
    if language != "en" or not subject[:1].islower() or re.match(r"(?:the|a|an|my|your|our)\s", subject):
        return subject
    return f"the {subject}"


_PROPER_FIRST_WORDS = frozenset({"Chinese", "English", "Japanese", "British", "Yirgacheffe"})


def _item_name(name: str, language: str) -> str:
    """An item as said mid-sentence: "Old film camera" -> "my old film camera"; a title stays as it is."""
    if language != "en":
        return name
    name = re.sub(r"\s*\([^)]*\)", "", name).strip()
    words = name.split()
    if not words or not all(w[:1].islower() for w in words[1:]):
        return name  # "Memories of Peking" is a title
    if words[0] not in _PROPER_FIRST_WORDS and words[0][1:].islower():
        name = name[:1].lower() + name[1:]
    return f"my {name}"


def _en_exclaim(text: str) -> str:
    return re.sub(r"\.(\s|$)", r"!\1", text, count=2)


def _tidy(text: str, language: str) -> str:
    if language == "zh":
        text = re.sub(r"[，,]\s*([。！？~])", r"\1", text)
        text = re.sub(r"。{2,}", "。", text)
        text = re.sub(r"([！？~])。", r"\1", text)
        text = re.sub(r"。([！？])", r"\1", text)
        text = re.sub(r"\s{2,}", " ", text)
        return text.strip()
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"([.!?])\.", r"\1", text)
    text = re.sub(r",\s*([.!?])", r"\1", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    # frames may start with a fact in lower case ("working at the clinic."): sentences start upper case
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
