import { flushPromises } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { closeDialog } from 'vant'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Profile } from '@/api/types'
import { tokens } from '@/api/tokens'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useLiveStore } from '@/stores/live'
import ProfileView from '@/views/ProfileView.vue'
import { makePost, mockFetch, mountWithApp, settle } from './helpers'

const LIN_ID = '0b7e4a52-1c1e-4d7e-9f59-1a2b3c4d5e6f'

function profile(overrides: Partial<Profile> = {}): Profile {
  return {
    id: 'u2',
    username: 'bob',
    display_name: 'Bob',
    avatar_url: null,
    is_ai: false,
    bio: 'I like <b>tea</b>',
    role: 'user',
    post_count: 3,
    follower_count: 10,
    following_count: 4,
    created_at: '2026-01-01T00:00:00Z',
    is_following: false,
    follows_you: true,
    ...overrides,
  }
}

const LIN = profile({ id: LIN_ID, username: 'ai_lin', display_name: '林小雨', is_ai: true, bio: '', follows_you: false })

function agent(current_action: string | null, location_id = 'cafe') {
  return {
    id: 'lin',
    username: 'ai_lin',
    display_name: '林小雨',
    user_id: LIN_ID,
    location_id,
    current_action,
    energy: 0.5,
    sociability: 0.5,
    mood: 0.5,
    summary: '喜欢咖啡的插画师',
    summary_en: 'An illustrator who loves coffee',
    persona: {},
    home_id: 'home',
    inventory: [],
    relationships: [],
    memories: [],
    recent_actions: [],
  }
}

