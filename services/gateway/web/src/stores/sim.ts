import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import {
  simApi,
  simTimeMs,
  type ActionView,
  type AgentSummary,
  type EventCreate,
  type GameEvent,
  type LocationView,
  type SimActionFinishedData,
  type SimActionStartedData,
  type SimClockAdvancedData,
  type SimCommand,
  type SimRunState,
  type SimStateChangedData,
  type SimStatus,
  type WorldMapView,
} from '@/api/sim'
import type { SpokenLine } from '@/components/world/mapGeometry'
import type { LiveEvent } from '@/api/types'
import { useLiveStore } from './live'

/** The ticker keeps this many of the latest actions. */
export const TICKER_LIMIT = 30
/** After a line is said live, its text is read from the action log this much later, this many actions. */
export const SPOKEN_FETCH_DELAY_MS = 1500
const SPOKEN_FETCH_LIMIT = 10
/** Live events move the characters; this refetch catches what a dropped connection missed. */
export const FALLBACK_REFRESH_MS = 15_000

/** A place of the world; who is there lives in `agents` (it changes with every move). */
export type Place = Omit<LocationView, 'agents'>

export interface TickerEntry {
  /** The decision number: the same in the action log and in live events. */
  id: string
  agentId: string
  action: string
  simTime: string
  locationId: string | null
  /** The text of a post or comment (public anyway); null for every other kind. */
  text: string | null
  /** Whom or what the action concerned, when known (the log says, live events do not). */
  target: string | null
  /** The target's name when the log gives it (a reposted post's author); live events do not. */
  targetName?: string | null
}

export interface FollowOptions {
  /** Also refetch the status this often (the operator console). */
  statusEveryMs?: number
}

// Kinds whose text is public (it lands on the feed), so the ticker may quote it.
const QUOTED_ACTIONS = new Set(['post', 'repost', 'comment'])
// Lines said aloud: the action log carries their text, and the map shows it in a bubble.
export const SPOKEN_ACTIONS = new Set(['talk', 'say', 'goodbye'])

function entryFromLog(action: ActionView): TickerEntry {
  // A line that went by direct message is private: an operator's log has its text, the town never shows it.
  const quoted =
    QUOTED_ACTIONS.has(action.action) || (SPOKEN_ACTIONS.has(action.action) && action.trace?.channel !== 'dm')
  return {
    id: String(action.decision),
    agentId: action.agent_id,
    action: action.action,
    simTime: action.sim_time,
    locationId: action.location_id,
    text: quoted ? action.content : null,
    target: action.target,
    targetName: action.target_name ?? null,
  }
}

function entryFromLive(data: SimActionStartedData): TickerEntry {
  return {
    id: data.action_id,
    agentId: data.agent_id,
    action: data.action,
    simTime: data.sim_time,
    locationId: data.location_id,
    text: QUOTED_ACTIONS.has(data.action) ? data.summary : null,
    target: null,
  }
}

function isActiveAt(event: GameEvent, now: number): boolean {
  return simTimeMs(event.starts_at) <= now && now < simTimeMs(event.ends_at)
}

