"""Society: do the characters behave like people over one simulated day, with the rules and with an LLM?

The whole community runs in this process as ``make dev`` runs it (auth, social, files, the simulator and
the gateway on SQLite and the in-process bus), the default world from 07:00 for one simulated day as fast
as it runs (seed 7; paused and stepped a few ticks a command, so that every tick perceives what reached
the simulator, as a running one does between refreshes): once with the rule policy, once with the
scripted OpenAI-compatible server (aic_simulator.testing_llm) as its LLM tier, rules behind it. Two
people write questions to characters during the day, through the gateway. The society report over the
day (GET /api/sim/report, as an operator) is printed goal by goal, rules | LLM | goal.

    python -m bench.sim_society            # one simulated day each
    python -m bench.sim_society --quick    # four simulated hours each
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from aic_common.testing import app_lifespan, wait_for
from aic_simulator.settings import SimulatorSettings
from aic_simulator.testing_llm import (
    ScriptedLlmServer,
    answer,
    answers_on_topic,
    follows_plan,
    options_in,
    unread_in,
    writes_chinese,
)
from aic_simulator.testing_questions import QUESTIONS as QUESTION_SET
from aic_simulator.world import load_world_file
from bench.report import Result, Section

TITLE = "Society (one simulated day)"
SEED = 7
# Ticks a step command runs; every tick perceives what reached the simulator (messages, posts).
TICKS_A_COMMAND = 4
PATIENCE = timedelta(minutes=30)  # simulated time a person waits for an answer before the day goes on
ADMIN = ("bench_admin", "society bench admin passphrase")
METHOD = (
    "The whole community in one process as `make dev` runs it (auth, social, files, simulator and gateway "
    "on SQLite and the in-process bus), the default world's ten characters from 07:00 for one simulated day "
    "as fast as it runs (seed 7; stepped a few ticks an operator command, every tick perceiving what reached "
    "the simulator), once with the rule policy and once with the scripted OpenAI-compatible server as the "
    "LLM tier (rules behind it). The scripted server stands in for a model: it answers a message on topic "
    "first, otherwise mostly does what the character's plan says and sometimes another offered option, "
    "composing its own lines from a few parts (an opening, the place, a thought, an ending); so its column "
    "shows how the engine "
    "handles an LLM's decisions (conversations, sleep, the privacy guard), not how well a real model "
    "writes. Two people message the characters with questions through the gateway, one to each character "
    "an hour apart from 09:00 (aic_simulator.testing_questions). The figures are the society report's "
    "(GET /api/sim/report over the simulated day) against its goals."
)


@dataclass(frozen=True)
class Question:
    hour: int  # simulated hour of the day it is asked at
    asker: int  # which of the two people
    to: str  # the character's username
    text: str


def questions() -> list[Question]:
    """One question to each character (the shared set of aic_simulator.testing_questions), an hour apart
    from 09:00, when all of them are awake, the two people taking turns."""
    firsts: dict[str, str] = {}
    for character, text in QUESTION_SET:
        firsts.setdefault(character, text)
    return [
        Question(9 + i, i % 2, f"ai_{character}", text) for i, (character, text) in enumerate(firsts.items())
    ]


# ---------------------------------------------------------------- the scripted LLM


_PLACE = re.compile(r"^(?:Place|地点): (.+?) \(", re.MULTILINE)
# The scripted model's lines: an opening, the place, a thought on a topic, an ending, in any combination.
ZH_PARTS = (
    ("刚到", "又来到", "路过", "正待在", "晃到了", "坐在"),
    (
        "，想起了{topic}",
        "，琢磨着{topic}",
        "，顺便聊两句{topic}",
        "，脑子里全是{topic}",
        "，记下关于{topic}的一点想法",
    ),
    ("。", "，挺好。", "，记一笔。", "，心情不错。", "，慢慢来。", "，回头再说。"),
)
EN_PARTS = (
    ("Just got to", "Back at", "Passing through", "Sitting at", "Wandered over to", "Still at"),
    (
        ", thinking about {topic}",
        ", mulling over {topic}",
        ", a few notes on {topic}",
        ", head full of {topic}",
        ", trading a word about {topic}",
    ),
    (".", ", not bad.", ", noted.", ", good mood.", ", taking it slow.", ", more later."),
)
ZH_TOPICS = ("生活", "天气", "朋友", "书", "音乐", "散步", "晚饭", "工作", "周末", "旧照片")
EN_TOPICS = (
    "life",
    "the weather",
    "friends",
    "books",
    "music",
    "a walk",
    "dinner",
    "work",
    "the weekend",
    "old photos",
)
TEXT_ACTIONS = ("post", "comment", "message", "reply", "talk", "say", "goodbye")
# What the scripted model's photos show (the simulator adds where, when and the weather).
PHOTOS = ("what is in front of me right now", "the people around me", "the light on the street", "my table")
# How often the model does what its plan says rather than something else it is offered.
KEEPS_TO_PLAN = 0.6


def scripted_model(characters: frozenset[str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The scripted model (see METHOD); ``characters``: the characters' names, whose messages it treats as
    small talk rather than questions to answer."""

    def decide(request: dict[str, Any]) -> dict[str, Any]:
        if any(message.sender not in characters for message in unread_in(request)):
            return answers_on_topic(request)  # a person's message first, about what was asked
        options = options_in(request) or [{"action": "rest", "target": None}]
        prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
        rng = random.Random(hashlib.sha256(prompt.encode()).digest())  # reproducible for a prompt
        picked = follows_plan(request) if rng.random() < KEEPS_TO_PLAN else rng.choice(options)
        zh = writes_chinese(request)
        place = (_PLACE.search(prompt) or [None, "这里" if zh else "here"])[1]
        opening, thought, ending = (rng.choice(part) for part in (ZH_PARTS if zh else EN_PARTS))
        topic = rng.choice(ZH_TOPICS if zh else EN_TOPICS)
        line = f"{opening}{'' if zh else ' '}{place}{thought.format(topic=topic)}{ending}"
        answer = {
            "action": picked["action"],
            "target": picked.get("target"),
            "content": line if picked["action"] in TEXT_ACTIONS else None,
            "reason": "scripted",
        }
        if picked["action"] == "post" and "picture" in prompt and rng.random() < 0.7:
            answer["picture"] = rng.choice(PHOTOS)  # a post may carry a photo now: most do
        return answer

    return decide


