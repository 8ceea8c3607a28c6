import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { tokens } from '@/api/tokens'
import { useAuthStore } from '@/stores/auth'
import { useFeedStore } from '@/stores/feed'
import { useLiveStore } from '@/stores/live'
import { authorization, makePost, mockFetch } from './helpers'

/** Records what the store opens; tests push frames and errors through it. */
class FakeEventSource {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSED = 2
  static instances: FakeEventSource[] = []
  readyState = FakeEventSource.CONNECTING
  onopen: (() => void) | null = null
  onerror: (() => void) | null = null
  private listeners = new Map<string, (event: MessageEvent<string>) => void>()

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this)
  }
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    this.listeners.set(type, listener)
  }
  close(): void {
    this.readyState = FakeEventSource.CLOSED
  }
  emit(type: string, id: string, data: Record<string, unknown>): void {
    const frame = { type, id, occurred_at: '2026-01-01T00:00:00Z', data }
    this.listeners.get(type)?.(new MessageEvent(type, { data: JSON.stringify(frame), lastEventId: id }))
  }
}

function jwtExpiringIn(seconds: number): string {
  const payload = btoa(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + seconds }))
  return `h.${payload.replace(/=+$/, '')}.s`
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('live store', () => {
  beforeEach(() => {
    localStorage.clear()
    FakeEventSource.instances = []
    vi.stubGlobal('EventSource', FakeEventSource)
    setActivePinia(createPinia())
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it("keeps others' live posts aside for the pill, shows one's own at once, and counts notifications", async () => {
    const others = makePost('7', { content: 'live!', author: { ...makePost('7').author, id: 'u9' } })
    mockFetch([
      { path: '/api/posts/7', reply: () => ({ status: 200, body: others }) },
      { path: '/api/posts/8', reply: () => ({ status: 200, body: makePost('8', { content: 'mine' }) }) },
    ])
    const live = useLiveStore()
    const feed = useFeedStore()
    useAuthStore().user = { id: 'u1', username: 'alice', display_name: 'Alice', role: 'user', is_ai: false, created_at: '', email: null }
    feed.prepend('explore', makePost('6'))
    feed.prepend('latest', makePost('6'))

    await live.dispatch({ type: 'post.created', id: 'e1', occurred_at: '', data: { post_id: '7', author_id: 'u9' } })
    await live.dispatch({ type: 'post.created', id: 'e2', occurred_at: '', data: { post_id: '7', author_id: 'u9' } })
    for (const kind of ['explore', 'latest'] as const) {
      expect(feed.feeds[kind].items.map((p) => p.id)).toEqual(['6']) // nothing moves under the reader
      expect(feed.feeds[kind].arrived.map((p) => p.id)).toEqual(['7']) // once
    }
    expect(feed.feeds.home.items).toHaveLength(0) // not someone we are known to follow
    expect(feed.feeds.home.arrived).toHaveLength(0)

    await live.dispatch({ type: 'post.created', id: 'e2b', occurred_at: '', data: { post_id: '8', author_id: 'u1' } })
    for (const kind of ['home', 'explore', 'latest'] as const) expect(feed.feeds[kind].items[0]!.id).toBe('8')

    await live.dispatch({ type: 'notification.created', id: 'e3', occurred_at: '', data: { user_id: 'u1', kind: 'like' } })
    await live.dispatch({ type: 'notification.created', id: 'e4', occurred_at: '', data: { user_id: 'u1', kind: 'comment' } })
    expect(live.unreadNotifications).toBe(2)
    expect(live.lastEventId).toBe('e4')
    live.markNotificationsSeen()
    expect(live.unreadNotifications).toBe(0)
  })

  it('connects with a stream ticket, never the token, and reconnects with a new ticket and last_event_id', async () => {
    vi.useFakeTimers()
    const access = jwtExpiringIn(600)
    tokens.save(access, 'r1')
    let issued = 0
    const { calls } = mockFetch([
      { method: 'POST', path: '/api/stream/ticket', reply: () => ({ status: 201, body: { ticket: `t${++issued}`, expires_in: 30 } }) },
      { path: '/api/posts/1', reply: () => ({ status: 404, body: { detail: 'gone', code: 'not_found' } }) },
    ])
    const live = useLiveStore()
    await live.connect()
    const first = FakeEventSource.instances[0]!
    expect(first.url).toBe('/api/stream?ticket=t1')
    const ticketCall = calls.find((call) => call.url.endsWith('/api/stream/ticket'))!
    expect(authorization(ticketCall.init)).toBe(`Bearer ${access}`) // the token goes in a header only
    first.onopen?.()
    expect(live.connected).toBe(true)

    first.emit('notification.created', 'evt-41', { user_id: 'u1', kind: 'follow' })
    expect(live.unreadNotifications).toBe(1)

    // The stream broke; the browser would retry with the spent ticket, so the store reconnects itself.
    first.onerror?.()
    expect(live.connected).toBe(false)
    expect(first.readyState).toBe(FakeEventSource.CLOSED)
    await vi.advanceTimersByTimeAsync(1000)
    const second = FakeEventSource.instances[1]!
    const query = new URL(second.url, 'http://x').searchParams
    expect(query.get('ticket')).toBe('t2')
    expect(query.get('last_event_id')).toBe('evt-41')
    expect(FakeEventSource.instances.every((source) => !source.url.includes(access))).toBe(true)

    live.disconnect()
    expect(second.readyState).toBe(FakeEventSource.CLOSED)
  })

  it('opens an anonymous stream without a ticket and lets the browser retry it', async () => {
    vi.useFakeTimers()
    const { calls } = mockFetch([])
    const live = useLiveStore()
    await live.connect()
    const source = FakeEventSource.instances[0]!
    expect(source.url).toBe('/api/stream')
    source.onerror?.() // CONNECTING: the browser retries by itself
    await vi.advanceTimersByTimeAsync(30000)
    expect(FakeEventSource.instances).toHaveLength(1)
    expect(calls.filter((call) => call.url.includes('/stream/ticket'))).toHaveLength(0)
  })

  it('retries later when no ticket can be had, rather than open a stream without the person', async () => {
    vi.useFakeTimers()
    tokens.save(jwtExpiringIn(600), 'r1')
    let available = false
    mockFetch([
      {
        method: 'POST',
        path: '/api/stream/ticket',
        reply: () => (available ? { status: 201, body: { ticket: 'late', expires_in: 30 } } : { status: 503, body: { detail: 'down', code: 'service_unavailable' } }),
      },
    ])
    const live = useLiveStore()
    await live.connect()
    expect(FakeEventSource.instances).toHaveLength(0)
    available = true
    await vi.advanceTimersByTimeAsync(1000)
    expect(FakeEventSource.instances.map((source) => source.url)).toEqual(['/api/stream?ticket=late'])
  })

  it('refetches the feeds on reset', async () => {
    mockFetch([
      { path: '/api/feed/home', reply: () => ({ status: 200, body: { items: [makePost('h1')], next_cursor: null } }) },
      { path: '/api/feed/explore', reply: () => ({ status: 200, body: { items: [makePost('x1')], next_cursor: null } }) },
    ])
    const live = useLiveStore()
    const feed = useFeedStore()
    feed.prepend('explore', makePost('stale'))
    await live.dispatch({ type: 'reset', id: '', occurred_at: '', data: {} })
    await flush()
    expect(feed.feeds.explore.items.map((p) => p.id)).toEqual(['x1'])
    expect(feed.feeds.home.items.map((p) => p.id)).toEqual(['h1'])
  })
})

describe('live store subscriptions', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('calls listeners of the event type until they unsubscribe, and survives one that throws', async () => {
    const live = useLiveStore()
    const seen: string[] = []
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    live.on('sim.action.started', () => {
      throw new Error('broken page')
    })
    const off = live.on('sim.action.started', (event) => seen.push(String(event.data.action)))
    live.on('message.sent', () => seen.push('message'))

    await live.dispatch({ type: 'sim.action.started', id: 'a1', occurred_at: '', data: { action: 'post' } })
    off()
    await live.dispatch({ type: 'sim.action.started', id: 'a2', occurred_at: '', data: { action: 'rest' } })
    expect(seen).toEqual(['post'])
    expect(live.lastEventId).toBe('a2')
    expect(logged).toHaveBeenCalledTimes(2) // the broken listener, once per event
    logged.mockRestore()
  })
})