export const useSimStore = defineStore('sim', () => {
  const places = ref<Place[]>([])
  const agents = ref<AgentSummary[]>([])
  const events = ref<GameEvent[]>([])
  const simTime = ref<string | null>(null)
  const runState = ref<SimRunState | null>(null)
  const speed = ref<number | null>(null)
  const status = ref<SimStatus | null>(null)
  const ticker = ref<TickerEntry[]>([])
  /** The world file's map section (null: the map derives paths). */
  const worldMap = ref<WorldMapView | null>(null)
  const loaded = ref(false)
  const loadError = ref<unknown>(null)
  // The decision each character is carrying out, so a late "finished" cannot clear a newer action.
  const currentActionIds = new Map<string, string>()

  const agentsById = computed(() => new Map(agents.value.map((agent) => [agent.id, agent])))
  const placesById = computed(() => new Map(places.value.map((place) => [place.id, place])))
  const agentsByPlace = computed(() => {
    const byPlace = new Map<string, AgentSummary[]>()
    for (const agent of agents.value) {
      const here = byPlace.get(agent.location_id)
      if (here) here.push(agent)
      else byPlace.set(agent.location_id, [agent])
    }
    return byPlace
  })
  // Events that have not ended at the simulated time, current ones first, then by start.
  const currentEvents = computed(() => {
    const now = simTime.value ? simTimeMs(simTime.value) : Date.now()
    return events.value.filter((event) => isActiveAt(event, now))
  })
  const upcomingEvents = computed(() => {
    const now = simTime.value ? simTimeMs(simTime.value) : Date.now()
    return events.value.filter((event) => simTimeMs(event.starts_at) > now)
  })
  // What the characters said aloud or posted lately, for the map's speech bubbles.
  const spokenLines = computed<SpokenLine[]>(() =>
    ticker.value
      .filter((entry) => entry.text && (SPOKEN_ACTIONS.has(entry.action) || QUOTED_ACTIONS.has(entry.action)))
      .map((entry) => ({ id: entry.id, agentId: entry.agentId, text: entry.text!, simTime: entry.simTime })),
  )
  // The town's first days run as fast as they can; a status without the fields is not catching up.
  const catchingUp = computed(() => status.value?.catching_up === true)
  const catchUpUntil = computed(() => (catchingUp.value ? (status.value?.catch_up_until ?? null) : null))

  function applyStatus(next: SimStatus): void {
    status.value = next
    // A standby instance gives the leader's last checkpoint: no state before there is one.
    if (next.state) runState.value = next.state
    if (next.sim_time) simTime.value = next.sim_time
    if (next.speed !== undefined) speed.value = next.speed
  }

  function setEvents(list: GameEvent[]): void {
    events.value = [...list].sort((a, b) => simTimeMs(a.starts_at) - simTimeMs(b.starts_at))
  }

  function addToTicker(entries: TickerEntry[]): void {
    const byId = new Map(ticker.value.map((entry) => [entry.id, entry]))
    for (const entry of entries) byId.set(entry.id, { ...byId.get(entry.id), ...entry })
    // Decision numbers grow with time: newest first whatever order the entries came in.
    ticker.value = [...byId.values()].sort((a, b) => Number(b.id) - Number(a.id)).slice(0, TICKER_LIMIT)
  }

  /** Everything the World page shows; the ticker starts from the latest logged actions. Parts of one page
   *  that ask at once (the landing page and its right column) share one load. */
  let worldLoading: Promise<void> | null = null
  const loadingWorld = ref(false) // a load on its way: what others need of the world comes with it
  function loadWorld(): Promise<void> {
    if (!worldLoading) {
      loadingWorld.value = true
      worldLoading = fetchWorld().finally(() => {
        worldLoading = null
        loadingWorld.value = false
      })
    }
    return worldLoading
  }

  async function fetchWorld(): Promise<void> {
    loadError.value = null
    try {
      const [world, upcoming, latest, current] = await Promise.all([
        simApi.world(),
        simApi.events(),
        // Nice to have: an empty ticker fills up from live events anyway.
        simApi.actions({}, null, TICKER_LIMIT).catch(() => null),
        simApi.status().catch(() => null),
      ])
      places.value = world.locations.map(({ agents: _agents, ...place }) => place)
      worldMap.value = world.map ?? null
      agents.value = world.locations.flatMap((place) => place.agents)
      currentActionIds.clear()
      if (world.sim_time) simTime.value = world.sim_time
      setEvents(upcoming)
      if (latest) addToTicker(latest.items.map(entryFromLog))
      if (current) applyStatus(current)
      loaded.value = true
    } catch (error) {
      loadError.value = error
      throw error
    }
  }

  async function refreshAgents(): Promise<void> {
    agents.value = await simApi.agents()
  }

  async function refreshEvents(): Promise<void> {
    setEvents(await simApi.events())
  }

  async function refreshStatus(): Promise<SimStatus> {
    const next = await simApi.status()
    applyStatus(next)
    return next
  }

  /** Start, pause, step... (admins). The answer is the new status; errors are the caller's to show. */
  async function control(command: SimCommand, options: { steps?: number; speed?: number } = {}): Promise<SimStatus> {
    const next = await simApi.control({ command, ...options })
    applyStatus(next)
    return next
  }

  async function createEvent(body: EventCreate): Promise<GameEvent> {
    const created = await simApi.createEvent(body)
    setEvents([...events.value.filter((event) => event.id !== created.id), created])
    return created
  }

  // ------------------------------------------------------------------ live events

  function onActionStarted(data: SimActionStartedData): void {
    const agent = agentsById.value.get(data.agent_id)
    if (!agent) {
      void refreshAgents().catch(() => undefined) // a character we have not seen yet
    } else {
      agent.current_action = data.action
      // A move starts at the destination: that is where the character now is.
      if (data.location_id && placesById.value.has(data.location_id)) agent.location_id = data.location_id
    }
    currentActionIds.set(data.agent_id, data.action_id)
    addToTicker([entryFromLive(data)])
    // Live events do not carry what was said: the log does, a moment later.
    if (SPOKEN_ACTIONS.has(data.action)) fetchSpokenSoon()
  }

  let spokenTimer: ReturnType<typeof setTimeout> | null = null
  /** The latest logged actions, once for a burst of lines said, so their bubbles show the words. */
  function fetchSpokenSoon(): void {
    if (spokenTimer) return
    spokenTimer = setTimeout(() => {
      spokenTimer = null
      void simApi
        .actions({}, null, SPOKEN_FETCH_LIMIT)
        .then((page) => addToTicker(page.items.map(entryFromLog)))
        .catch(() => undefined)
    }, SPOKEN_FETCH_DELAY_MS)
  }

  function onActionFinished(data: SimActionFinishedData): void {
    const agent = agentsById.value.get(data.agent_id)
    const current = currentActionIds.get(data.agent_id)
    if (!agent || (current !== undefined && current !== data.action_id)) return
    if (current === undefined && agent.current_action !== data.action) return
    agent.current_action = null
    currentActionIds.delete(data.agent_id)
  }

  function onClockAdvanced(data: SimClockAdvancedData): void {
    simTime.value = data.sim_time
    if (status.value) status.value.sim_time = data.sim_time
  }

  function onStateChanged(data: SimStateChangedData): void {
    runState.value = data.state
    speed.value = data.speed
    simTime.value = data.sim_time
    if (status.value) Object.assign(status.value, { state: data.state, speed: data.speed, sim_time: data.sim_time })
  }

  function handle<D>(handler: (data: D) => void): (event: LiveEvent) => void {
    return (event) => handler(event.data as unknown as D)
  }

  async function refreshQuietly(withStatus: boolean): Promise<void> {
    await Promise.allSettled([refreshAgents(), refreshEvents(), withStatus ? refreshStatus() : null])
  }

  /**
   * Keeps the store current while a page shows it: live events as they come, and a periodic
   * refetch for what a dropped stream missed. Returns the function that stops following.
   */
  function follow(options: FollowOptions = {}): () => void {
    const live = useLiveStore()
    const unsubscribe = [
      live.on('sim.action.started', handle(onActionStarted)),
      live.on('sim.action.finished', handle(onActionFinished)),
      live.on('sim.clock.advanced', handle(onClockAdvanced)),
      live.on('sim.state.changed', handle<SimStateChangedData>((data) => {
        onStateChanged(data)
        if (options.statusEveryMs) void refreshStatus().catch(() => undefined) // counters changed too
      })),
      live.on('reset', () => void loadWorld().catch(() => undefined)),
    ]
    const timers = [
      setInterval(() => {
        if (!document.hidden) void refreshQuietly(true)
      }, FALLBACK_REFRESH_MS),
    ]
    if (options.statusEveryMs) {
      timers.push(
        setInterval(() => {
          if (!document.hidden) void refreshStatus().catch(() => undefined)
        }, options.statusEveryMs),
      )
    }
    return () => {
      unsubscribe.forEach((off) => off())
      timers.forEach((timer) => clearInterval(timer))
      if (spokenTimer) clearTimeout(spokenTimer)
      spokenTimer = null
    }
  }

  return {
    places,
    agents,
    events,
    simTime,
    runState,
    speed,
    status,
    ticker,
    worldMap,
    spokenLines,
    loaded,
    loadingWorld,
    loadError,
    agentsById,
    placesById,
    agentsByPlace,
    currentEvents,
    upcomingEvents,
    catchingUp,
    catchUpUntil,
    loadWorld,
    refreshAgents,
    refreshEvents,
    refreshStatus,
    control,
    createEvent,
    follow,
  }
})
