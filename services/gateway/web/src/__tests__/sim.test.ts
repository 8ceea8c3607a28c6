import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/client'
import { tokens } from '@/api/tokens'
import { useLiveStore } from '@/stores/live'
import { FALLBACK_REFRESH_MS, TICKER_LIMIT, useSimStore } from '@/stores/sim'
import { authorization, mockFetch, type Route } from './helpers'
import { actionStarted, liveEvent, makeAction, makeAgent, makeEvent, makeStatus, makeWorld } from './simFixtures'

function worldRoutes(extra: Route[] = []): Route[] {
  return [
    ...extra,
    { path: '/api/sim/world', reply: () => ({ status: 200, body: makeWorld() }) },
    {
      path: '/api/sim/events',
      reply: () => ({
        status: 200,
        body: [
          makeEvent('2', { starts_at: '2026-06-01T15:00:00Z', ends_at: '2026-06-01T17:00:00Z' }),
          makeEvent('1', { starts_at: '2026-06-01T06:00:00Z', ends_at: '2026-06-01T11:00:00Z' }),
        ],
      }),
    },
    {
      path: '/api/sim/actions',
      reply: () => ({
        status: 200,
        body: {
          items: [
            makeAction(8, { agent_id: 'lin', action: 'post', content: 'Fresh coffee!' }),
            // The log hides private text from non-operators, and the store never quotes a message.
            makeAction(7, { agent_id: 'chen', action: 'reply', content: 'secret' }),
          ],
          next_cursor: null,
        },
      }),
    },
    { path: '/api/sim/status', reply: () => ({ status: 200, body: makeStatus({ sim_time: '2026-06-01T08:01:00' }) }) },
  ]
}

const placeOf = (sim: ReturnType<typeof useSimStore>, agentId: string) =>
  [...sim.agentsByPlace.entries()].find(([, agents]) => agents.some((a) => a.id === agentId))?.[0]

