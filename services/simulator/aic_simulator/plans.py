"""A character's day: a schedule drawn from its persona, revised by what happens.

The persona says when it wakes and sleeps, where it works and when (``work``: place, from, to), what it
likes and where it lives; the plan lays out sleep, breakfast, work, meals, errands and leisure at places
that fit its interests, and the day's gatherings, markets and shows it would care about. Events revise
the plan: a hazard sends it home for as long as the hazard lasts. The rule policy follows the plan with
persona-weighted deviations; the LLM policy may write the plan instead (one call per character per day)
with this one as its fallback.
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass
from datetime import date, datetime

from aic_simulator.state import AgentState, EventInfo, LocationInfo, PlanItem

DAY = 24 * 60
WORKPLACES_ONLY = ("school", "clinic")  # places people go to for work or need, not for leisure
# Which kinds of place an interest draws a character to (terms are matched inside interests/topics).
INTEREST_PLACES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("咖啡", "coffee", "tea", "茶"), "cafe"),
    (("书", "诗", "历史", "book", "languages", "古"), "library"),
    (("书", "book", "小说"), "shop"),
    (("跑步", "健身", "running", "fitness", "营养"), "gym"),
    (("跑步", "风筝", "flowers", "seasons", "摄影", "光影", "running", "猫"), "park"),
    (("钓鱼", "象棋", "chess", "摄影", "旧建筑"), "harbor"),
    (("象棋", "chess", "京剧", "孩子"), "plaza"),
    (("绘画", "光影", "painting", "art"), "studio"),
    (("音乐", "music", "jazz", "food", "烹饪"), "bar"),
    (("烹饪", "food", "营养", "flowers", "荔枝"), "market"),
)
LABELS = {
    "zh": {
        "sleep": "在家睡觉",
        "breakfast": "在家吃早饭",
        "work": "在{place}上班",
        "lunch": "在{place}吃午饭",
        "dinner": "在{place}吃晚饭",
        "leisure": "去{place}逛逛",
        "evening": "在家休息",
        "event": "去{place}参加{event}",
        "shelter": "{event},回家躲一躲",
    },
    "en": {
        "sleep": "asleep at home",
        "breakfast": "breakfast at home",
        "work": "working at {place}",
        "lunch": "lunch at {place}",
        "dinner": "dinner at {place}",
        "leisure": "spending time at {place}",
        "evening": "a quiet evening at home",
        "event": "going to {event} at {place}",
        "shelter": "{event}: staying home until it passes",
    },
}


def place_affinity(agent: AgentState, location: LocationInfo) -> int:
    """How many of the agent's interests point at this kind of place."""
    return _kind_affinity(agent.interests, location.kind)


@functools.lru_cache(maxsize=4096)
def _kind_affinity(interests: str, kind: str) -> int:
    return sum(1 for words, k in INTEREST_PLACES if k == kind and any(w in interests for w in words))


def event_appeal(agent: AgentState, event: EventInfo) -> float:
    """How much a gathering, market or show draws this character (hazards and announcements draw no one)."""
    if event.kind in ("hazard", "announcement"):
        return 0.0
    terms = agent.interests
    text = f"{event.title} {event.description}".lower()
    shared = sum(1 for word in terms.split() if len(word) > 1 and word in text)
    # Never certain: even a music teacher sometimes skips jazz night.
    return min(0.85, 0.3 + 0.4 * shared + (0.2 if event.kind in ("show", "market") else 0.0))


