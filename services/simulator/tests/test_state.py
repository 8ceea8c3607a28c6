"""The in-memory world: who is at a place, as agents move."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from aic_simulator.state import AgentState, World

START = datetime(2030, 1, 1, 8, tzinfo=UTC)
PLACES = ["cafe", "park", "library"]


def agent(agent_id: str, location_id: str) -> AgentState:
    return AgentState(
        id=agent_id,
        username=agent_id,
        display_name=agent_id.upper(),
        user_id=None,
        persona={},
        home_id=location_id,
        location_id=location_id,
        energy=1.0,
        sociability=0.5,
        mood=0.0,
        current_action=None,
        current_decision=None,
        next_wake_at=START,
        importance_since_reflection=0.0,
        memory_seq=0,
    )


def world_of(agents: list[AgentState]) -> World:
    return World(
        sim_time=START,
        speed=0,
        state="running",
        seed=1,
        steps=0,
        decisions=0,
        locations={},
        items={},
        events=[],
        agents={a.id: a for a in agents},
    )


def ids(people: list[AgentState]) -> list[str]:
    return [p.id for p in people]


def test_people_at_lists_the_lowest_ids_there_without_the_asker() -> None:
    # Created out of order: the order comes from the ids, not from insertion.
    world = world_of([agent(i, "cafe") for i in ["a05", "a01", "a04", "a02", "a03"]] + [agent("a00", "park")])

    assert ids(world.people_at("cafe")) == ["a01", "a02", "a03", "a04", "a05"]
    assert ids(world.people_at("cafe", limit=2)) == ["a01", "a02"]
    assert ids(world.people_at("cafe", besides="a01", limit=2)) == ["a02", "a03"]
    assert ids(world.people_at("cafe", besides="a03", limit=3)) == ["a01", "a02", "a04"]
    assert ids(world.people_at("cafe", besides="a09", limit=0)) == []
    assert ids(world.people_at("library")) == []


def test_moves_keep_every_place_in_id_order() -> None:
    rng = random.Random(7)
    agents = [agent(f"a{i:03d}", rng.choice(PLACES)) for i in rng.sample(range(200), 200)]
    world = world_of(agents)

    for _ in range(1000):
        mover = rng.choice(agents)
        world.move(mover, rng.choice(PLACES))
        asker = rng.choice(agents).id
        place = rng.choice(PLACES)
        expected = sorted(a.id for a in agents if a.location_id == place and a.id != asker)
        assert ids(world.people_at(place, besides=asker, limit=5)) == expected[:5]

    for place in PLACES:
        assert ids(world.people_at(place)) == sorted(a.id for a in agents if a.location_id == place)


def test_moving_to_the_same_place_lists_the_agent_once() -> None:
    world = world_of([agent("a1", "cafe"), agent("a2", "cafe")])

    world.move(world.agents["a1"], "cafe")

    assert ids(world.people_at("cafe")) == ["a1", "a2"]