describe('sim store', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
  })
  afterEach(() => vi.useRealTimers())

  it('loads the places, who is where, the events in order, the status and the latest actions', async () => {
    mockFetch(worldRoutes())
    const sim = useSimStore()
    await sim.loadWorld()

    expect(sim.places.map((p) => p.id)).toEqual(['cafe', 'park', 'bar'])
    expect(sim.agentsByPlace.get('cafe')?.map((a) => a.id)).toEqual(['lin', 'chen'])
    expect(sim.events.map((e) => e.id)).toEqual(['1', '2'])
    // The status (the engine's own clock) is newer than the world's checkpoint.
    expect(sim.simTime).toBe('2026-06-01T08:01:00')
    expect(sim.runState).toBe('running')
    expect(sim.currentEvents.map((e) => e.id)).toEqual(['1'])
    expect(sim.upcomingEvents.map((e) => e.id)).toEqual(['2'])
    expect(sim.ticker.map((e) => [e.id, e.action, e.text])).toEqual([
      ['8', 'post', 'Fresh coffee!'],
      ['7', 'reply', null],
    ])
    expect(sim.loaded).toBe(true)
  })

  it('shares one load between the parts of a page that ask at once, and loads again after it', async () => {
    const { calls } = mockFetch(worldRoutes())
    const sim = useSimStore()
    const worldCalls = () => calls.filter((call) => call.url.includes('/api/sim/world')).length
    await Promise.all([sim.loadWorld(), sim.loadWorld()]) // the landing page and its right column
    expect(worldCalls()).toBe(1)
    await sim.loadWorld() // coming back to the page later
    expect(worldCalls()).toBe(2)
  })

  it('moves characters and updates what they do from live events', async () => {
    mockFetch(worldRoutes())
    const sim = useSimStore()
    const live = useLiveStore()
    await sim.loadWorld()
    const stop = sim.follow()

    await live.dispatch(actionStarted('20', 'lin', 'move', { location_id: 'park', summary: '→ park' }))
    expect(placeOf(sim, 'lin')).toBe('park')
    expect(sim.agentsById.get('lin')?.current_action).toBe('move')
    expect(sim.ticker[0]).toMatchObject({ id: '20', agentId: 'lin', action: 'move', locationId: 'park', text: null })

    // A move to a place the map does not know leaves the character where it was.
    await live.dispatch(actionStarted('21', 'emma', 'move', { location_id: 'nowhere' }))
    expect(placeOf(sim, 'emma')).toBe('park')

    // A "finished" for an older action must not clear the newer one.
    await live.dispatch(actionStarted('22', 'lin', 'talk', { location_id: 'park' }))
    await live.dispatch(liveEvent('sim.action.finished', 'f20', { action_id: '20', agent_id: 'lin', action: 'move' }))
    expect(sim.agentsById.get('lin')?.current_action).toBe('talk')
    await live.dispatch(liveEvent('sim.action.finished', 'f22', { action_id: '22', agent_id: 'lin', action: 'talk' }))
    expect(sim.agentsById.get('lin')?.current_action).toBeNull()

    await live.dispatch(
      liveEvent('sim.clock.advanced', 'c1', { sim_time: '2026-06-01T09:15:00', previous_sim_time: '2026-06-01T09:00:00' }),
    )
    expect(sim.simTime).toBe('2026-06-01T09:15:00')
    expect(sim.status?.sim_time).toBe('2026-06-01T09:15:00')
    await live.dispatch(liveEvent('sim.state.changed', 's1', { state: 'paused', sim_time: '2026-06-01T09:15:00', speed: 600 }))
    expect(sim.runState).toBe('paused')
    expect(sim.speed).toBe(600)

    stop()
    await live.dispatch(actionStarted('30', 'lin', 'move', { location_id: 'cafe' }))
    expect(placeOf(sim, 'lin')).toBe('park') // no longer following
  })

  it('keeps the ticker bounded, newest first, each action once', async () => {
    mockFetch(worldRoutes())
    const sim = useSimStore()
    const live = useLiveStore()
    await sim.loadWorld()
    const stop = sim.follow()
    for (let n = 100; n < 100 + TICKER_LIMIT + 10; n++) {
      await live.dispatch(actionStarted(String(n), 'chen', 'post', { summary: `post ${n}` }))
    }
    await live.dispatch(actionStarted('105', 'chen', 'post', { summary: 'post 105' })) // replayed after a reconnect
    const newest = 100 + TICKER_LIMIT + 9
    expect(sim.ticker).toHaveLength(TICKER_LIMIT)
    expect(sim.ticker[0]).toMatchObject({ id: String(newest), text: `post ${newest}` })
    expect(new Set(sim.ticker.map((e) => e.id)).size).toBe(TICKER_LIMIT)
    expect(sim.ticker.map((e) => Number(e.id))).toEqual([...sim.ticker.map((e) => Number(e.id))].sort((a, b) => b - a))
    stop()
  })

  it('sends control commands with the token and takes the status they answer', async () => {
    tokens.save('access-1', 'refresh-1')
    const { calls } = mockFetch([
      {
        method: 'POST',
        path: '/api/sim/control',
        reply: (init) => {
          const body = JSON.parse(String(init.body)) as { command: string; steps?: number }
          if (body.command === 'step') return { status: 200, body: makeStatus({ state: 'paused', steps: 15 }) }
          return { status: 200, body: makeStatus({ state: 'paused' }) }
        },
      },
    ])
    const sim = useSimStore()
    await sim.control('pause')
    const stepped = await sim.control('step', { steps: 5 })
    expect(calls.map((c) => JSON.parse(String(c.init.body)))).toEqual([{ command: 'pause' }, { command: 'step', steps: 5 }])
    expect(authorization(calls[0]!.init)).toBe('Bearer access-1')
    expect(stepped.steps).toBe(15)
    expect(sim.status?.steps).toBe(15)
    expect(sim.runState).toBe('paused')
  })

  it('keeps the last status when a command is refused, and says why', async () => {
    mockFetch([
      { path: '/api/sim/status', reply: () => ({ status: 200, body: makeStatus() }) },
      {
        method: 'POST',
        path: '/api/sim/control',
        reply: () => ({ status: 409, body: { detail: 'Pause the simulation before stepping it', code: 'running' } }),
      },
    ])
    const sim = useSimStore()
    await sim.refreshStatus()
    const refused = sim.control('step', { steps: 1 })
    await expect(refused).rejects.toBeInstanceOf(ApiError)
    await expect(refused).rejects.toMatchObject({ status: 409, code: 'running' })
    expect(sim.runState).toBe('running')
    expect(sim.status?.steps).toBe(10)
  })

  it('remembers a failed load for the page to show', async () => {
    mockFetch([{ path: '/api/sim/world', reply: () => ({ status: 503, body: { detail: 'down', code: 'upstream_unavailable' } }) }])
    const sim = useSimStore()
    await expect(sim.loadWorld()).rejects.toMatchObject({ code: 'upstream_unavailable' })
    expect(sim.loadError).toMatchObject({ code: 'upstream_unavailable' })
    expect(sim.loaded).toBe(false)
  })

  it('refetches the characters periodically in case the stream missed a move, until stopped', async () => {
    vi.useFakeTimers()
    const { calls } = mockFetch(
      worldRoutes([{ path: '/api/sim/agents', reply: () => ({ status: 200, body: [makeAgent('lin', { location_id: 'bar' })] }) }]),
    )
    const sim = useSimStore()
    await sim.loadWorld()
    const stop = sim.follow()
    await vi.advanceTimersByTimeAsync(FALLBACK_REFRESH_MS)
    expect(calls.filter((c) => c.url === '/api/sim/agents')).toHaveLength(1)
    expect(placeOf(sim, 'lin')).toBe('bar')
    stop()
    await vi.advanceTimersByTimeAsync(FALLBACK_REFRESH_MS * 2)
    expect(calls.filter((c) => c.url === '/api/sim/agents')).toHaveLength(1)
  })

  it('reads the state from the leader checkpoint when a standby instance answers', async () => {
    mockFetch([
      {
        path: '/api/sim/status',
        reply: () => ({
          status: 200,
          body: {
            role: 'standby',
            is_leader: false,
            leader: null,
            state: 'paused',
            sim_time: '2026-06-02T10:00:00',
            steps: 99,
            checkpoint: { state: 'paused', sim_time: '2026-06-02T10:00:00', steps: 99 },
          },
        }),
      },
    ])
    const sim = useSimStore()
    await sim.refreshStatus()
    expect(sim.runState).toBe('paused')
    expect(sim.simTime).toBe('2026-06-02T10:00:00')
    expect(sim.status?.role).toBe('standby')
  })
})
