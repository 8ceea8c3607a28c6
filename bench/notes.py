"""What the measured numbers cannot say by themselves: why a goal is missed and what was tried (shown
under a benchmark whose goal is missed), what to know to read a figure at all (shown under every run),
and the fixes made after measuring, with their numbers."""

MISSED: dict[str, str] = {
    "gateway": (
        "On 2 cores the gateway, the service and the load generator share the same CPU, so at saturation "
        "the throughput ratio is a ratio of CPU per request: straight to social a home-feed request costs"
        " social's CPU plus the load generator's; through the gateway the gateway's comes on top. "
        "Measured on the feed mix at 100 req/s (2026-11-28): gateway 1.7 ms, social 4.1 ms, load "
        "generator 0.4 ms per request, after the gateway's own upstream transport (httpx's was about 45 % "
        "of the gateway's CPU). In production the gateway runs in pods of its own and does not take the "
        "service's cores at all."
    ),
    "feed": (
        "The figure moves with the machine more than with the code: this virtual machine ran on an Intel "
        "Xeon host until 14:20 UTC on 2026-11-28 (saturation 211-214 req/s, 100 req/s passing) and on an "
        "AMD EPYC host from 15:25 UTC (same code: saturation 354 req/s), and within one hour the same "
        "requests' CPU moved by a quarter (social 1.7-2.25 ms a home feed). At 17:20 UTC that day: 250"
        " req/s pass with p99 68 ms at 73 % busy; 300 fail with p99 124 ms (compose 192, the timelines "
        "112-114) at 82 % busy. In the full run an hour before, without the last change (fewer statements "
        "per post), 200 passed and 250 failed with p99 124 ms. The whole machine's CPU per request at 250 "
        "req/s (16:20 UTC run): gateway 1.4, social 2.7, MariaDB 1.0, simulator 0.4, load generator 0.4, "
        "RabbitMQ 0.2, files 0.1 ms, about 6.2 ms; 300 req/s with p99 under 100 ms needs the machine below "
        "about 75 % busy, so about 5 ms. Compose costs most per request (a post, its 25-40 search-term "
        "rows, its event consumed by the simulator, files and the gateway's live stream: about 27 ms of the"
        " machine's CPU measured alone at 40 posts/s, about half of the mix's total at a tenth of its "
        "requests). Tried on 2026-11-28 and dropped: social as two processes (uvicorn workers, as the "
        "Kubernetes base runs two replicas): 10-20 % more CPU per request on 2 cores, saturation 321 "
        "against 378 req/s for one process, measured an hour apart; writing each response's headers and "
        "body in one send (a coalescing uvicorn protocol): no change in CPU side by side. Done (see below):"
        " the database round trips that did nothing, fewer statements per post, the timelines serialized "
        "without models and the gateway's proxy route outside FastAPI's per-request machinery. Earlier: the"
        " home feed's page from a covering index, timelines in one Core statement, dependencies off the "
        "thread pool, token signatures remembered, the gateway's own upstream transport, no more handler "
        "threads than database connections, the start-up heap frozen. A C driver (mysqlclient) was "
        "measured, not adopted (0.75-0.81 against 1.11-1.29 ms of Python CPU for a home feed's database "
        "work) for a compiler and client headers in CI and the images. Next steps, in order: the home "
        "timeline as a precomputed list per person (DeathStarBench's design: MariaDB spends 0.9 ms on a "
        "home feed's page today, an index range on a list would cost a fraction, paid by a fan-out of about"
        " 50 rows a post); compose with fewer deliveries and statements (the simulator's 4 ms per "
        "post.created is per-message overhead of batches of one)."
    ),
    "events": (
        "The goal cannot be met on 2 cores while every action is a message of its own and every post an "
        "event to three consumers, and the numbers say why. The reference appends persistent messages to "
        "one queue: in the run above 0.06 ms of the broker's CPU and 0.09 ms of the publisher's per message"
        " (9,525 msg/s). Half of it, about 4 760 actions a second, leaves 0.42 ms of CPU per action for "
        "everything on the machine. End to end an action is five deliveries (the command into social; its "
        "post.created to the simulator, the files service and every gateway's live stream) and two "
        "databases' writes (the simulator's outbox row; social's post, counter, 25-40 search-term rows, "
        "event and idempotency record). Measured while draining 5 000 commands above: the broker 0.72 ms "
        "and MariaDB 0.57 ms of CPU per action, three times the budget before any of our Python (social "
        "1.72, the simulator 0.84, the gateway 0.38, files 0.28 ms). The figure went 107 -> 207-214 -> 333 "
        "actions/s over 2026-11-28 (the host changed in between; each step's own gain was measured side by "
        "side, see below): the database round trips that did nothing, fewer statements per post, no thread "
        "hop per consumed message, command batches without savepoints, the author's counter without a scan "
        "of the session, one insert per post the simulator sees. What limits the rate now is CPU (the "
        "machine 78 % busy, the rest social's single batch writer waiting for MariaDB). Reaching the goal "
        "needs a change of the message contract, not more tuning: the simulator sending a checkpoint's "
        "commands as one message and social announcing a batch's posts as one event, so that the broker's "
        "and the consumers' cost per action falls with the batch size; every consumer of post.created would"
        " take a list. Then, in order: the command path as set-based statements per batch (one multi-row "
        "insert of the batch's posts, search terms and counters), several social replicas sharing the "
        "command queue."
    ),
}

