import { mount } from '@vue/test-utils'
import { createPinia, getActivePinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import App from '@/App.vue'
import AppTabbar from '@/components/AppTabbar.vue'
import NavRail from '@/components/NavRail.vue'
import RightColumn from '@/components/RightColumn.vue'
import { DESKTOP_QUERY, usePanelPosition, type PanelPosition } from '@/composables/panelPosition'
import { tokens } from '@/api/tokens'
import { i18n, setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useLiveStore } from '@/stores/live'
import { mockFetch, mountWithApp, settle } from './helpers'
import { makeAction, makeAgent, makeEvent, makePlace, makeStatus } from './simFixtures'

type Listener = (event: { matches: boolean }) => void

/** A window whose width says desktop or not, and can be resized across the breakpoint. */
function stubWindowWidth(desktop: boolean) {
  const listeners = new Set<Listener>()
  const queries: string[] = []
  const media = {
    matches: desktop,
    addEventListener: (_type: string, listener: Listener) => listeners.add(listener),
    removeEventListener: (_type: string, listener: Listener) => listeners.delete(listener),
  }
  vi.spyOn(window, 'matchMedia').mockImplementation((query: string) => {
    queries.push(query)
    return media as unknown as MediaQueryList
  })
  return {
    listeners,
    queries,
    resize(toDesktop: boolean) {
      media.matches = toDesktop
      listeners.forEach((listener) => listener({ matches: toDesktop }))
    },
  }
}

function signIn(role = 'user') {
  tokens.save('access', 'refresh') // before the store is made: it reads whether there is a session
  useAuthStore().user = { id: 'u1', username: 'alice', display_name: 'Alice', role, is_ai: false, created_at: '', email: null }
}

function simRoutes() {
  const lin = makeAgent('lin', { display_name: '林小雨' })
  return [
    {
      path: '/api/sim/world',
      reply: () => ({ status: 200, body: { sim_time: '2026-06-01T08:30:00Z', locations: [makePlace('cafe', [lin])] } }),
    },
    {
      path: '/api/sim/events',
      reply: () => ({
        status: 200,
        body: [
          makeEvent('jazz', { title: 'Jazz night', starts_at: '2026-06-01T20:00:00Z', ends_at: '2026-06-01T22:00:00Z' }),
          makeEvent('market', { title: '早市 · Morning market', starts_at: '2026-06-01T08:00:00Z', ends_at: '2026-06-01T10:00:00Z' }),
        ],
      }),
    },
    {
      path: '/api/sim/actions',
      reply: () => ({
        status: 200,
        body: { items: [makeAction(2, { action: 'post', content: 'Fresh bread today!' }), makeAction(1)], next_cursor: null },
      }),
    },
    { path: '/api/sim/status', reply: () => ({ status: 200, body: makeStatus({ sim_time: '2026-06-01T08:30:00' }) }) },
    {
      path: '/api/users/suggestions',
      reply: () => ({
        status: 200,
        body: ['lin', 'mo', 'qiu', 'yu'].map((name) => ({
          id: `user-${name}`,
          username: `ai_${name}`,
          display_name: name.toUpperCase(),
          bio: '',
          avatar_url: null,
          is_ai: true,
          follower_count: 1,
          following_count: 0,
          post_count: 0,
          is_following: false,
          created_at: '2026-01-01T00:00:00Z',
        })),
      }),
    },
  ]
}

const railLinks = (wrapper: ReturnType<typeof mount>) =>
  wrapper.findAll('.nav-rail__items a').map((link) => link.find('.nav-rail__label').text())

beforeEach(() => {
  localStorage.clear()
  setActivePinia(createPinia())
  setLocale('en')
  vi.stubGlobal('IntersectionObserver', class { observe() {} unobserve() {} disconnect() {} })
  vi.stubGlobal('EventSource', class { close() {} addEventListener() {} })
  mockFetch(simRoutes())
})
afterEach(() => {
  vi.restoreAllMocks()
})

describe('the navigation rail', () => {
  it('lists the places of a signed-in person, the console only for admins, and the way in when signed out', async () => {
    signIn('user')
    const { wrapper } = await mountWithApp(NavRail)
    expect(railLinks(wrapper)).toEqual(['Home', 'World', 'Post', 'Messages', 'Notifications', 'Me'])
    expect(wrapper.get('[data-test="rail-messages"]').attributes('href')).toBe('/messages')

    signIn('admin')
    await settle()
    expect(railLinks(wrapper)).toEqual(['Home', 'World', 'Post', 'Messages', 'Notifications', 'Me', 'Operator console'])
    expect(wrapper.get('[data-test="rail-operator"]').attributes('href')).toBe('/operator')

    await useAuthStore().logout()
    await settle()
    expect(railLinks(wrapper)).toEqual(['Home', 'World', 'Sign in', 'Sign up'])
  })

  it('marks the current page, and the section a page is under, with aria-current', async () => {
    signIn()
    const { wrapper, router } = await mountWithApp(NavRail, {}, '/')
    const current = () => wrapper.findAll('.nav-rail__items [aria-current="page"]').map((link) => link.text())
    expect(current()).toEqual(['Home'])
    await router.push('/messages/bob')
    await settle()
    expect(current()).toEqual(['Messages'])
    await router.push('/posts/1')
    await settle()
    expect(current()).toEqual([])
  })

  it('shows the same unread counts as the tab bar, from the one live store', async () => {
    signIn()
    const rail = await mountWithApp(NavRail)
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    const tabbar = await mountWithApp(AppTabbar)
    vi.useRealTimers()
    const live = useLiveStore()
    live.unreadConversations = 3
    live.unreadNotifications = 2
    await settle()

    const messages = rail.wrapper.get('[data-test="rail-messages"]')
    expect(messages.get('.van-badge').text()).toBe('3')
    expect(messages.text()).toContain('Messages, 3 unread')
    expect(rail.wrapper.get('[data-test="rail-notifications"] .van-badge').text()).toBe('2')
    // Notifications has its own entry on the rail: Me does not count them again.
    expect(rail.wrapper.find('[data-test="rail-me"] .van-badge').exists()).toBe(false)

    const tabs = tabbar.wrapper.findAll('.van-tabbar-item')
    const badgeOf = (label: string) => tabs.find((tab) => tab.find('.van-tabbar-item__text').text().startsWith(`${label}`))!.find('.van-badge')
    expect(tabs.map((tab) => tab.text())).toEqual(['Home', 'World', 'Post', '3 Messages', '2 Me'])
    expect(badgeOf('Messages').text()).toBe('3')

    live.unreadConversations = 0
    await settle()
    expect(messages.find('.van-badge').exists()).toBe(false)
    expect(badgeOf('Messages').exists()).toBe(false)
  })

  it('switches the language', async () => {
    signIn()
    const { wrapper } = await mountWithApp(NavRail)
    const chinese = wrapper.findAll('.nav-rail__language').find((button) => button.attributes('lang') === 'zh-CN')!
    expect(chinese.attributes('aria-pressed')).toBe('false')
    await chinese.trigger('click')
    await settle()
    expect(i18n.global.locale.value).toBe('zh-CN')
    expect(railLinks(wrapper)).toEqual(['首页', '世界', '发布', '消息', '通知', '我的'])
    expect(chinese.attributes('aria-pressed')).toBe('true')
  })
})

describe('usePanelPosition', () => {
  function mountProbe() {
    let position: { value: PanelPosition } | null = null
    const Probe = defineComponent({
      setup() {
        position = usePanelPosition()
        return () => h('div')
      },
    })
    return { wrapper: mount(Probe), position: () => position!.value }
  }

  it('opens sheets from the bottom on phones and on the right from the desktop width, following resizes', async () => {
    const window = stubWindowWidth(false)
    const { wrapper, position } = mountProbe()
    expect(window.queries).toEqual([DESKTOP_QUERY])
    expect(DESKTOP_QUERY).toBe('(min-width: 1000px)')
    expect(position()).toBe('bottom')
    window.resize(true)
    expect(position()).toBe('right')
    window.resize(false)
    expect(position()).toBe('bottom')
    // The listener goes with the component.
    expect(window.listeners.size).toBe(1)
    wrapper.unmount()
    expect(window.listeners.size).toBe(0)
  })

  it('starts as the window is', () => {
    stubWindowWidth(true)
    expect(mountProbe().position()).toBe('right')
  })
})

describe('the layout', () => {
  async function mountApp(at: string) {
    const page = { render: () => h('main', 'page') }
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: '/', name: 'home', component: page, meta: { tabbar: true, title: 'nav.home' } },
        { path: '/world', component: page, meta: { tabbar: true, title: 'world.title', ownHeading: true, wide: true } },
        { path: '/:rest(.*)*', component: page },
      ],
    })
    await router.push(at)
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    const wrapper = mount(App, { global: { plugins: [i18n, router, getActivePinia()!] } })
    vi.useRealTimers()
    await settle()
    return wrapper
  }

  it('on a desktop: the rail instead of the tab bar, and the right column except on wide pages', async () => {
    stubWindowWidth(true)
    signIn()
    const home = await mountApp('/')
    expect(home.find('[data-test="nav-rail"]').exists()).toBe(true)
    expect(home.find('.van-tabbar').exists()).toBe(false)
    expect(home.find('[data-test="right-column"]').exists()).toBe(true)
    home.unmount()

    const world = await mountApp('/world')
    expect(world.find('[data-test="nav-rail"]').exists()).toBe(true)
    expect(world.find('[data-test="right-column"]').exists()).toBe(false)
    expect(world.get('.app-layout').classes()).toContain('app-layout--wide')
  })

  it('the landing page (home signed out) takes the width: the town is on it, the right column would repeat it', async () => {
    stubWindowWidth(true)
    const landing = await mountApp('/')
    expect(landing.find('[data-test="right-column"]').exists()).toBe(false)
    expect(landing.get('.app-layout').classes()).toContain('app-layout--wide')
    // Signed in, home is the feed, with the right column (the test above).
  })

  it('on a phone: the tab bar as before, no rail and no right column; crossing the breakpoint swaps them', async () => {
    const window = stubWindowWidth(false)
    const app = await mountApp('/')
    expect(app.find('.van-tabbar').exists()).toBe(true)
    expect(app.find('[data-test="nav-rail"]').exists()).toBe(false)
    expect(app.find('[data-test="right-column"]').exists()).toBe(false)
    window.resize(true)
    await settle()
    expect(app.find('.van-tabbar').exists()).toBe(false)
    expect(app.find('[data-test="nav-rail"]').exists()).toBe(true)
  })
})

