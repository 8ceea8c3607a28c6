import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { tokens } from '@/api/tokens'
import AppTabbar from '@/components/AppTabbar.vue'
import { setLocale } from '@/i18n'
import { accessCheck } from '@/routeAccess'
import { router } from '@/router'
import { useAuthStore } from '@/stores/auth'
import HomeView from '@/views/HomeView.vue'
import { makePost, mockFetch, mountWithApp, settle, type Route } from './helpers'
import { makeAction, makeEvent, makeStatus, makeWorld } from './simFixtures'

const TOWN: Route[] = [
  { path: '/api/sim/world', reply: () => ({ status: 200, body: makeWorld() }) },
  {
    path: '/api/sim/events',
    reply: () => ({ status: 200, body: [makeEvent('2', { title: 'Jazz night', location_id: 'bar', starts_at: '2026-06-01T20:00:00Z' })] }),
  },
  {
    path: '/api/sim/actions',
    reply: () => ({
      status: 200,
      body: { items: [makeAction(8, { agent_id: 'lin', action: 'post', content: 'Fresh coffee!' })], next_cursor: null },
    }),
  },
  { path: '/api/sim/status', reply: () => ({ status: 200, body: makeStatus() }) },
  {
    path: '/api/users/suggestions',
    reply: () => ({
      status: 200,
      body: [
        {
          id: 'user-lin',
          username: 'ai_lin',
          display_name: 'LIN',
          avatar_url: null,
          is_ai: true,
          bio: 'Barista at the café',
          post_count: 3,
          follower_count: 5,
          following_count: 0,
          created_at: '2026-01-01T00:00:00Z',
          is_following: null,
          follows_you: null,
        },
      ],
    }),
  },
  { path: '/api/feed/explore', reply: () => ({ status: 200, body: { items: [makePost('p1')], next_cursor: null } }) },
  { path: '/api/feed/home', reply: () => ({ status: 200, body: { items: [], next_cursor: null } }) },
]

describe('the landing page', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
    vi.stubGlobal('IntersectionObserver', class { observe() {} unobserve() {} disconnect() {} })
    vi.stubGlobal('EventSource', class { close() {} addEventListener() {} })
  })

  it('signed out, / is the town: the map, what is going on, the characters, the posts, and the way in', async () => {
    const { calls } = mockFetch(TOWN)
    const { wrapper } = await mountWithApp(HomeView)
    // The landing page is a chunk of its own, loaded when needed.
    await vi.waitFor(() => expect(wrapper.find('[data-test="landing-town"] svg').exists()).toBe(true))
    await settle()
    expect(wrapper.findAll('[data-test="ticker-line"]').length).toBe(1)
    expect(wrapper.get('[data-test="landing-event"]').text()).toContain('Jazz night')
    expect(wrapper.get('[data-test="suggested-account"]').text()).toContain('Barista at the café')
    expect(wrapper.get('[data-test="content"]').text()).toBe('post p1')
    expect(wrapper.get('[data-test="landing-signup"]').attributes('href')).toBe('/signup')
    expect(wrapper.get('[data-test="landing-signin"]').attributes('href')).toBe('/signin')
    expect(wrapper.find('[data-test="bell"]').exists()).toBe(false)
    // Nothing that needs an account is asked for, and no token is sent.
    const paths = calls.map((call) => call.url.split('?')[0])
    expect(paths).not.toContain('/api/feed/home')
    expect(paths).not.toContain('/api/notifications')
    expect(calls.every((call) => !(call.init.headers as Record<string, string>).Authorization)).toBe(true)
  })

  it('signed in, / is the feed, with no landing', async () => {
    tokens.save('access', 'refresh')
    setActivePinia(createPinia())
    useAuthStore().user = { id: 'u1', username: 'alice', display_name: 'Alice', role: 'user', is_ai: false, created_at: '', email: null }
    mockFetch(TOWN)
    const { wrapper } = await mountWithApp(HomeView)
    await settle()
    expect(wrapper.find('[data-test="landing"]').exists()).toBe(false)
    expect(wrapper.find('[data-test="bell"]').exists()).toBe(true)
  })
})

describe('who may open which page', () => {
  const SIGNED_OUT = { isSignedIn: false, role: null }
  const PERSON = { isSignedIn: true, role: 'user' }

  function check(path: string, viewer: { isSignedIn: boolean; role: string | null }) {
    return accessCheck(router.resolve(path), viewer)
  }

  it('signed out, the town is readable: home, the World, a post, a profile, search', () => {
    for (const path of ['/', '/world', '/posts/12', '/users/ai_lin', '/search?q=coffee']) {
      expect(check(path, SIGNED_OUT)).toBe(true)
    }
  })

  it('signed out, the pages of an account send to sign in and back (?next=)', () => {
    for (const path of ['/messages', '/messages/ai_lin', '/notifications', '/me', '/compose', '/operator']) {
      expect(check(path, SIGNED_OUT)).toEqual({ path: '/signin', query: { next: path } })
    }
  })

  it('sign in and sign up are for the signed out; the console for admins', () => {
    expect(check('/signin', SIGNED_OUT)).toBe(true)
    expect(check('/signup', PERSON)).toEqual({ name: 'home' })
    expect(check('/messages', PERSON)).toBe(true)
    expect(check('/operator', PERSON)).toEqual({ name: 'home' })
    expect(check('/operator', { isSignedIn: true, role: 'admin' })).toBe(true)
    expect(check('/operator', { isSignedIn: true, role: null })).toBe(true) // until /auth/me answers
  })
})

describe('the phone tab bar', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
    mockFetch([])
  })

  const labels = async () => {
    const { wrapper } = await mountWithApp(AppTabbar)
    return wrapper.findAll('.van-tabbar-item').map((item) => item.text().trim())
  }

  it('signed out: what can be read, and the way in', async () => {
    expect(await labels()).toEqual(['Home', 'World', 'Sign in'])
  })

  it('signed in: the five places of an account', async () => {
    tokens.save('access', 'refresh')
    expect(await labels()).toEqual(['Home', 'World', 'Post', 'Messages', 'Me'])
  })
})