def character_names() -> frozenset[str]:
    world = load_world_file(SimulatorSettings().world_file)
    return frozenset(character["display_name"] for character in world["characters"])


# ---------------------------------------------------------------- one day of the community


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """AIC_* settings for the community built inside the block (its services read the environment)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.asynccontextmanager
async def community(workdir: Path, **simulator: str) -> AsyncIterator[httpx.AsyncClient]:
    from aic_gateway.dev import build_dev_app
    from aic_gateway.settings import GatewaySettings

    settings = GatewaySettings(
        database_url="",
        broker_url="",
        data_dir=workdir,
        env="dev",
        rate_limit_per_ip=100_000,
        rate_limit_per_user=100_000,
    )
    overrides = {
        "AIC_BOOTSTRAP_ADMIN_USERNAME": ADMIN[0],
        "AIC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
        "AIC_SEED": str(SEED),
        # Slow until the characters have their accounts; then as fast as it runs.
        "AIC_SPEED": "1",
        "AIC_PRELIVE_DAYS": "0",
        **simulator,
    }
    with environment(**overrides):
        app, _ = build_dev_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as client,
    ):
        yield client


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def person(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    password = f"{username} bench passphrase"
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    (await client.post("/api/auth/register", json=body)).raise_for_status()
    return await sign_in(client, username, password)


async def control(client: httpx.AsyncClient, admin: dict[str, str], command: str, **extra: Any) -> dict:
    response = await client.post("/api/sim/control", json={"command": command, **extra}, headers=admin)
    response.raise_for_status()
    return response.json()


async def live_day(workdir: Path, hours: float, **simulator: str) -> dict[str, Any]:
    """The community lives ``hours`` simulated hours from the world's start; the report over them."""
    start = SimulatorSettings().sim_start
    end = start + timedelta(hours=hours)
    async with community(workdir, **simulator) as client:
        admin = await sign_in(client, *ADMIN)

        async def status() -> dict[str, Any]:
            return (await client.get("/api/sim/status")).json()

        async def leads() -> bool:
            return bool((await status()).get("is_leader"))

        async def answered(character: str, asker: dict[str, str]) -> bool:
            history = await client.get(f"/api/conversations/{character}/messages", headers=asker)
            return any(m["sender"]["username"] == character for m in history.json()["items"])

        async def linked() -> bool:
            agents = (await client.get("/api/sim/agents")).json()
            return bool(agents) and all(a["user_id"] for a in agents)

        await wait_for(leads, timeout=60, interval=0.2, what="the simulator leads")
        await control(client, admin, "pause")
        await wait_for(linked, timeout=60, interval=0.2, what="every character has its account")
        people = [await person(client, "bench_reader"), await person(client, "bench_walker")]
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        due = [q for q in questions() if start <= midnight + timedelta(hours=q.hour) < end]
        started = time.perf_counter()
        now = datetime.fromisoformat((await status())["sim_time"])
        while now < end:
            if due and now >= midnight + timedelta(hours=due[0].hour):
                question = due.pop(0)
                asker = people[question.asker]
                sent = await client.post(
                    "/api/messages", json={"to": question.to, "content": question.text}, headers=asker
                )
                sent.raise_for_status()
                # The asker waits for an answer a while: the town goes on a tick at a time meanwhile.
                patience = now + PATIENCE
                while now < min(patience, end) and not await answered(question.to, asker):
                    now = datetime.fromisoformat((await control(client, admin, "step", steps=1))["sim_time"])
                continue
            stepped = await control(client, admin, "step", steps=TICKS_A_COMMAND)
            now = datetime.fromisoformat(stepped["sim_time"])
        seconds = time.perf_counter() - started
        final = await control(client, admin, "status")
        window = {"since": start.isoformat(), "until": end.isoformat()}
        response = await client.get("/api/sim/report", params=window, headers=admin)
        response.raise_for_status()
        return {"report": response.json(), "seconds": seconds, "status": final}