describe('the right column', () => {
  it('shows the simulated clock, the latest activity, whom to follow and the events to come', async () => {
    const { calls } = mockFetch([
      ...simRoutes(),
      {
        method: 'POST',
        path: '/api/auth/login',
        reply: () => ({ status: 200, body: { access_token: 'a', refresh_token: 'r', token_type: 'bearer', expires_in: 900 } }),
      },
      {
        path: '/api/auth/me',
        reply: () => ({ status: 200, body: { id: 'u1', username: 'alice', display_name: 'Alice', role: 'user', is_ai: false } }),
      },
    ])
    const { wrapper } = await mountWithApp(RightColumn)
    await settle()
    expect(wrapper.get('[data-test="right-column-clock"]').attributes('datetime')).toBe('2026-06-01T08:30:00')
    expect(wrapper.get('[data-test="right-column-clock"]').text()).toMatch(/08:30/)
    const activity = wrapper.findAll('[data-test="right-column-activity"]').map((line) => line.text())
    expect(activity).toHaveLength(2)
    expect(activity[0]).toContain('Fresh bread today!')
    expect(activity[0]).toContain('林小雨')
    const events = wrapper.findAll('[data-test="right-column-event"]').map((line) => line.text())
    // Going on now first, then what comes.
    // In the chosen language only.
    expect(events[0]).toContain('Morning market')
    expect(events[0]).not.toContain('早市')
    expect(events[0]).toContain('Now')
    expect(events[1]).toContain('Jazz night')
    expect(wrapper.get('a[href="/world"]').text()).toBe('Watch the town')
    const suggested = wrapper.get('[data-test="suggested-accounts"]')
    expect(suggested.get('h2').text()).toBe('Who to follow')
    expect(suggested.findAll('[data-test="suggested-account"]').map((row) => row.find('a').attributes('href'))).toEqual([
      '/users/ai_lin',
      '/users/ai_mo',
      '/users/ai_qiu',
    ])

    // Signing in asks for the list again (it depends on who asks), the column still on screen.
    const asked = () => calls.filter((call) => call.url.startsWith('/api/users/suggestions')).length
    expect(asked()).toBe(1)
    await useAuthStore().login('alice', 'secret')
    await settle()
    expect(asked()).toBe(2)
    expect(wrapper.findAll('[data-test="suggested-account"]')).toHaveLength(3)
  })
})

