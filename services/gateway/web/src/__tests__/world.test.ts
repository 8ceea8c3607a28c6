import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { i18n, setLocale } from '@/i18n'
import type { SimStatus, WorldView as WorldBody } from '@/api/sim'
import { useLiveStore } from '@/stores/live'
import { useSimStore } from '@/stores/sim'
import WorldView from '@/views/WorldView.vue'
import { mockFetch, type Route } from './helpers'
import { actionStarted, makeAction, makeEvent, makeStatus, makeWorld } from './simFixtures'

const EVIL = '<img src=x onerror=alert(1)>'

function routes(world: WorldBody = makeWorld(), status: { now: Partial<SimStatus> } = { now: {} }): Route[] {
  return [
    { path: '/api/sim/world', reply: () => ({ status: 200, body: world }) },
    {
      path: '/api/sim/events',
      reply: () => ({
        status: 200,
        body: [
          makeEvent('1', { title: EVIL, starts_at: '2026-06-01T07:00:00Z', ends_at: '2026-06-01T09:00:00Z' }),
          makeEvent('2', { title: 'Jazz night', location_id: 'bar', starts_at: '2026-06-01T20:00:00Z', ends_at: '2026-06-01T23:00:00Z' }),
        ],
      }),
    },
    {
      path: '/api/sim/actions',
      reply: () => ({
        status: 200,
        body: {
          items: [
            makeAction(8, { agent_id: 'lin', action: 'post', content: 'Fresh coffee!', sim_time: '2026-06-01T07:58:00Z' }),
            makeAction(7, { agent_id: 'chen', action: 'reply', sim_time: '2026-06-01T07:55:00Z' }),
            makeAction(6, { agent_id: 'chen', action: 'talk', target: 'emma', sim_time: '2026-06-01T07:50:00Z' }),
          ],
          next_cursor: null,
        },
      }),
    },
    {
      path: '/api/sim/status',
      reply: () => ({ status: 200, body: makeStatus({ sim_time: '2026-06-01T08:00:00', ...status.now }) }),
    },
  ]
}

/** The world with EMMA asleep at the park. */
function sleepyWorld(): WorldBody {
  const world = makeWorld()
  world.locations[1]!.agents[0]!.current_action = 'sleep'
  return world
}

