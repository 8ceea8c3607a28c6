// The last simulated day replayed on the map: its actions loaded from the log in pages (bounded), a
// moment scrubbed or played through, and where everyone was and what was said at that moment.
import { computed, onScopeDispose, ref, shallowRef, type Ref } from 'vue'
import type { ActionView, AgentSummary } from '@/api/sim'
import { simTimeMs } from '@/api/sim'
import { storyApi } from '@/api/simStory'
import { agentsByPlaceAt, DAY_MS, dayActions, linesAt, positionsAt } from './story'

/** At most this many pages of the log (200 actions each) make up the replayed day. */
export const MAX_REPLAY_PAGES = 15
/** Simulated minutes a step of playing moves on, at 1×. */
export const PLAY_STEP_MINUTES = 5
export const PLAY_TICK_MS = 250
export const REPLAY_SPEEDS = [1, 3, 10] as const

export interface ReplaySource {
  agents: Ref<AgentSummary[]> | { value: AgentSummary[] }
  placeIds: { value: Set<string> }
  simTime: { value: string | null }
}

export function useReplay(source: ReplaySource) {
  const active = ref(false)
  const loading = ref(false)
  const error = ref<unknown>(null)
  const actions = shallowRef<ActionView[]>([])
  /** Whether the day had more actions than were loaded. */
  const cut = ref(false)
  const start = ref(0)
  const end = ref(0)
  const moment = ref(0)
  const playing = ref(false)
  const speed = ref<number>(REPLAY_SPEEDS[0])
  let timer: ReturnType<typeof setInterval> | null = null
  let generation = 0

  const positions = computed(() => positionsAt(actions.value, moment.value, source.agents.value, source.placeIds.value))
  const agentsByPlace = computed(() => agentsByPlaceAt(source.agents.value, positions.value))
  const lines = computed(() => linesAt(actions.value, moment.value))
  const momentIso = computed(() => new Date(moment.value).toISOString())

  async function open(): Promise<void> {
    const mine = ++generation
    active.value = true
    loading.value = true
    error.value = null
    end.value = source.simTime.value ? simTimeMs(source.simTime.value) : Date.now()
    start.value = end.value - DAY_MS
    const pages: ActionView[][] = []
    let cursor: string | null = null
    try {
      // Newest first: pages until one reaches before the day, or the bound.
      for (let page = 0; page < MAX_REPLAY_PAGES; page++) {
        const answer = await storyApi.actions(cursor)
        if (mine !== generation) return
        pages.push(answer.items)
        cursor = answer.next_cursor
        const oldest = answer.items.at(-1)
        if (!cursor || !oldest || simTimeMs(oldest.sim_time) < start.value) break
      }
      cut.value = cursor !== null && simTimeMs(pages.at(-1)?.at(-1)?.sim_time ?? '1970-01-01') >= start.value
      actions.value = dayActions(pages, start.value)
      moment.value = end.value
    } catch (failure) {
      if (mine === generation) error.value = failure
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  function close(): void {
    generation++
    pause()
    active.value = false
    loading.value = false
    actions.value = []
  }

  function seek(to: number): void {
    moment.value = Math.min(end.value, Math.max(start.value, to))
  }

  function pause(): void {
    playing.value = false
    if (timer) clearInterval(timer)
    timer = null
  }

  function play(): void {
    if (moment.value >= end.value) moment.value = start.value // from the top once at the end
    playing.value = true
    if (timer) clearInterval(timer)
    timer = setInterval(() => {
      seek(moment.value + PLAY_STEP_MINUTES * 60_000 * speed.value)
      if (moment.value >= end.value) pause()
    }, PLAY_TICK_MS)
  }

  onScopeDispose(() => pause())

  return {
    active,
    loading,
    error,
    actions,
    cut,
    start,
    end,
    moment,
    momentIso,
    playing,
    speed,
    positions,
    agentsByPlace,
    lines,
    open,
    close,
    seek,
    play,
    pause,
  }
}

export type Replay = ReturnType<typeof useReplay>
