import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { i18n, setLocale } from '@/i18n'
import type { ActionView } from '@/api/sim'
import type { TranscriptLine } from '@/api/simStory'
import WorldView from '@/views/WorldView.vue'
import { mockFetch, type Route } from './helpers'
import { makeAction, makeEvent, makeStatus, makeWorld } from './simFixtures'

const DM_TEXT = 'a secret written in private'

function said(decision: number, speaker: string, listener: string, text: string): TranscriptLine {
  return {
    id: String(decision),
    decision,
    sim_time: `2026-06-01T07:${String(decision).padStart(2, '0')}:00Z`,
    conversation_id: 'c1',
    speaker_id: speaker,
    listener_id: listener,
    action: decision === 40 ? 'talk' : 'say',
    text,
    location_id: 'cafe',
  }
}

// The log of the day, newest first: LIN came to the café from the park at 06:00 and greeted CHEN.
const DAY: ActionView[] = [
  makeAction(8, { agent_id: 'lin', action: 'post', content: 'Fresh coffee!', location_id: 'cafe', sim_time: '2026-06-01T07:58:00Z' }),
  makeAction(7, { agent_id: 'lin', action: 'talk', target: 'chen', content: 'Morning, Chen!', location_id: 'cafe', sim_time: '2026-06-01T06:30:00Z' }),
  makeAction(6, { agent_id: 'chen', action: 'attend_event', target: '1', location_id: 'cafe', sim_time: '2026-06-01T06:10:00Z' }),
  makeAction(5, { agent_id: 'lin', action: 'move', target: 'cafe', location_id: 'park', sim_time: '2026-06-01T06:00:00Z' }),
  makeAction(4, { agent_id: 'lin', action: 'message', content: null, location_id: 'park', sim_time: '2026-06-01T05:00:00Z' }),
]

function routes(): Route[] {
  return [
    { path: '/api/sim/world', reply: () => ({ status: 200, body: makeWorld() }) },
    {
      path: '/api/sim/events',
      reply: () => ({
        status: 200,
        body: [
          makeEvent('1', { title: '早市开张 · Market opens', location_id: 'cafe', starts_at: '2026-06-01T06:00:00Z', ends_at: '2026-06-01T11:00:00Z' }),
          makeEvent('2', { title: 'Jazz night', location_id: 'bar', starts_at: '2026-06-01T20:00:00Z', ends_at: '2026-06-01T23:00:00Z' }),
        ],
      }),
    },
    { path: '/api/sim/actions', reply: () => ({ status: 200, body: { items: DAY, next_cursor: null } }) },
    { path: '/api/sim/status', reply: () => ({ status: 200, body: makeStatus({ sim_time: '2026-06-01T08:00:00' }) }) },
    {
      path: '/api/sim/agents/lin/transcript',
      reply: () => ({
        status: 200,
        body: { agent_id: 'lin', items: [said(41, 'chen', 'lin', 'Hi Lin, new beans today.'), said(40, 'lin', 'chen', 'Morning, Chen!')], next_cursor: null },
      }),
    },
  ]
}

async function renderWorld(path = '/world') {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/world', component: WorldView },
      { path: '/users/:id', component: { template: '<p>profile</p>' } },
    ],
  })
  await router.push(path)
  const wrapper = mount(WorldView, { global: { plugins: [i18n, router] }, attachTo: document.body })
  await flushPromises()
  return { wrapper, router }
}

function placeOf(wrapper: ReturnType<typeof mount>, name: string): string | undefined {
  const chip = wrapper.findAll('.places__card .agent-chip').find((button) => button.text().endsWith(name))
  return chip?.element.closest('[data-place]')?.getAttribute('data-place') ?? undefined
}