async function renderWorld() {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/world', component: WorldView },
      { path: '/users/:id', component: { template: '<p>profile</p>' } },
      { path: '/operator', component: { template: '<p>console</p>' } },
    ],
  })
  await router.push('/world')
  const wrapper = mount(WorldView, { global: { plugins: [i18n, router] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

function chip(wrapper: ReturnType<typeof mount>, name: string) {
  const found = wrapper.findAll('.agent-chip').filter((button) => button.text().endsWith(name))
  expect(found).toHaveLength(1)
  return found[0]!
}

function placeOfChip(wrapper: ReturnType<typeof mount>, name: string): string | undefined {
  return chip(wrapper, name).element.closest('[data-place]')?.getAttribute('data-place') ?? undefined
}

describe('World page', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
    document.body.innerHTML = ''
  })

  it('shows the clock, who is where, the latest actions as sentences and the events', async () => {
    mockFetch(routes())
    const wrapper = await renderWorld()

    expect(wrapper.get('[data-test="sim-time"]').text()).toBe('Mon, Jun 1, 08:00')
    expect(wrapper.get('[data-test="sim-state"]').text()).toBe('Running')
    expect(placeOfChip(wrapper, 'LIN')).toBe('cafe')
    expect(placeOfChip(wrapper, 'EMMA')).toBe('park')
    expect(wrapper.find('[data-place="bar"]').exists()).toBe(false) // nobody there

    const ticker = wrapper.get('ol[aria-live="polite"]')
    expect(ticker.findAll('[data-test="ticker-line"]').map((line) => line.text())).toEqual([
      '07:58 LIN posted: “Fresh coffee!”',
      '07:55 CHEN answered a private message',
      '07:50 CHEN is chatting with EMMA',
    ])

    const events = wrapper.findAll('[data-test="event"]')
    expect(events.map((event) => event.find('h3').text())).toEqual([EVIL, 'Jazz night'])
    expect(events[0]!.text()).toContain('Now')
    expect(events[0]!.find('img').exists()).toBe(false) // event text is text
    wrapper.unmount()
  })

  it('moves a character and adds to the ticker as live events arrive', async () => {
    mockFetch(routes())
    const wrapper = await renderWorld()
    const live = useLiveStore()

    await live.dispatch(actionStarted('9', 'lin', 'move', { location_id: 'park', sim_time: '2026-06-01T08:05:00' }))
    await flushPromises()
    expect(placeOfChip(wrapper, 'LIN')).toBe('park')
    expect(wrapper.get('[data-test="ticker-line"]').text()).toBe('08:05 LIN is heading to Park')
    // On the map too: the marker now stands above the park.
    const marker = wrapper.get('[data-agent="lin"]').attributes('style')
    expect(marker).toContain('translate(')
    wrapper.unmount()
  })

  it('opens a sheet with what the character does and a link to its profile', async () => {
    mockFetch(routes())
    const wrapper = await renderWorld()

    await chip(wrapper, 'CHEN').trigger('click')
    await flushPromises()
    const sheet = wrapper.get('[data-test="agent-sheet"]')
    expect(sheet.get('h2').text()).toBe('CHEN')
    expect(sheet.get('[data-test="agent-doing"]').text()).toBe('Chatting · At Cafe')
    expect(sheet.get('[data-test="profile-link"]').attributes('href')).toBe('/users/user-chen')
    expect(sheet.text()).toContain('About chen')
    expect(sheet.text()).toContain('CHEN answered a private message')
    const dialog = wrapper.get('[role="dialog"]')
    expect(dialog.attributes('aria-labelledby')).toBe('agent-sheet-title')
    await dialog.trigger('keydown', { key: 'Escape' })
    await flushPromises()
    expect(dialog.isVisible()).toBe(false)
    wrapper.unmount()
  })

  it('speaks Chinese', async () => {
    setLocale('zh-CN')
    mockFetch(routes())
    const wrapper = await renderWorld()
    expect(wrapper.get('[data-test="sim-state"]').text()).toBe('运行中')
    expect(wrapper.get('[data-test="ticker-line"]').text()).toBe('07:58 LIN 发了动态：“Fresh coffee!”')
    expect(wrapper.get('[data-place="cafe"] h3').text()).toBe('cafe-中文 进行中') // an event is on there
    wrapper.unmount()
  })

  it('reads a sleeping character as asleep in the place list, the sheet and the ticker', async () => {
    mockFetch(routes(sleepyWorld()))
    const wrapper = await renderWorld()
    expect(wrapper.get('[data-place="park"]').text()).toContain('Asleep')

    await chip(wrapper, 'EMMA').trigger('click')
    await flushPromises()
    expect(wrapper.get('[data-test="agent-doing"]').text()).toBe('Asleep · At Park')

    const live = useLiveStore()
    await live.dispatch(actionStarted('9', 'lin', 'sleep', { sim_time: '2026-06-01T08:05:00' }))
    await flushPromises()
    expect(wrapper.get('[data-test="ticker-line"]').text()).toBe('08:05 LIN is asleep')
    expect(wrapper.get('[data-place="cafe"]').text()).toContain('Asleep')

    setLocale('zh-CN')
    await flushPromises()
    expect(wrapper.get('[data-test="ticker-line"]').text()).toBe('08:05 LIN 睡觉中')
    expect(wrapper.get('[data-test="agent-doing"]').text()).toBe('睡觉中 · 在park-中文')
    wrapper.unmount()
  })

  it('tells the new kinds of action in words of their own', async () => {
    mockFetch(routes())
    const wrapper = await renderWorld()
    const live = useLiveStore()
    const kinds = ['work', 'say', 'goodbye', 'unfollow', 'search']
    for (const [index, kind] of kinds.entries()) {
      await live.dispatch(actionStarted(String(20 + index), 'lin', kind, { sim_time: '2026-06-01T08:05:00' }))
    }
    await flushPromises()
    const lines = wrapper.findAll('[data-test="ticker-line"]').slice(0, kinds.length).map((line) => line.text())
    expect(lines).toEqual([
      '08:05 LIN is searching',
      '08:05 LIN unfollowed someone',
      '08:05 LIN said goodbye in a private chat',
      '08:05 LIN said something',
      '08:05 LIN is working',
    ])
    expect(wrapper.get('[data-place="cafe"]').text()).toContain('Searching')
    wrapper.unmount()
  })

  it('says the town is living its first days while it catches up, and stops saying so once done', async () => {
    const status = { now: { catching_up: true, catch_up_until: '2026-06-03T07:00:00' } as Partial<SimStatus> }
    mockFetch(routes(makeWorld(), status))
    const wrapper = await renderWorld()
    const banner = wrapper.get('[data-test="catch-up"]')
    expect(banner.attributes('role')).toBe('status')
    expect(banner.text()).toContain('The town is living its first days (until Wed, Jun 3, 07:00); the feed fills as it goes.')
    setLocale('zh-CN')
    await flushPromises()
    expect(wrapper.get('[data-test="catch-up"]').text()).toContain('小镇正在度过最初的几天')

    status.now = {} // caught up: the simulator no longer sends the fields
    await useSimStore().refreshStatus()
    await flushPromises()
    expect(wrapper.find('[data-test="catch-up"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('offers a retry when the world cannot be loaded', async () => {
    let up = false
    mockFetch([
      ...routes().map((route) =>
        route.path === '/api/sim/world'
          ? { ...route, reply: () => (up ? route.reply({}) : { status: 503, body: { detail: 'down', code: 'upstream_unavailable' } }) }
          : route,
      ),
    ])
    const wrapper = await renderWorld()
    expect(wrapper.get('[role="alert"]').text()).toContain('The service is temporarily unavailable')
    up = true
    await wrapper.get('[role="alert"] button').trigger('click')
    await flushPromises()
    expect(wrapper.find('[role="alert"]').exists()).toBe(false)
    expect(placeOfChip(wrapper, 'LIN')).toBe('cafe')
    wrapper.unmount()
  })
})