def plan_day(
    agent: AgentState,
    day: date,
    locations: dict[str, LocationInfo],
    events: list[EventInfo],
    seed: int,
) -> list[PlanItem]:
    """The rule plan for ``day``: blocks covering 00:00-24:00 in order, deterministic for the seed."""
    rng = random.Random(f"{seed}:plan:{agent.id}:{day.isoformat()}")  # noqa: S311 - a reproducible day
    language = "en" if agent.language == "en" else "zh"
    labels = LABELS[language]
    wake, sleep = agent.rhythm
    wake_m, sleep_m = (
        wake * 60,
        sleep * 60 if sleep > wake else DAY,
    )  # sleeping after midnight: awake to 24:00
    items: list[PlanItem] = []

    def name(location_id: str) -> str:
        loc = locations[location_id]
        return loc.name_en if language == "en" else loc.name

    def add(start: int, end: int, activity: str, location_id: str | None, label: str, reason: str) -> None:
        start, end = max(start, 0), min(end, DAY)
        if end > start:
            items.append(PlanItem(start, end, activity, location_id, label, reason))

    work = agent.persona.get("work") or {}
    work_place = work.get("place") if work.get("place") in locations else None
    work_from, work_to = int(work.get("from", 0)) * 60, int(work.get("to", 0)) * 60
    busy: list[tuple[int, int]] = [(work_from, work_to)] if work_place else []

    def free(start: int, end: int) -> bool:
        return all(end <= b_start or start >= b_end for b_start, b_end in busy)

    def open_between(location: LocationInfo, start: int, end: int) -> bool:
        return location.open_at_minute(start) and location.open_at_minute(max(start, end - 1))

    # Places to spend free time: not a home, and a school or clinic only for whoever's interests lead there.
    places = [
        loc
        for loc in locations.values()
        if loc.kind not in ("home", *WORKPLACES_ONLY) or place_affinity(agent, loc) > 0
    ]
    liked = sorted(places, key=lambda loc: (-place_affinity(agent, loc), rng.random()))

    def pick_place(start: int, end: int, kinds: tuple[str, ...] = ()) -> str:
        fitting = [loc for loc in liked if open_between(loc, start, end) and (not kinds or loc.kind in kinds)]
        if not fitting:
            return agent.home_id
        # Mostly the places its interests point at, sometimes somewhere else (a day is not a routine).
        top = fitting[: 3 if rng.random() < 0.75 else len(fitting)]
        return rng.choice(top).id

    # The day's events that appeal, when it is free and awake for them.
    chosen_events: list[tuple[int, int, EventInfo]] = []
    for event in events:
        if event.starts_at.date() != day or event.location_id not in locations:
            continue
        start = event.starts_at.hour * 60 + event.starts_at.minute
        end = min(start + 90, event.ends_at.hour * 60 + event.ends_at.minute or DAY)
        if start < wake_m or end > sleep_m or not free(start, end):
            continue
        if rng.random() < event_appeal(agent, event):
            chosen_events.append((start, end, event))
            busy.append((start, end))

    # Fixed blocks: work, meals, events; leisure fills the free time between them.
    fixed: list[PlanItem] = []
    if work_place:
        fixed.append(
            PlanItem(
                work_from,
                work_to,
                "work",
                work_place,
                labels["work"].format(place=name(work_place)),
                "my job",
            )
        )
    for start, end, event in chosen_events:
        title = event.title_in(language)
        fixed.append(
            PlanItem(
                start,
                end,
                "event",
                event.location_id,
                labels["event"].format(place=name(event.location_id or agent.home_id), event=title),
                "it sounds like my kind of thing",
            )
        )
    meals = [(12 * 60, 13 * 60, "lunch"), (18 * 60, 19 * 60, "dinner")]
    for start, end, meal in meals:
        if start >= wake_m + 60 and end <= sleep_m and all(end <= f.start or start >= f.end for f in fixed):
            out = rng.random() < (0.6 if meal == "lunch" else 0.35)
            where = pick_place(start, end, ("cafe", "market", "bar")) if out else agent.home_id
            fixed.append(PlanItem(start, end, "meal", where, labels[meal].format(place=name(where)), meal))
    fixed.sort(key=lambda item: item.start)

    if sleep <= wake:  # up past midnight: the small hours are the end of yesterday's evening
        add(0, sleep * 60, "evening", agent.home_id, labels["evening"], "late night")
        add(sleep * 60, wake_m, "sleep", agent.home_id, labels["sleep"], "night")
    else:
        add(0, wake_m, "sleep", agent.home_id, labels["sleep"], "night")
    add(wake_m, wake_m + 60, "meal", agent.home_id, labels["breakfast"], "morning")
    cursor = wake_m + 60
    for item in [
        *fixed,
        PlanItem(sleep_m - 60, sleep_m, "evening", agent.home_id, labels["evening"], "evening"),
    ]:
        # Leisure in the gap, in blocks of one to two hours at places the character likes; a short
        # remainder goes to the next block.
        while item.start - cursor >= 45:
            length = min(item.start - cursor, rng.choice((60, 90, 120)))
            if item.start - cursor - length < 45:
                length = item.start - cursor
            where = pick_place(cursor, cursor + length)
            add(
                cursor,
                cursor + length,
                "leisure",
                where,
                labels["leisure"].format(place=name(where)),
                "free time",
            )
            cursor += length
        start = cursor
        if item.end > start:
            add(start, item.end, item.activity, item.location_id, item.label, item.reason)
            cursor = item.end
    if sleep_m < DAY:
        add(sleep_m, DAY, "sleep", agent.home_id, labels["sleep"], "night")
    home = PlanItem(0, 0, "evening", agent.home_id, labels["evening"], "the place is closed then")
    return within_opening_hours(items, locations, home)


