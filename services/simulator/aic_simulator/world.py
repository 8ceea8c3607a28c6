"""The world file: locations, items, scheduled game events and characters, seeded on first start."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import Outbox
from aic_common.messages import CreateAiAccount
from aic_simulator.models import Agent, GameEvent, Item, Location, Relationship
from aic_simulator.state import EVENT_KINDS
from aic_simulator.store import wall_now

log = logging.getLogger(__name__)
SCHEDULE_DAYS = 14  # daily events are laid out this far ahead


def load_world_file(path: Path) -> dict[str, Any]:
    world = json.loads(path.read_text(encoding="utf-8"))
    for key in ("locations", "items", "events", "characters"):
        if not isinstance(world.get(key), list):
            raise ValueError(f"{path}: '{key}' must be a list")
    location_ids = {loc["id"] for loc in world["locations"]}
    for character in world["characters"]:
        if character["home_id"] not in location_ids:
            raise ValueError(f"{path}: {character['id']} lives at unknown location {character['home_id']}")
        work = character.get("persona", {}).get("work")
        if work and work.get("place") not in location_ids:
            raise ValueError(f"{path}: {character['id']} works at unknown location {work.get('place')}")
    for event in world["events"]:
        if event.get("kind", "gathering") not in EVENT_KINDS:
            raise ValueError(
                f"{path}: event {event.get('key')} has kind {event.get('kind')!r}, not one of {EVENT_KINDS}"
            )
    if "map" in world:
        _check_map(path, world["map"], location_ids)
    return world


MAP_KEYS = ("paths", "water")


def _on_the_map(coordinate: Any) -> bool:
    return isinstance(coordinate, int | float) and not isinstance(coordinate, bool) and 0 <= coordinate <= 100


def _check_map(path: Path, world_map: Any, location_ids: set[str]) -> None:
    """The optional ``map`` section, drawn by the web UI only (nothing the simulation decides reads it):
    ``paths`` between known places, ``water`` as polygons in the places' 0-100 coordinates."""
    if not isinstance(world_map, dict):
        raise ValueError(f"{path}: 'map' must be an object")
    unknown = sorted(set(world_map) - set(MAP_KEYS))
    if unknown:
        raise ValueError(f"{path}: map has unknown keys {unknown}, only {list(MAP_KEYS)}")
    paths = world_map.get("paths", [])
    if not isinstance(paths, list):
        raise ValueError(f"{path}: map.paths must be a list of [from_id, to_id]")
    for index, pair in enumerate(paths):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(end, str) for end in pair)):
            raise ValueError(f"{path}: map.paths[{index}] must be [from_id, to_id], not {pair!r}")
        for end in pair:
            if end not in location_ids:
                raise ValueError(f"{path}: map.paths[{index}] leads to unknown location {end}")
        if pair[0] == pair[1]:
            raise ValueError(f"{path}: map.paths[{index}] leads from {pair[0]} to itself")
    water = world_map.get("water", [])
    if not isinstance(water, list):
        raise ValueError(f"{path}: map.water must be a list of polygons")
    for index, polygon in enumerate(water):
        if not (isinstance(polygon, list) and len(polygon) >= 3):
            raise ValueError(f"{path}: map.water[{index}] must be a polygon of at least 3 [x, y] points")
        for point in polygon:
            if not (isinstance(point, list) and len(point) == 2 and all(map(_on_the_map, point))):
                raise ValueError(
                    f"{path}: map.water[{index}] has point {point!r}: each must be [x, y], both 0 to 100"
                )