async def run_both(hours: float) -> dict[str, dict[str, Any]]:
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        runs["rules"] = await live_day(Path(workdir) / "rules", hours)
        async with ScriptedLlmServer(default=answer(scripted_model(character_names()))) as server:
            runs["llm"] = await live_day(
                Path(workdir) / "llm",
                hours,
                AIC_LLM_BASE_URL=server.base_url,
                AIC_LLM_MODEL=server.model,
                AIC_LLM_CONCURRENCY="8",
                AIC_DECISION_TIMEOUT_SECONDS="30",
            )
            runs["llm"]["calls"] = len(server.requests)
    return runs


# ---------------------------------------------------------------- the section


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def side_by_side(runs: dict[str, dict[str, Any]]) -> str:
    rules, llm = runs["rules"]["report"]["goals"], runs["llm"]["report"]["goals"]
    lines = [f"  {'goal':<40} {'rules':>10} {'LLM':>10}   target"]
    for by_rules, by_llm in zip(rules, llm, strict=True):

        def verdict(goal: dict[str, Any]) -> str:
            return _cell(goal["value"]) + ("" if goal["met"] in (True, None) else " ✗")

        lines.append(
            f"  {by_rules['name']:<40} {verdict(by_rules):>10} {verdict(by_llm):>10}   {by_rules['target']}"
        )
    return "\n".join(lines)


def summary(name: str, run: dict[str, Any]) -> str:
    report, status = run["report"], run["status"]
    messages, questions = report["ai_messages"], report["questions"]
    pair = messages["busiest_pair"]
    return (
        f"{name}: {report['decisions']} decisions in {run['seconds']:.0f} s of wall time "
        f"(decided by {status.get('decisions_by_tier')}); {messages['count']} AI-to-AI messages"
        + (f", busiest pair {pair['a']} & {pair['b']} {pair['messages']}" if pair else "")
        + f"; {report['texts']['all']['count']} texts"
        + f"; {report['decisions_by_kind'].get('repost', 0)} reposts; questions {questions['count']} asked, "
        f"{questions['answered']} answered ({questions['answered_within_30s']} within 30 s), "
        f"{questions['on_topic']} on topic; {report['contradictions']['count']} contradictions"
        + _pictures_line(report["pictures"])
        + "".join(f" — e.g. {c['content']!r}: {c['why']}" for c in report["contradictions"]["examples"][:1])
    )


def _pictures_line(pictures: dict[str, Any]) -> str:
    return (
        f"; pictures on {pictures['attached']} of {pictures['posts']} posts ({pictures['share']:.0%}), "
        f"subjects {pictures['subjects']}, failed {pictures['failed']}, "
        f"taken elsewhere {pictures['elsewhere']}, median {pictures['median_generate_ms']} ms to make"
    )


UNITS = {
    "AI-to-AI messages share of decisions": "of decisions",
    "most messages between one pair": "messages",
    "AI-to-AI messages in sleep hours": "messages",
    "distinct texts": "of texts",
    "distinct texts after masking": "of texts",
    "posts contradicting the world": "posts",
    "private-content leaks": "texts",
    "nested reflections": "reflections",
    "questions answered on topic": "of questions",
}


def section_of(runs: dict[str, dict[str, Any]], hours: float) -> Section:
    section = Section("society", TITLE, METHOD)
    for label, key in (("rules", "rules"), ("LLM", "llm")):
        for goal in runs[key]["report"]["goals"]:
            if goal["value"] is None:
                continue
            section.results.append(
                Result(
                    TITLE,
                    f"{goal['name']} ({label})",
                    float(goal["value"]),
                    UNITS.get(goal["name"], ""),
                    goal=goal["target"],
                    met=goal["met"],
                )
            )
        section.results[-1].details.append(summary(label, runs[key]))
    span = f"{hours:g} simulated hours" if hours < 24 else "one simulated day"
    section.results[0].details.insert(0, f"{span} with each policy")
    return section


def run(ctx: Any) -> Section:
    hours = 4.0 if ctx.quick else 24.0
    runs = asyncio.run(run_both(hours))
    print(side_by_side(runs), flush=True)
    for label, key in (("rules", "rules"), ("LLM", "llm")):
        print(f"  {summary(label, runs[key])}", flush=True)
    return section_of(runs, hours)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="four simulated hours instead of a day")
    args = parser.parse_args()
    run(argparse.Namespace(quick=args.quick))


if __name__ == "__main__":
    main()