def within_opening_hours(
    items: list[PlanItem], locations: dict[str, LocationInfo], home: PlanItem
) -> list[PlanItem]:
    """The plan with every part of a block spent at a closed place moved home (``home`` gives its
    activity, place and label): a shift that starts before the place opens starts at home."""
    fitted: list[PlanItem] = []
    for item in items:
        location = locations.get(item.location_id or "")
        if location is None or location.kind == "home":
            fitted.append(item)
            continue
        # Whether it is open changes only at the opening and closing hours: cut the block there.
        cuts = {item.start, item.end}
        cuts |= {
            h * 60 % DAY
            for h in (location.opens_at, location.closes_at)
            if item.start < h * 60 % DAY < item.end
        }
        bounds = sorted(cuts)
        for start, end in itertools.pairwise(bounds):
            piece = (
                PlanItem(start, end, item.activity, item.location_id, item.label, item.reason)
                if location.open_at_minute(start)
                else PlanItem(start, end, home.activity, home.location_id, home.label, home.reason)
            )
            last = fitted[-1] if fitted else None
            if last and (last.activity, last.location_id, last.label) == (
                piece.activity,
                piece.location_id,
                piece.label,
            ):
                fitted[-1] = PlanItem(
                    last.start, end, last.activity, last.location_id, last.label, last.reason
                )
            else:
                fitted.append(piece)
    return fitted


@dataclass(frozen=True)
class PlanRequest:
    """What a policy that writes plans (the LLM) is given for one character's day; ``rule_plan`` is the
    rule plan, its example and its fallback."""

    agent: AgentState
    day: date
    locations: dict[str, LocationInfo]
    events: list[EventInfo]
    rule_plan: list[PlanItem]


def current(plan: list[PlanItem], at: datetime) -> PlanItem | None:
    minute = at.hour * 60 + at.minute
    return next((item for item in plan if item.covers(minute)), None)


def mentioned_events(text: str, events: list[EventInfo], at: datetime) -> list[EventInfo]:
    """Gatherings, markets and shows still to come today that ``text`` names (either half of a title)."""
    found = []
    for event in events:
        if (
            event.kind in ("hazard", "announcement")
            or event.starts_at.date() != at.date()
            or event.starts_at <= at
        ):
            continue
        if any(half.strip() and half.strip().lower() in text.lower() for half in event.title.split(" · ")):
            found.append(event)
    return found


def join_event(
    agent: AgentState, plan: list[PlanItem], event: EventInfo, locations: dict[str, LocationInfo]
) -> list[PlanItem] | None:
    """The plan with ``event`` in it, if it fits: only free time (leisure or an evening at home) gives
    way, never work, sleep or another event. None when it does not fit."""
    language = "en" if agent.language == "en" else "zh"
    start = event.starts_at.hour * 60 + event.starts_at.minute
    end = min(start + 90, DAY if event.ends_at.date() != event.starts_at.date() else event.ends_at.hour * 60)
    if end <= start or event.location_id not in locations:
        return None
    overlapping = [item for item in plan if item.start < end and item.end > start]
    if not overlapping or any(item.activity not in ("leisure", "evening") for item in overlapping):
        return None
    location = locations[event.location_id]
    label = LABELS[language]["event"].format(
        place=location.name_en if language == "en" else location.name, event=event.title_in(language)
    )
    return put_in(plan, PlanItem(start, end, "event", event.location_id, label, f"heard of event {event.id}"))


def shelter(agent: AgentState, plan: list[PlanItem], hazard: EventInfo, at: datetime) -> list[PlanItem]:
    """The plan revised for a hazard: home from now until it is over; the rest of the day unchanged."""
    language = "en" if agent.language == "en" else "zh"
    start = at.hour * 60 + at.minute
    end = DAY if hazard.ends_at.date() != at.date() else hazard.ends_at.hour * 60 + hazard.ends_at.minute
    label = LABELS[language]["shelter"].format(event=hazard.title_in(language))
    return put_in(plan, PlanItem(start, end, "shelter", agent.home_id, label, f"hazard {hazard.id}"))


def put_in(plan: list[PlanItem], block: PlanItem) -> list[PlanItem]:
    """The plan with ``block`` in its time: what it overlaps is cut back around it, the rest unchanged."""
    revised = [block]
    for item in plan:
        if item.end <= block.start or item.start >= block.end:
            revised.append(item)
            continue
        if item.start < block.start:
            revised.append(
                PlanItem(item.start, block.start, item.activity, item.location_id, item.label, item.reason)
            )
        if item.end > block.end:
            revised.append(
                PlanItem(block.end, item.end, item.activity, item.location_id, item.label, item.reason)
            )
    return sorted(revised, key=lambda item: item.start)