describe('ProfileView', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
    tokens.save('access', 'refresh') // signed in (a visitor is asked to sign in to follow)
    useAuthStore().user = { id: 'u1', username: 'alice', display_name: 'Alice', role: 'user', is_ai: false, created_at: '', email: null }
  })

  it('shows a person: counts, bio as text, follow and unfollow, message, their posts', async () => {
    const followCalls: string[] = []
    mockFetch([
      { path: '/api/users/bob', reply: () => ({ status: 200, body: profile() }) },
      { path: '/api/users/bob/posts', reply: () => ({ status: 200, body: { items: [makePost('9', { content: 'from bob' })], next_cursor: null } }) },
      { method: 'POST', path: '/api/users/bob/follow', reply: () => (followCalls.push('follow'), { status: 204 }) },
      { method: 'DELETE', path: '/api/users/bob/follow', reply: () => (followCalls.push('unfollow'), { status: 204 }) },
    ])
    const { wrapper } = await mountWithApp(ProfileView, { id: 'bob' })
    await settle()
    expect(wrapper.get('[data-test="display-name"]').text()).toBe('Bob')
    expect(wrapper.get('[data-test="bio"]').text()).toBe('I like <b>tea</b>')
    expect(wrapper.find('[data-test="bio"] b').exists()).toBe(false)
    expect(wrapper.get('[data-test="follower-count"]').text()).toBe('10')
    expect(wrapper.text()).toContain('Follows you')
    expect(wrapper.find('[data-test="ai-panel"]').exists()).toBe(false)
    expect(wrapper.find('[data-test="edit-profile"]').exists()).toBe(false)
    expect(wrapper.findAll('[data-test="content"]').map((p) => p.text())).toEqual(['from bob'])

    const follow = wrapper.get('[data-test="follow"]')
    expect(follow.text()).toBe('Follow')
    await follow.trigger('click')
    await settle()
    expect(follow.text()).toBe('Unfollow')
    expect(wrapper.get('[data-test="follower-count"]').text()).toBe('11')
    await follow.trigger('click')
    await settle()
    expect(followCalls).toEqual(['follow', 'unfollow'])
    expect(wrapper.get('[data-test="follower-count"]').text()).toBe('10')
    expect(wrapper.get('[data-test="message"]').text()).toBe('Message')
  })

  it('undoes a refused follow', async () => {
    mockFetch([
      { path: '/api/users/bob', reply: () => ({ status: 200, body: profile() }) },
      { path: '/api/users/bob/posts', reply: () => ({ status: 200, body: { items: [], next_cursor: null } }) },
      { method: 'POST', path: '/api/users/bob/follow', reply: () => ({ status: 429, body: { detail: 'slow', code: 'rate_limited' } }) },
    ])
    const { wrapper } = await mountWithApp(ProfileView, { id: 'bob' })
    await settle()
    await wrapper.get('[data-test="follow"]').trigger('click')
    await settle()
    expect(wrapper.get('[data-test="follow"]').text()).toBe('Follow')
    expect(wrapper.get('[data-test="follower-count"]').text()).toBe('10')
  })

  it('an AI character: badge, persona, where it is and what it does, kept current by live events; a user id path becomes the name', async () => {
    let current = agent('rest')
    let agentReads = 0
    mockFetch([
      { path: '/api/users/ai_lin', reply: () => ({ status: 200, body: LIN }) },
      { path: '/api/users/ai_lin/posts', reply: () => ({ status: 200, body: { items: [], next_cursor: null } }) },
      { path: `/api/sim/agents/${LIN_ID}`, reply: () => (agentReads++, { status: 200, body: current }) },
      {
        path: '/api/sim/world',
        reply: () => ({
          status: 200,
          body: {
            sim_time: null,
            events: [],
            locations: [
              { id: 'cafe', name: '街角咖啡馆', name_en: 'Corner Café', kind: 'cafe', x: 0, y: 0, capacity: 9, open_now: true, agents: [] },
              { id: 'park', name: '公园', name_en: 'Park', kind: 'park', x: 1, y: 1, capacity: 9, open_now: true, agents: [] },
            ],
          },
        }),
      },
    ])
    const { wrapper, router } = await mountWithApp(ProfileView, { id: LIN_ID }, `/users/${LIN_ID}`)
    await settle()
    expect(router.currentRoute.value.path).toBe('/users/ai_lin')
    await wrapper.setProps({ id: 'ai_lin' }) // the router gives the view its new parameter
    await settle()

    expect(wrapper.find('h1 [data-test="ai-badge"]').exists()).toBe(true)
    expect(wrapper.get('[data-test="persona"]').text()).toBe('An illustrator who loves coffee')
    expect(wrapper.get('[data-test="location"]').text()).toBe('Corner Café')
    expect(wrapper.get('[data-test="doing"]').text()).toBe('Resting')

    const reads = agentReads
    current = agent('move', 'park')
    await useLiveStore().dispatch({ type: 'sim.action.started', id: 'e1', occurred_at: '', data: { user_id: LIN_ID, agent_id: 'lin', action: 'move' } })
    await useLiveStore().dispatch({ type: 'sim.action.started', id: 'e2', occurred_at: '', data: { user_id: 'someone-else', agent_id: 'x', action: 'post' } })
    await settle()
    expect(agentReads).toBe(reads + 1)
    expect(wrapper.get('[data-test="doing"]').text()).toBe('On the way')
    expect(wrapper.get('[data-test="location"]').text()).toBe('Park')

    setLocale('zh-CN')
    await settle()
    expect(wrapper.get('[data-test="persona"]').text()).toBe('喜欢咖啡的插画师')
    expect(wrapper.get('[data-test="location"]').text()).toBe('公园')
    setLocale('en')
  })

  it('my own profile: edit the bio (social) and the display name (auth)', async () => {
    const patches: Array<{ path: string; body: unknown }> = []
    mockFetch([
      { path: '/api/users/alice', reply: () => ({ status: 200, body: profile({ id: 'u1', username: 'alice', display_name: 'Alice', bio: 'old' }) }) },
      { path: '/api/users/alice/posts', reply: () => ({ status: 200, body: { items: [], next_cursor: null } }) },
      {
        method: 'PATCH',
        path: '/api/users/me',
        reply: (init) => {
          const body = JSON.parse(String(init.body))
          patches.push({ path: 'users', body })
          return { status: 200, body: profile({ id: 'u1', username: 'alice', display_name: 'Alice', bio: body.bio }) }
        },
      },
      {
        method: 'PATCH',
        path: '/api/auth/me',
        reply: (init) => {
          const body = JSON.parse(String(init.body))
          patches.push({ path: 'auth', body })
          return { status: 200, body: { id: 'u1', username: 'alice', display_name: body.display_name, role: 'user', is_ai: false, created_at: '', email: null } }
        },
      },
    ])
    const { wrapper } = await mountWithApp(ProfileView, { id: 'alice' })
    await settle()
    expect(wrapper.find('[data-test="follow"]').exists()).toBe(false)
    await wrapper.get('[data-test="edit-profile"]').trigger('click')
    await settle()
    await wrapper.get('[data-test="display-name-field"] input').setValue('Alice W.')
    await wrapper.get('[data-test="bio-field"] textarea').setValue('new bio')
    await wrapper.get('form.profile__edit').trigger('submit')
    await settle()
    expect(patches).toEqual([
      { path: 'users', body: { bio: 'new bio' } },
      { path: 'auth', body: { display_name: 'Alice W.' } },
    ])
    expect(wrapper.get('[data-test="display-name"]').text()).toBe('Alice W.')
    expect(wrapper.get('[data-test="bio"]').text()).toBe('new bio')
    expect(useAuthStore().user?.display_name).toBe('Alice W.')
  })
})

describe('ProfileView signed out', () => {
  beforeEach(() => {
    localStorage.clear()
    closeDialog()
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('shows the profile; Follow asks to sign in, back to this profile, and follows no one', async () => {
    const { calls } = mockFetch([
      { path: '/api/users/bob', reply: () => ({ status: 200, body: profile({ is_following: null, follows_you: null }) }) },
      { path: '/api/users/bob/posts', reply: () => ({ status: 200, body: { items: [makePost('p1')], next_cursor: null } }) },
    ])
    const { wrapper, router } = await mountWithApp(ProfileView, { id: 'bob' }, '/users/bob')
    await settle()
    expect(wrapper.text()).toContain('Bob')
    await wrapper.get('[data-test="follow"]').trigger('click')
    await flushPromises()
    expect(document.querySelector('.sign-in-prompt')?.textContent).toContain('Sign in to follow Bob')
    document.querySelector<HTMLButtonElement>('.sign-in-prompt .van-dialog__confirm')!.click()
    await settle()
    expect(router.currentRoute.value.path).toBe('/signin')
    expect(router.currentRoute.value.query).toEqual({ next: '/users/bob' })
    expect(calls.filter((call) => call.method !== 'GET')).toEqual([])
  })
})
