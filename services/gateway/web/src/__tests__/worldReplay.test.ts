import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, ref } from 'vue'
import { simTimeMs } from '@/api/sim'
import { MAX_REPLAY_PAGES, PLAY_STEP_MINUTES, PLAY_TICK_MS, useReplay } from '@/components/world/useReplay'
import { mockFetch } from './helpers'
import { makeAction, makeAgent } from './simFixtures'

const NOW = '2026-06-02T08:00:00Z'

function replayOf() {
  const scope = effectScope()
  const replay = scope.run(() =>
    useReplay({ agents: ref([makeAgent('lin')]), placeIds: ref(new Set(['cafe', 'park'])), simTime: ref(NOW) }),
  )!
  return { replay, scope }
}

describe('replaying the day', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => vi.useRealTimers())

  it('loads the log in pages until one reaches before the day, and never more than the bound', async () => {
    // Every page is within the day and says there is more: the replay stops at the bound and says so.
    const { calls } = mockFetch([
      {
        path: '/api/sim/actions',
        reply: () => ({ status: 200, body: { items: [makeAction(calls.length + 1, { sim_time: '2026-06-02T07:00:00Z' })], next_cursor: '5' } }),
      },
    ])
    const { replay, scope } = replayOf()
    await replay.open()
    expect(calls).toHaveLength(MAX_REPLAY_PAGES)
    expect(calls.every((call) => call.url.includes('limit=200'))).toBe(true)
    expect(replay.cut.value).toBe(true)
    expect(replay.moment.value).toBe(simTimeMs(NOW))
    expect(replay.start.value).toBe(simTimeMs('2026-06-01T08:00:00Z'))
    scope.stop()
  })

  it('stops paging at the page that reaches before the day', async () => {
    const pages = [
      { items: [makeAction(3, { sim_time: '2026-06-02T06:00:00Z' })], next_cursor: '3' },
      { items: [makeAction(2, { sim_time: '2026-06-01T07:00:00Z' })], next_cursor: '2' },
      { items: [makeAction(1, { sim_time: '2026-06-01T06:00:00Z' })], next_cursor: null },
    ]
    const { calls } = mockFetch([{ path: '/api/sim/actions', reply: () => ({ status: 200, body: pages[calls.length - 1] }) }])
    const { replay, scope } = replayOf()
    await replay.open()
    expect(calls).toHaveLength(2)
    expect(replay.actions.value.map((action) => action.decision)).toEqual([3]) // the day only
    expect(replay.cut.value).toBe(false)
    scope.stop()
  })

  it('plays on at the chosen speed, pauses, and stops at the end of the day', async () => {
    mockFetch([{ path: '/api/sim/actions', reply: () => ({ status: 200, body: { items: [], next_cursor: null } }) }])
    vi.useFakeTimers()
    const { replay, scope } = replayOf()
    await replay.open()
    replay.seek(replay.start.value)
    replay.speed.value = 3
    replay.play()
    vi.advanceTimersByTime(PLAY_TICK_MS * 2)
    expect(replay.moment.value - replay.start.value).toBe(2 * PLAY_STEP_MINUTES * 3 * 60_000)
    replay.pause()
    vi.advanceTimersByTime(PLAY_TICK_MS * 4)
    expect(replay.moment.value - replay.start.value).toBe(2 * PLAY_STEP_MINUTES * 3 * 60_000)
    replay.seek(replay.end.value - 60_000)
    replay.play()
    vi.advanceTimersByTime(PLAY_TICK_MS * 3)
    expect(replay.moment.value).toBe(replay.end.value)
    expect(replay.playing.value).toBe(false)
    replay.close()
    expect(replay.active.value).toBe(false)
    scope.stop()
  })
})