def seed_world(
    session_factory: sessionmaker[Session], outbox: Outbox, world: dict[str, Any], start: datetime
) -> int:
    """Create what the world file describes and is not there yet; returns how many agents were added.

    Safe to run on every start: existing rows are kept (the simulation has changed them since)."""
    added = 0
    with session_factory.begin() as session:
        known = set(session.scalars(sa.select(Location.id)))
        for loc in world["locations"]:
            if loc["id"] not in known:
                session.add(
                    Location(
                        **{
                            k: loc[k]
                            for k in (
                                "id",
                                "name",
                                "name_en",
                                "kind",
                                "x",
                                "y",
                                "capacity",
                                "opens_at",
                                "closes_at",
                                "description",
                            )
                        }
                    )
                )
        known_items = set(session.scalars(sa.select(Item.id)))
        for item in world["items"]:
            if item["id"] not in known_items:
                session.add(
                    Item(
                        id=item["id"],
                        name=item["name"],
                        name_en=item["name_en"],
                        kind=item["kind"],
                        location_id=item.get("location_id"),
                        holder_id=None,
                        effects=item.get("effects", {}),
                    )
                )
        _schedule_events(session, world["events"], start, range(SCHEDULE_DAYS))
        known_agents = set(session.scalars(sa.select(Agent.id)))
        for index, character in enumerate(world["characters"]):
            if character["id"] in known_agents:
                continue
            persona = {**character["persona"], "language": character.get("language", "zh")}
            session.add(
                Agent(
                    id=character["id"],
                    username=character["username"],
                    display_name=character["display_name"],
                    user_id=None,
                    persona=persona,
                    home_id=character["home_id"],
                    location_id=character["home_id"],
                    energy=0.8,
                    sociability=0.5,
                    mood=0.2,
                    current_action=None,
                    current_decision=None,
                    # Staggered first wake-ups: not everyone gets up in the same minute.
                    next_wake_at=start + timedelta(minutes=3 * index),
                    importance_since_reflection=0.0,
                    memory_seq=0,
                )
            )
            for relation in character.get("relationships", []):
                session.add(
                    Relationship(
                        agent_id=character["id"],
                        other=relation["other"],
                        affinity=relation.get("affinity", 0.0),
                        interactions=0,
                        note=relation.get("note", ""),
                    )
                )
            added += 1
        # Accounts: auth answers with user.registered, which links the agent (see messaging).
        for agent in session.scalars(sa.select(Agent).where(Agent.user_id.is_(None))):
            outbox.add(
                session,
                CreateAiAccount(
                    username=agent.username,
                    display_name=agent.display_name,
                    bio=str(agent.persona.get("summary", "")),
                ),
            )
    if added:
        log.info("seeded %d agents from the world file", added)
    return added


def schedule_daily_events(
    session_factory: sessionmaker[Session], world: dict[str, Any], start: datetime, through: datetime
) -> int:
    """Lay the daily events out up to ``through`` (a long-running world outlives the first fortnight);
    returns how many were added. Safe to repeat: an event already laid out for a day is kept."""
    days = range((through.date() - start.date()).days + 1)
    daily = [e for e in world["events"] if e.get("repeat_daily")]
    with session_factory.begin() as session:
        return _schedule_events(session, daily, start, days)


def _schedule_events(session: Session, events: list[dict[str, Any]], start: datetime, days: range) -> int:
    """The world file's events in the database: each daily one on each of ``days`` (counted from the
    start's date), each other one on its day_offset; keyed "<key>@<day>" so nothing is laid out twice."""
    known = set(session.scalars(sa.select(GameEvent.key).where(GameEvent.key.is_not(None))))
    day0 = start.replace(hour=0, minute=0, second=0, microsecond=0)
    added = 0
    for event in events:
        for day in days if event.get("repeat_daily") else [event.get("day_offset", 0)]:
            key = f"{event['key']}@{day}"
            if key in known:
                continue
            starts = day0 + timedelta(days=day, hours=event["start_hour"])
            session.add(
                GameEvent(
                    key=key,
                    title=event["title"],
                    description=event["description"],
                    location_id=event.get("location_id"),
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=event["hours"]),
                    effects=event.get("effects", {}),
                    kind=event.get("kind", "gathering"),
                    source="world",
                    created_at=wall_now(),
                )
            )
            added += 1
    return added