# What to know to read a section's figures, met or missed (shown under every run of it).
CONTEXT: dict[str, str] = {
    "feed": (
        "The figure moves with the host more than with the code. The virtual machine ran on an Intel Xeon "
        "host until 14:20 UTC on 2026-11-28 (saturation 211-214 req/s) and on an AMD EPYC host after. "
        "There, on 2026-11-28: at 17:20 UTC 250 req/s passed and 300 failed (p99 124 ms, 82 % busy); at "
        "18:02 UTC the same code passed 400 req/s (p99 73 ms, saturation 532 req/s), social's CPU per "
        "request at 300 req/s down from 2.27 to 1.60 ms with nothing changed; at 18:51 UTC (the run above, "
        "with changes that only make compose cheaper) 300 passed and 400 failed (p99 103 ms, saturation "
        "455), social at 2.23 ms a request at 300 req/s again. One run's figure is one run; to compare "
        "code, compare the CPU per request of each step, or measure two builds side by side."
    ),
}

FIXES = """
- **Day plans that do not hold the tick (2026-12-06).** With the LLM writing each character's day, a tick
  waited for all its plan calls before any of its characters decided, so the slots idled at the tail of
  every batch of plans. A character now asks for its plan in the background and decides in the first
  tick after it arrives. LLM mode, 1,000 characters at 200 ms a call for 20 s, two builds alternating
  twice: slots busy 82.6 / 82.4 % -> 94.0 / 95.5 %; against the server profiles at 2-5 s a call the
  steady state went from 84.5-90.5 % to 93-100 % (DeepSeek, which negotiates its format first, lowest).
- **A consumer without a thread hop per message (2026-11-28, evening).** Every RabbitMQ consumer took its
  message as an injected handler argument; FastDepends resolves that one with a synchronous function, so
  it ran on a worker thread: a thread hop for every message delivered, about a third of the files
  service's CPU for a `post.created` it ignores. The consumer now reads the message from FastStream's
  context. The events benchmark's scenario, two builds alternating on fresh stacks: the machine's CPU per
  action 6.13 / 5.05 -> 4.88 / 4.63 ms; per `post.created` the files service 0.38-0.46 -> 0.26-0.28 ms
  and the gateway's live stream 0.48-0.58 -> 0.34-0.35 ms.
- **Command batches without savepoints (2026-11-28, evening).** The batching inbox wrapped each message
  in a savepoint (two round trips) so that one failing message would roll back alone. A batch is now
  applied without them first; when a message raises, the batch is rolled back and run again with
  savepoints from that message on, so the guarantee holds and a batch without a refusal pays nothing
  for it. Social's command writer alone (in-process, 3 000 create-post commands into MariaDB, two builds
  alternating): statements per command 5.3 -> 3.2, CPU 1.45-1.50 -> 1.21-1.23 ms, 514-544 -> 639-653
  commands/s. Then the author's post counter updated without SQLAlchemy synchronizing the session by
  scanning every object in it (a batch holds all its actors): 1.23-1.35 -> 1.07-1.16 ms a command. The
  simulator records a `post.created` with one insert that skips a post already seen instead of a read
  and an insert, and a mention no longer loads every character to find the one named. Both together,
  the events scenario on fresh stacks, two builds alternating: social 1.73-1.78 -> 1.58-1.63 ms and the
  simulator 0.99-1.06 -> 0.82-0.86 ms of CPU an action; 332 / 351 -> 360 / 355 actions/s.
- **No database round trips that do nothing (2026-11-28).** A read was four round trips to MariaDB: a
  ping as the pool handed the connection out (pre-ping), the query, the session's ROLLBACK and the pool's
  own ROLLBACK as the connection went back (SQLAlchemy resets a returned connection even when the session
  has just ended its transaction); a write ended COMMIT, ROLLBACK. A connection is now pinged only after
  sitting idle over 5 s, and the driver's connection knows whether anything ran since its last COMMIT or
  ROLLBACK and skips a ROLLBACK that would undo nothing. Counted on the server: a read 3.53 -> 2.52
  statements, per request of the timelines. Side by side, four alternating rounds straight to social:
  2.21 -> 1.89 ms of social's CPU per timeline request, MariaDB 0.82 -> 0.74-0.80 ms.
- **Fewer statements per post (2026-11-28).** The outbox relay set READ COMMITTED per batch with a session
  option (SET, then SET again to reset it when the connection went back), and after any batch it read
  again at once, a second transaction that found nothing at low rates; a created post was answered after
  reading its author and its likes again. Now `SET TRANSACTION` for the batch's transaction alone, a new
  read only after a full batch (the wake-up is cleared before each read, so a commit meanwhile is not
  missed), and the answer built from the author already loaded. Compose alone at 40 posts/s straight to
  social, four alternating rounds: statements on the server per post 28.8 -> 18.0 (COMMITs 8.2 -> 3.4),
  social's CPU 8.1-9.4 -> 6.4-7.5 ms, MariaDB's 2.8-3.1 -> 2.2-2.5 ms per post.
- **Gateway: the proxy outside FastAPI's per-request machinery (2026-11-28).** The catch-all proxy was a
  FastAPI route: dependency solving and an exit stack per request for an endpoint that takes the raw
  request. As a plain Starlette route: 0.99-1.07 -> 0.89-0.98 ms of the gateway's CPU per proxied
  timeline request, two gateways side by side in front of the same stack.
- **Timelines serialized from their rows' fields (2026-11-28).** Twenty `PostPublic` models were built and
  validated per page only to be dumped again: 183 -> 121 us of CPU a page, measured side by side on the
  same pages. The single-post view builds its models from the same fields.
- **Social timelines in one statement, serialized once (2026-11-28).** A home feed was four ORM queries
  (followees, posts, their authors, the viewer's likes) and its answer was validated twice (FastAPI
  validates a returned model against `response_model` before serializing it). The page is now one Core
  statement joining the page's ids, the posts, their authors and the viewer's likes, built once with
  bound parameters, and its JSON is written once. The home feed's page comes from an
  `(author_id, deleted_at, id)` index alone: MariaDB read every followee's post row (about 1 000) to
  sort them; it now sorts ids in the index and reads 21 rows. Measured side by side on the seeded data
  set, 400 home feeds each: MariaDB's CPU 3.03 -> 0.70 ms per home feed. The followed authors are then
  read inside the same statement, joined first, rather than sent as an IN list of ids: for a list,
  MariaDB dived into the index once per id to estimate rows it was forced to read anyway (1.35 -> 0.55 ms
  of its CPU per home feed, side by side, same pages), and the home feed is one statement instead of
  two. Every dependency of every route is now `async` (a plain `def` dependency runs on the thread
  pool: three or four thread hops per request) and token verifiers remember the signatures they
  checked (expiry, issuer and audience are still checked each time). The feed benchmark before
  (09:50 UTC) and after (10:20 UTC) these changes but the last, same machine and day, mix at 100 req/s:
  social 6.2 -> 4.4 ms of CPU per request, p99 111 -> 33 ms; the highest passing step 50 -> 100 req/s,
  saturation 108 -> 143 req/s.
- **Gateway: its own HTTP/1.1 transport to the services.** httpx's transport (httpcore: the pure-Python
  h11 parser, a pool that examines every connection on every request, closing machinery per response) was
  about 45 % of the gateway's CPU. The gateway keeps httpx's client and errors and does the wire work
  with asyncio streams and httptools (uvicorn's C parser). The gateway's CPU per request of the feed mix
  went from 2.6-2.8 ms (10:20 UTC run) to 1.5-1.7 ms (10:45 UTC run, same machine); the home feed
  through the gateway from 0.88 to 0.96 of the direct throughput; the feed's passing step from 100 to
  150 req/s.
- **Gateway: no 502 when a service closes an idle connection.** A saturation run answered 6 of 1 600
  requests with 502 (`RemoteProtocolError: Server disconnected without sending a response`, `ReadError`):
  uvicorn closes an idle connection after 5 s and httpx kept idle connections 5 s too, so the gateway
  sometimes sent a request on a connection the service was closing. Services now keep idle connections
  75 s, the gateway's pool lets them go after 30 s, and a GET/HEAD/PUT/DELETE/OPTIONS without a body whose
  connection was closed unanswered is sent again (a POST is not). A test reproduces the closing service.
- **Gateway: headers proxied as bytes.** Decoding every request and response header to text and encoding
  it back was a tenth of the gateway's samples; they now pass as the bytes they came as.
- **Benchmark, not product: a load generator that leaves the cores to the system.** httpx cost the load
  generator 1.4 ms of CPU per request on the cores it shares with the system under test. It now sends
  through the gateway's own upstream transport (the request still encoded by httpx): 0.34-0.5 ms per
  request in the runs above; on a trivial local endpoint, side by side, 0.18 ms against 0.76-0.82 ms
  for httpx's client.
- **The start-up heap frozen (2026-11-28).** Every full collection of the garbage collector walked the
  modules, ORM mappers, validation schemas and routes that live as long as the process: pauses of
  110-130 ms in social and about 110 ms in the gateway (logged from `gc.callbacks` in the running stack
  under the feed mix), during which every request in flight waited. Each service now runs
  `gc.collect(); gc.freeze()` once its start-up is done: the same collections under load take 3-5 ms.
- **No more handler threads than database connections (2026-11-28).** Blocking handlers ran on a
  thread pool of 40 while each service keeps 20 connections: under load every request past 20 opened a
  connection and closed it after, and PyMySQL's TLS probe alone costs about 33 ms of CPU per connection
  (0.26 ms with it off). At 150 req/s of the feed mix social went from 4.3 to 6.7 ms of CPU a request
  and p50 to 5 s: more load, more connections, slower still. The thread pool now has `AIC_DB_POOL_SIZE`
  threads (the requests past them wait without one): 4.0-4.3 ms a request at 150 and 200 req/s, 50
  connections opened in a whole run, saturation 182 -> 214 req/s.
- **Consumers: each batch's acting characters in one statement (2026-11-28).** The session's identity
  map keeps a loaded object only while something refers to it, so each command read its actor again
  (one `SELECT` a command). An inbox's `prepare` now loads what a batch needs once and keeps it until
  the batch is written: 5 statements a create-post command; 3.06-3.78 ms of CPU against 5.48-6.55 ms for
  the code of the morning (alternating runs of 1 000, one process, the seeded database).
- **Consumers: six statements a create-post command instead of ten (2026-11-28).** A batch's
  idempotency claims are written by one statement after its messages (a claim another replica committed
  meanwhile makes the batch run again, skipping that message); a refusal (a broken rule, answered with
  `social.command.rejected`) is taken by the inbox after the message's savepoint rolled back, so the
  command no longer opens a savepoint of its own; outbox rows wait in the session and are inserted by
  one statement at commit, dropped with any savepoint that rolls back. Side by side in one process on
  the seeded database, 1 000 create-post commands each, alternating: 4.16 and 4.64 ms of CPU a command
  before, 3.27 and 3.52 ms after (168/152 -> 216/197 commands/s). End to end: 84-95 -> 105-111
  actions/s (three runs before, two after, same machine and day).
- **Social and simulator consumers: a commit per batch, not per message (`BatchingInbox`).** Messages
  delivered while a batch is being written form the next (group commit, no timer), up to 100, each in a
  savepoint of its own so a bad one rolls back alone and only its delivery fails; the subscription's
  prefetch (now per subscription) bounds the batch. Measured side by side in one process on the
  seeded database, create-post commands: one transaction each 11.6-12.0 ms wall / 7.8 ms CPU per
  command; one transaction for 100 with a savepoint each 7.9-11.1 ms wall / 6.0-7.9 ms CPU. End to end
  on the stack, back to back on a busy machine: 46.7 actions/s before (social 13.6 ms CPU per action),
  50-60 actions/s after (11.5 ms). The 10 000-command fault test (three SIGKILLs of social, a broker
  restart) still finds every command applied exactly once.
- **Outbox relay: READ COMMITTED on MySQL.** The relay's `SELECT ... FOR UPDATE SKIP LOCKED` ran under
  InnoDB's REPEATABLE READ, which also locks the gap after the last unsent row: every transaction that
  wrote an event (each post, each applied command) waited until the relay had published its whole batch
  and committed. A test holds a relay mid-publish and writes another event: before, it failed with a
  lock wait timeout; now it commits at once.
- **Simulator: LLM decisions run on across tick boundaries.** A tick waited for its last answer before
  the clock moved, so with n decisions a tick on c slots its last round of ceil(n / c) ran part-empty
  (16 decisions a tick at 1 000 agents: 77 % busy). A tick now ends once no more than c of its decisions
  are still on their way; those agents are *thinking* while the next tick starts, its decisions take
  the slots the stragglers leave free, and a straggler is applied in the next tick, at that tick's time
  (a tick still waits for every decision of the ticks before it, so the lag is one tick at most). Pause,
  stop and stepping apply what is on its way before they checkpoint; shutting down cancels it and those
  agents decide again. Rules have no slots, so a rule-based tick waits for all its decisions as before
  (a seeded 300-tick run gives the same digest as before the change). Side by side, 45 s each, the
  scripted 200 ms server, 8 slots: 1 000 agents 77.2 % -> 98.0 % busy (22.8 -> 37.3 LLM calls/s; all
  slots busy would be 40/s); 10 000 agents 95.2 % -> 95.7 % (35.6 -> 32.3 calls/s) and, in a second
  pair run in the other order, 92.5 % -> 98.4 % (33.8 -> 37.6 calls/s). With 170 decisions a tick the
  part-empty round was already a small share; the spread between those pairs is the machine's other
  work (a load average of 3 to 5 on 2 cores), which stretches each call beyond its 200 ms.
- **Simulator: who is at a place (`World.people_at`).** Each perception sorted everyone at the agent's
  place to take the first five. The occupants of each place are now kept in id order as agents move
  (`bisect`), and a perception reads a slice: same agents, same order, so seeded runs are unchanged
  (10 000 agents over 3 simulated hours made the same 50 819 decisions before and after). 100 000 agents
  now run at 372 decisions/s (10 000: 516/s, 1 000: 1 648/s, same run). One perception
  plus one move, 20 places, measured side by side in one process: 1 000 agents 13.7 -> 3.9 µs,
  10 000 agents 155.8 -> 4.7 µs, 100 000 agents 4 381 -> 30.1 µs. At 10 000 agents that was not yet the
  bottleneck (a profile: 42 % of wall time in the once-a-second checkpoint to SQLite, 21 % perceiving,
  15 % applying, 14 % the rules); at 100 000 it would have cost 4.4 ms per decision alone.
- **Database connection pools (all services).** Social's profile under 16 concurrent home-feed requests
  showed 37 % of its samples opening MySQL connections: the pool kept 10 and opened the overflow for every
  request past them, and PyMySQL builds a TLS context (loading the system's CA certificates) for each new
  connection even when the server has TLS off. The default pool now keeps 20. Same stack, same data set,
  side by side (CPU per request of social, measured from /proc): home feed 9.2 -> 5.8 ms, profile
  3.9 -> 2.7 ms. (The throughput of those two runs was bounded by other work on the machine.)
- **Gateway: one Redis round trip per request for rate limits.** The address and the person were two
  script calls in turn; one script now counts every key and stops at the first over its limit, as the
  two calls did. In the profile the Redis writes were about 18 % of the gateway's samples (on a machine
  that busy, time in system calls is overstated).
- **Gateway: small responses read whole.** A response that declares at most 256 KiB is read and sent in
  one piece instead of through a streaming response (a task group and a disconnect listener per request,
  about 16 % of the gateway's samples); larger or undeclared ones still stream, compressed bodies pass as
  they came. The gateway's CPU per request across these two changes: home feed 2.5 ms before, 2.1 ms
  after; profile 2.6 ms before, 1.9-2.3 ms after. Those runs were not side by side (the broker on this
  machine stopped answering in between) and the machine was busier before, so part of that is noise; a
  side-by-side run on a quiet machine is still to be made. The home feed's goal (gateway keeps at least
  80 %) went from 0.47 (busy machine, before) to 0.83 (quieter machine, after).
- **Benchmark, not product: agents' first wake-ups on whole minutes.** The simulation benchmark spread the
  first wake-ups over seconds, which the engine never does (actions end on whole minutes), so every tick
  held one agent and LLM mode could never use more than one slot (12 % busy); on whole minutes the same
  population keeps several slots busy.
"""
