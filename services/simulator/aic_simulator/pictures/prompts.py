"""What a character's photo is of, and the words an image model gets for it.

A picture goes with a post about something one can see: the event on, the item in hand (food most of
all), the place, the sky at sunrise or sunset. The rules know what their post is about from the themes
of its sentences (writer.compose_post_about); an LLM describes its photo in a sentence, and the subject is
read from that. Whoever wrote the description, the prompt ends with the moment's facts (where, when, the
weather) and the character's visual style, so that a picture never contradicts the world it was taken in.
"""

from __future__ import annotations

import re
from dataclasses import replace

from aic_simulator.pictures.base import Moment

# A post's themes (writer._post_themes) that one can photograph, and what the picture then shows.
VISUAL_THEMES = {"event": "event", "item": "item", "scene": "place", "company": "place"}
# Hours whose light is worth a photo of the sky on its own.
GOLDEN_HOURS = {5: "sunrise", 6: "sunrise", 17: "golden hour", 18: "sunset", 19: "dusk"}
DEFAULT_STYLE = "candid smartphone photo, natural light"
SUBJECTS = ("event", "food", "item", "sky", "place")
_SKY_WORDS = re.compile(r"\b(sunset|sunrise|dusk|dawn|sky|golden hour|stars?|moon)\b", re.IGNORECASE)
_FOOD_WORDS = re.compile(
    r"\b(breakfast|lunch|dinner|meal|plate|bowl|dish|noodles|rice|soup|snack|coffee|latte|tea|cake|fruit)\b",
    re.IGNORECASE,
)
# What a meal at a place of each kind looks like in a photo (the built-in renderer draws these).
MEALS = {
    "cafe": "a latte in a ceramic cup",
    "market": "a bowl of fresh fruit from the stalls",
    "home": "a plate of fresh fruit",
    "park": "a picnic bowl of fresh fruit",
    "plaza": "a paper bowl of fresh fruit from a street stall",
}
_WEATHER_OF_HAZARD = (
    (re.compile(r"typhoon|storm|thunder|台风|雷", re.IGNORECASE), "storm"),
    (re.compile(r"snow|雪", re.IGNORECASE), "snow"),
    (re.compile(r"fog|mist|雾", re.IGNORECASE), "fog"),
    (re.compile(r"rain|shower|雨", re.IGNORECASE), "rain"),
)


def weather_of(hazard_title: str | None) -> str:
    """The weather a hazard on at the place brings (its title in either language); clear without one."""
    if not hazard_title:
        return "clear"
    return next((weather for pattern, weather in _WEATHER_OF_HAZARD if pattern.search(hazard_title)), "clear")


def golden(moment: Moment) -> bool:
    return moment.hour in GOLDEN_HOURS and moment.weather == "clear"


def subject_of_themes(themes: tuple[str, ...], moment: Moment) -> str | None:
    """What a picture of a rule post shows: its first sentence one can photograph decides; None when the
    post is about nothing visible (a mood, something read, a memory) and the light is nothing special."""
    for theme in themes:
        subject = VISUAL_THEMES.get(theme)
        if subject == "event" and moment.event_title and moment.event_kind != "hazard":
            return "event"
        if subject == "item" and moment.item_name:
            return "food" if moment.item_kind == "food" else "item"
        if subject == "place":
            return "sky" if golden(moment) else "place"
        if theme == "activity" and moment.activity == "meal" and moment.place_kind in MEALS:
            return "food"  # words about the meal it is having: a photo of the plate
    return "sky" if golden(moment) and themes and themes[0] in ("mood", "muse") else None


def subject_of_description(description: str, moment: Moment) -> str:
    """What a photo shows, read from its description against what is there: the rules' own words
    (describe) say it exactly; an LLM's are read for the item, the event and the sky."""
    for subject in SUBJECTS:
        if description == describe(moment, subject):
            return subject
    text = description.lower()
    if moment.item_name and _mentions(text, moment.item_name):
        return "food" if moment.item_kind == "food" else "item"
    if moment.event_title and moment.event_kind != "hazard" and _mentions(text, moment.event_title):
        return "event"
    if _SKY_WORDS.search(text):
        return "sky"
    if _FOOD_WORDS.search(text):
        return "food"
    return "place"


def _mentions(text: str, name: str) -> bool:
    """Whether ``text`` names it: a word of four letters or more of ``name`` (English names)."""
    return any(word in text for word in re.findall(r"[a-z]{4,}", name.lower()))


def describe(moment: Moment, subject: str) -> str:
    """The rules' description of their photo: what is in the frame, in English."""
    match subject:
        case "event":
            crowd = " with a small crowd" if moment.people > 1 else ""
            return f"{moment.event_title} at {moment.place_name}{crowd}"
        case "food":
            food = moment.item_name or MEALS.get(moment.place_kind, "a snack")
            return f"close-up of {_article(food)} on a table at {moment.place_name}"
        case "item":
            return f"{_article(moment.item_name or 'a keepsake')} held up in front of {moment.place_name}"
        case "sky":
            return f"the sky over {moment.place_name} at {GOLDEN_HOURS.get(moment.hour, 'dusk')}"
    people = " with a few people about" if moment.people > 1 else ""
    view = PLACE_VIEWS.get(moment.place_kind, "a view of {place}")
    return view.format(place=moment.place_name) + people


# What a photo of a place of each kind (the world file's kinds) shows of it.
PLACE_VIEWS = {
    "cafe": "the counter and window seats of {place}",
    "park": "a path through {place}",
    "harbor": "the pier and boats at {place}",
    "market": "the stalls of {place}",
    "library": "the reading tables and shelves of {place}",
    "shop": "the shelves of {place}",
    "studio": "easels and canvases in {place}",
    "gym": "the training floor of {place}",
    "school": "the schoolyard of {place}",
    "clinic": "the entrance of {place}",
    "bar": "the bar and the little stage of {place}",
    "plaza": "the fountain and benches of {place}",
    "home": "a corner of the flat at {place}",
}


def _article(name: str) -> str:
    lowered = name.lower()
    if lowered.startswith(("a ", "an ", "the ")):
        return lowered
    return ("an " if lowered[:1] in "aeiou" else "a ") + lowered


def time_of_day(hour: int) -> str:
    if hour in GOLDEN_HOURS:
        return GOLDEN_HOURS[hour]
    if 7 <= hour < 11:
        return "morning"
    if 11 <= hour < 14:
        return "midday"
    if 14 <= hour < 17:
        return "afternoon"
    if 20 <= hour < 23:
        return "evening"
    return "night"


_WEATHER_WORDS = {
    "clear": "clear weather",
    "rain": "rain falling",
    "storm": "a storm with heavy rain and wind",
    "snow": "snow falling",
    "fog": "fog",
}


def image_prompt(description: str, moment: Moment, style: str) -> str:
    """The words an image model gets: the description, where and when, the weather, the style."""
    weather = _WEATHER_WORDS.get(moment.weather, moment.weather)
    where = "" if moment.place_name.lower() in description.lower() else f"{moment.place_name}, "
    setting = f"{where}{time_of_day(moment.hour)}, {weather}"
    return f"{description.strip().rstrip('.')}. {setting}. {style.strip() or DEFAULT_STYLE}"


def framed(moment: Moment, subject: str) -> Moment:
    """The moment with what the picture is of (the built-in renderer draws that in the foreground): a
    meal with nothing in hand is the place's dish."""
    if subject == "food" and not moment.item_name:
        return replace(
            moment, subject=subject, item_name=MEALS.get(moment.place_kind, "a snack"), item_kind="food"
        )
    return replace(moment, subject=subject)
