"""Events: raw publish-with-confirm throughput of aio-pika against simulator actions persisted by social.

Reference: aio-pika publishes persistent messages with publisher confirms to a quorum queue on the same
broker, 200 in flight at a time (the outbox relay's batch), as fast as it can.

End to end: AI characters' ``social.command.create_post`` commands are written to the simulator's
outbox table in transactions of 200 (as a checkpoint writes them); the simulator's relay publishes them,
social consumes each one (checks the actor, inserts the post, its search terms, its ``post.created``
event and the idempotency record in one transaction) — the figure is posts persisted per second, from
the first commit to the last post.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import sqlalchemy as sa

from aic_common.bus import Outbox
from aic_common.db import create_db_engine, create_session_factory
from aic_common.messages import CreatePostCommand, make_envelope
from bench.harness import Context
from bench.machine import CpuMeter, local_server_pids
from bench.report import Result, Section
from bench.topology import BROKER_URL

TITLE = "Events"
BATCH = 200
METHOD = __doc__.split("\n\n", 1)[1].strip()


async def raw_publish_rate(broker_url: str, body: bytes, count: int) -> float:
    """Messages per second; this process publishes them."""
    import aio_pika

    run = uuid.uuid4().hex[:8]
    connection = await aio_pika.connect(broker_url, timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            f"benchraw.{run}", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"benchraw.{run}", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "#")
        try:
            started = time.perf_counter()
            for first in range(0, count, BATCH):
                await asyncio.gather(
                    *(
                        exchange.publish(
                            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                            routing_key="social.command.create_post",
                        )
                        for _ in range(first, min(count, first + BATCH))
                    )
                )
            seconds = time.perf_counter() - started
        finally:
            await queue.delete(if_unused=False, if_empty=False)
            await exchange.delete()
        return count / seconds
    finally:
        await connection.close()


def run(ctx: Context) -> Section:
    section = Section("events", TITLE, METHOD)
    stack = ctx.stack
    count = 300 if ctx.quick else 5000
    actors = stack.ai_people()
    if not actors:
        raise RuntimeError("the seeded data set has no AI characters")
    run_id = uuid.uuid4().hex[:8]
    sample = make_envelope(
        CreatePostCommand(actor_id=actors[0].id, content="今天在咖啡馆写了一首小诗 #coffee"),
        producer="simulator",
    )
    servers = local_server_pids()
    raw_meter = CpuMeter({"publisher": os.getpid(), **servers}).start()
    raw_rate = asyncio.run(raw_publish_rate(BROKER_URL, sample.model_dump_json().encode(), count))
    raw_cpu = raw_meter.stop()
    print(f"  raw aio-pika publish with confirms: {raw_rate:,.0f} msg/s", flush=True)

    social = stack.social_engine()
    simulator = create_db_engine(stack.database_url("simulator"))
    try:
        with social.connect() as conn:
            last_post = conn.scalar(sa.text("SELECT COALESCE(MAX(id), 0) FROM posts")) or 0
        outbox = Outbox("simulator")
        sessions = create_session_factory(simulator)
        # Every process the commands and their post.created events pass through.
        consumers = ("simulator", "social", "gateway", "files")
        services = {name: pid for name, pid in stack.pids().items() if name in consumers}
        meter = CpuMeter({**services, **servers})
        meter.start()
        started = time.perf_counter()
        for first in range(0, count, BATCH):
            with sessions.begin() as session:
                for index in range(first, min(count, first + BATCH)):
                    actor = actors[index % len(actors)]
                    content = f"bench {run_id} #{index} 今天在咖啡馆写了一首小诗"
                    outbox.add(session, CreatePostCommand(actor_id=actor.id, content=content))
        written = time.perf_counter() - started
        deadline = started + (60 if ctx.quick else 600)
        persisted = 0
        query = sa.text("SELECT COUNT(*) FROM posts WHERE id > :last AND content LIKE :mark")
        while time.perf_counter() < deadline:
            with social.connect() as conn:
                persisted = conn.scalar(query, {"last": last_post, "mark": f"bench {run_id} #%"}) or 0
            if persisted >= count:
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        cpu = meter.stop()
    finally:
        social.dispose()
        simulator.dispose()
    if persisted < count:
        raise RuntimeError(f"only {persisted} of {count} commands were persisted within the time allowed")
    e2e_rate = count / seconds
    section.results.append(
        Result(
            TITLE,
            "simulator actions persisted by social",
            e2e_rate,
            "actions/s",
            reference_name="raw aio-pika publish with confirms",
            reference_value=raw_rate,
            goal="end to end at least half the raw reference",
            met=e2e_rate >= raw_rate / 2,
            details=[
                f"{count} commands in {seconds:.1f} s (writing them to the outbox took {written:.2f} s)",
                f"raw reference: {count} persistent messages, {BATCH} in flight, {raw_rate:,.0f} msg/s",
                f"CPU while draining: {cpu.summary(e2e_rate, 'action')}",
                f"CPU of the raw reference: {raw_cpu.summary(raw_rate, 'message')}",
            ],
        )
    )
    print(section.results[-1].line(), flush=True)
    return section
