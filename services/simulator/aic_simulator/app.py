"""The simulator's app factory: the composition root of the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from aic_common.bus import InProcessBus
from aic_common.db import run_in_thread
from aic_common.principals import verifier_from_settings
from aic_common.retention import PruneRule
from aic_common.runtime import ServiceRuntime
from aic_common.web import create_service_app
from aic_simulator.api import report, sim
from aic_simulator.messaging import register_consumers
from aic_simulator.metrics import register_metrics
from aic_simulator.models import SeenComment, SeenLike, SeenPost, Stimulus
from aic_simulator.pictures import studio_from_settings
from aic_simulator.pictures.files_client import FilesPictureStore
from aic_simulator.policy import Policy
from aic_simulator.rules import RulePolicy
from aic_simulator.runner import Simulation
from aic_simulator.schemas import WorldMapView
from aic_simulator.settings import SimulatorSettings
from aic_simulator.world import load_world_file, seed_world

MIGRATIONS = "aic_simulator:migrations"


def retention_rules(settings: SimulatorSettings) -> list[PruneRule]:
    """What the simulator deletes on its retention sweep: posts, comments and likes it perceived long ago
    (the world keeps its recent feed in its checkpoint) and stimuli handled long ago. The action log is
    the run's record and stays (see docs/deploy.md, "Data that grows")."""
    seen, stimuli = SeenPost.__table__, Stimulus.__table__
    comments, likes = SeenComment.__table__, SeenLike.__table__
    perceived_for = timedelta(days=settings.seen_post_retention_days)
    return [
        PruneRule("seen_posts", seen, seen.c.created_at, perceived_for),
        PruneRule("seen_comments", comments, comments.c.created_at, perceived_for),
        PruneRule("seen_likes", likes, likes.c.created_at, perceived_for),
        PruneRule(
            "stimuli_handled",
            stimuli,
            stimuli.c.received_at,
            timedelta(days=settings.handled_stimulus_retention_days),
            only_if=lambda: stimuli.c.handled.is_(True),  # one still waiting is never dropped
        ),
    ]


def build_policy(settings: SimulatorSettings, session_factory: sessionmaker[Session] | None = None) -> Policy:
    """Rules alone, or an LLM first with rules to fall back on when it is slow, down or nonsensical; its
    answers recorded or replayed in ``session_factory``'s database as AIC_LLM_MODE says."""
    rules = RulePolicy(settings.seed)
    if not settings.llm_base_url:
        return rules
    from aic_simulator.llm import LlmPolicy
    from aic_simulator.recording import recording_client
    from aic_simulator.tiers import TieredPolicy

    # Recorded and replayed, no answer is given up for being slow (the request's own timeout still
    # applies): an answer that came late in one run and in time in the other would part their stories.
    exact = settings.llm_mode != "live"
    decision_timeout = None if exact else settings.decision_timeout_seconds
    llm = LlmPolicy(
        settings.llm_base_url,
        settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value() or None,
        concurrency=settings.llm_concurrency,
        max_attempts=settings.llm_max_attempts,
        timeout=decision_timeout,  # from the moment a decision gets a slot
        queue_timeout=None if exact else settings.llm_queue_timeout_seconds,
        request_timeout=settings.llm_request_timeout_seconds,
        response_format=settings.llm_response_format,
        temperature=settings.llm_temperature,
        top_p=settings.llm_top_p,
        seed=settings.llm_seed,
        max_tokens=settings.llm_max_tokens,
        plan_max_tokens=settings.llm_plan_max_tokens,
        reasoning_effort=settings.llm_reasoning_effort or None,
        extra_body=settings.llm_extra_body,
        daily_token_budget=settings.llm_daily_token_budget,
        character_daily_token_budget=settings.llm_character_daily_token_budget,
        client=recording_client(settings, session_factory, timeout=settings.llm_request_timeout_seconds),
    )
    tiered = TieredPolicy([llm, rules], decision_timeout=decision_timeout)
    if exact:
        # Recorded and replayed, a tick waits for all its decisions (no overlap with the next tick): the
        # tick an answer lands in must not depend on how fast it came, or a replay tells another story.
        tiered.concurrency = 0
    return tiered


def create_app(
    settings: SimulatorSettings | None = None,
    *,
    shared_bus: InProcessBus | None = None,
    jwks_client: Any = None,
    policy: Policy | None = None,
    picture_store: FilesPictureStore | None = None,
) -> FastAPI:
    """``picture_store`` stores characters' pictures through files (dev mode gives one with in-process
    clients); without one it is made from AIC_FILES_URL and AIC_AUTH_URL when both are set."""
    settings = settings or SimulatorSettings()
    picture_store = picture_store or FilesPictureStore.from_settings(settings)
    runtime = ServiceRuntime.create(settings, migrations=MIGRATIONS, shared_bus=shared_bus)
    for rule in retention_rules(settings):
        runtime.retention.add(rule)
    studio = studio_from_settings(settings, picture_store)
    simulation = Simulation(
        settings, runtime, policy or build_policy(settings, runtime.session_factory), studio=studio
    )
    register_consumers(runtime.bus, runtime.session_factory, simulation)
    world = load_world_file(settings.world_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            await run_in_thread(
                seed_world, runtime.session_factory, runtime.outbox, world, settings.sim_start
            )
            runtime.relay.notify()
            await simulation.start()
            try:
                yield
            finally:
                await simulation.stop()
                if studio is not None:
                    await studio.aclose()
                if picture_store is not None:
                    await picture_store.aclose()

    app = create_service_app(
        settings, title="AI Community simulator", routers=[sim.router, report.router], lifespan=lifespan
    )
    app.state.simulation = simulation
    app.state.picture_store = picture_store  # None: pictures cannot be stored
    app.state.world_map = WorldMapView.model_validate(world["map"]) if "map" in world else None
    register_metrics(simulation, app.state.metrics_registry)
    app.state.runtime = runtime
    app.state.token_verifier = verifier_from_settings(settings, jwks_client, runtime=runtime)
    return app