describe('World page story', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
    document.body.innerHTML = ''
  })

  it('follows a tapped character and shows the transcript of its conversations in person', async () => {
    const { calls } = mockFetch(routes())
    const { wrapper } = await renderWorld()
    const lin = wrapper.findAll('.places__card .agent-chip').find((button) => button.text().endsWith('LIN'))!
    await lin.trigger('click')
    await flushPromises()
    expect(calls.some((call) => call.url.startsWith('/api/sim/agents/lin/transcript'))).toBe(true)
    const transcript = wrapper.get('[data-test="transcript"]')
    expect(transcript.findAll('[data-test="transcript-line"]').map((line) => line.text())).toEqual([
      'LIN: Morning, Chen! 07:40',
      'CHEN: Hi Lin, new beans today. 07:41',
    ])
    expect(transcript.get('[data-test="conversation"] a').attributes('href')).toBe('/users/user-chen')
    expect(transcript.text()).not.toContain(DM_TEXT)
    expect(wrapper.get('[data-test="agent-place"]').attributes('href')).toBe('/world?place=cafe')
  })

  it('replays the day: an earlier moment puts the characters back and shows what was said then', async () => {
    mockFetch(routes())
    const { wrapper } = await renderWorld()
    expect(placeOf(wrapper, 'LIN')).toBe('cafe')
    await wrapper.get('[data-test="replay-open"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[data-test="replay-clock"]').text()).toBe('Replaying Mon, Jun 1, 08:00')

    const range = wrapper.get('[data-test="replay-range"]')
    await range.setValue(String(24 * 60 - 150)) // 05:30
    expect(wrapper.get('[data-test="replay-clock"]').text()).toBe('Replaying Mon, Jun 1, 05:30')
    expect(placeOf(wrapper, 'LIN')).toBe('park') // before the move at 06:00

    await range.setValue(String(24 * 60 - 85)) // 06:35
    expect(placeOf(wrapper, 'LIN')).toBe('cafe')
    expect(wrapper.get('[data-test="replay-lines"]').text()).toContain('LIN: Morning, Chen!')

    await wrapper.get('[data-test="replay-live"]').trigger('click')
    expect(wrapper.find('[data-test="replay-range"]').exists()).toBe(false)
    expect(placeOf(wrapper, 'LIN')).toBe('cafe')
  })

  it('shows event cards in the chosen language with their place and who is there', async () => {
    mockFetch(routes())
    const { wrapper } = await renderWorld()
    const market = wrapper.findAll('[data-test="event"]')[0]!
    expect(market.get('h3').text()).toBe('Market opens')
    expect(market.get('[data-test="event-place"]').attributes('href')).toBe('/world?place=cafe')
    expect(market.findAll('[data-test="event-attendee"]').map((chip) => chip.text())).toEqual(['LLIN', 'CCHEN'])
    setLocale('zh-CN')
    await flushPromises()
    expect(wrapper.findAll('[data-test="event"]')[0]!.get('h3').text()).toBe('早市开张')
  })

  it('links the people and places of activity lines, and opens on a place from ?place=', async () => {
    mockFetch(routes())
    const { wrapper, router } = await renderWorld('/world?place=park')
    expect(wrapper.get('[data-test="place-focus"] h2').text()).toBe('Park')
    expect(wrapper.get('[data-test="place-focus"]').text()).toContain('EMMA')
    const line = wrapper.findAll('[data-test="ticker-line"]')[0]!
    expect(line.get('[data-test="ticker-person"]').attributes('href')).toBe('/users/user-lin')
    await line.get('[data-test="ticker-person"]').trigger('click')
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/users/user-lin')
  })
})

describe('World page signed out', () => {
  class RecordedEventSource {
    static opened: RecordedEventSource[] = []
    closed = false
    constructor(readonly url: string) {
      RecordedEventSource.opened.push(this)
    }
    addEventListener() {}
    close() {
      this.closed = true
    }
  }

  beforeEach(() => {
    setActivePinia(createPinia())
    RecordedEventSource.opened = []
    vi.stubGlobal('EventSource', RecordedEventSource)
  })
  afterEach(() => vi.unstubAllGlobals())

  it('is live for a visitor: it holds the public stream while shown', async () => {
    mockFetch(routes())
    const { wrapper } = await renderWorld()
    await flushPromises()
    const open = () => RecordedEventSource.opened.filter((source) => !source.closed)
    expect(open().map((source) => source.url)).toEqual(['/api/stream'])
    wrapper.unmount()
    expect(open()).toHaveLength(0)
  })
})
