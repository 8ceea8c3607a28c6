"""The world file: what a bad one is refused for, and daily events laid out as far as the clock goes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory
from aic_common.migrations import upgrade
from aic_simulator.app import MIGRATIONS
from aic_simulator.models import GameEvent
from aic_simulator.settings import DEFAULT_WORLD
from aic_simulator.world import SCHEDULE_DAYS, load_world_file, schedule_daily_events, seed_world

START = datetime(2026, 6, 1, 7, 0)


def written(tmp_path: Path, change: dict) -> Path:
    world = json.loads(DEFAULT_WORLD.read_text(encoding="utf-8"))
    for character in world["characters"]:
        character["persona"].update(change.get("persona", {}))
    for event in world["events"]:
        event.update(change.get("event", {}))
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_persona_working_at_an_unknown_place_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="works at unknown location nowhere"):
        load_world_file(written(tmp_path, {"persona": {"work": {"place": "nowhere", "from": 9, "to": 17}}}))


def test_an_event_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind 'party'"):
        load_world_file(written(tmp_path, {"event": {"kind": "party"}}))


def test_daily_events_are_laid_out_beyond_the_first_fortnight_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    upgrade(MIGRATIONS, url)
    session_factory = create_session_factory(create_db_engine(url))
    world = load_world_file(DEFAULT_WORLD)
    seed_world(session_factory, Outbox("test"), world, START)
    daily = [e["key"] for e in world["events"] if e.get("repeat_daily")]

    def markets() -> list[datetime]:
        with session_factory() as session:
            return list(
                session.scalars(
                    sa.select(GameEvent.starts_at)
                    .where(GameEvent.key.like(f"{daily[0]}@%"))
                    .order_by(GameEvent.starts_at)
                )
            )

    assert len(markets()) == SCHEDULE_DAYS
    through = START + timedelta(days=30)
    added = schedule_daily_events(session_factory, world, START, through)
    assert added == len(daily) * (31 - SCHEDULE_DAYS)
    assert markets()[-1].date() == through.date()
    assert [b - a for a, b in zip(markets(), markets()[1:], strict=False)] == [timedelta(days=1)] * 30
    assert schedule_daily_events(session_factory, world, START, through) == 0, "nothing twice"


def with_map(tmp_path: Path, world_map: object) -> Path:
    world = json.loads(DEFAULT_WORLD.read_text(encoding="utf-8"))
    world["map"] = world_map
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world, ensure_ascii=False), encoding="utf-8")
    return path


def test_the_default_world_has_a_map_of_paths_between_its_places_and_water() -> None:
    world = load_world_file(DEFAULT_WORLD)
    places = {loc["id"] for loc in world["locations"]}
    assert world["map"]["paths"] and all(set(pair) <= places for pair in world["map"]["paths"])
    assert len(world["map"]["water"]) == 2


def test_a_world_without_a_map_is_fine(tmp_path: Path) -> None:
    world = json.loads(DEFAULT_WORLD.read_text(encoding="utf-8"))
    del world["map"]
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world, ensure_ascii=False), encoding="utf-8")
    assert "map" not in load_world_file(path)


@pytest.mark.parametrize(
    ("world_map", "error"),
    [
        ([], "'map' must be an object"),
        ({"roads": []}, r"unknown keys \['roads'\]"),
        ({"paths": [["plaza", "nowhere"]]}, r"map.paths\[0\] leads to unknown location nowhere"),
        ({"paths": [["plaza"]]}, r"map.paths\[0\] must be \[from_id, to_id\]"),
        ({"paths": [["cafe", "plaza"], ["plaza", "plaza"]]}, r"map.paths\[1\] leads from plaza to itself"),
        ({"water": [[[0, 0], [10, 0]]]}, r"map.water\[0\] must be a polygon of at least 3"),
        ({"water": [[[0, 0], [10, 0], [10, 120]]]}, r"map.water\[0\] has point \[10, 120\]"),
        ({"water": [[[0, 0], [10, 0], ["a", 5]]]}, r"map.water\[0\] has point \['a', 5\]"),
    ],
)
def test_a_map_section_with_unknown_places_or_points_off_the_map_is_refused(
    tmp_path: Path, world_map: object, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        load_world_file(with_map(tmp_path, world_map))