describe('the public live stream, signed out', () => {
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
  const open = () => RecordedEventSource.opened.filter((source) => !source.closed)

  beforeEach(() => {
    RecordedEventSource.opened = []
    vi.stubGlobal('EventSource', RecordedEventSource)
  })

  it('stays open while the landing page or the right column holds it, and closes when neither does', async () => {
    const live = useLiveStore()
    const landing = live.holdPublicStream()
    const column = live.holdPublicStream()
    await settle()
    expect(open()).toHaveLength(1)
    expect(open()[0]!.url).toBe('/api/stream') // public: no ticket
    landing() // leaving the landing page for a post: the right column still shows the town
    landing()
    expect(open()).toHaveLength(1)
    column()
    expect(open()).toHaveLength(0)
  })

  it('signed in, leaves the stream to the app: holding and letting go neither opens nor closes it', async () => {
    signIn()
    const live = useLiveStore()
    const release = live.holdPublicStream()
    await settle()
    expect(RecordedEventSource.opened).toHaveLength(0)
    release()
  })

  it('the right column holds it while shown', async () => {
    const { wrapper } = await mountWithApp(RightColumn)
    await settle()
    expect(open()).toHaveLength(1)
    wrapper.unmount()
    expect(open()).toHaveLength(0)
  })
})
