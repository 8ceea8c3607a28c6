import { flushPromises } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { closeDialog } from 'vant'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { Profile } from '@/api/types'
import { tokens } from '@/api/tokens'
import FeedList from '@/components/FeedList.vue'
import SuggestedAccounts from '@/components/SuggestedAccounts.vue'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useSuggestionsStore } from '@/stores/suggestions'
import MessagesView from '@/views/MessagesView.vue'
import NotificationsView from '@/views/NotificationsView.vue'
import { authorization, makePost, mockFetch, mountWithApp, settle } from './helpers'

function account(username: string, overrides: Partial<Profile> = {}): Profile {
  return {
    id: `id-${username}`,
    username,
    display_name: username.toUpperCase(),
    avatar_url: null,
    is_ai: false,
    bio: `${username} bio`,
    post_count: 1,
    follower_count: 2,
    following_count: 0,
    created_at: '2026-01-01T00:00:00Z',
    is_following: null,
    follows_you: null,
    ...overrides,
  }
}

const SUGGESTED = [
  account('ai_lin', { display_name: '林小雨', is_ai: true, bio: '咖啡馆的咖啡师' }),
  account('bob'),
  account('carol', { bio: '' }),
]

function signIn(): void {
  tokens.save('access', 'refresh')
  setActivePinia(createPinia())
  useAuthStore().user = { id: 'u1', username: 'me', display_name: 'Me', role: 'user', is_ai: false, created_at: '', email: null }
}

function dialogButton(which: 'confirm' | 'cancel'): HTMLButtonElement {
  const button = document.querySelector<HTMLButtonElement>(`.sign-in-prompt .van-dialog__${which}`)
  if (!button) throw new Error('no sign-in prompt')
  return button
}

describe('SuggestedAccounts', () => {
  beforeEach(() => {
    localStorage.clear()
    closeDialog()
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('shows the suggestions as cards with persona, Follow and Chat, up to the limit', async () => {
    const { calls } = mockFetch([{ path: '/api/users/suggestions', reply: () => ({ status: 200, body: SUGGESTED }) }])
    const { wrapper } = await mountWithApp(SuggestedAccounts, { limit: 2 })
    await settle()
    const cards = wrapper.findAll('[data-test="suggested-account"]')
    expect(cards.map((card) => card.find('.suggested__name').text())).toEqual(['林小雨', 'BOB'])
    expect(cards[0]!.text()).toContain('咖啡馆的咖啡师')
    expect(cards[0]!.find('[data-test="ai-badge"]').exists()).toBe(true)
    expect(cards[0]!.find('[data-test="suggested-follow"]').text()).toBe('Follow 林小雨')
    expect(cards[0]!.find('[data-test="suggested-chat"]').attributes('href')).toBe('/messages/ai_lin')
    expect(calls).toHaveLength(1)
    expect(calls[0]!.url).toBe('/api/users/suggestions?limit=20')
    expect(authorization(calls[0]!.init)).toBeUndefined()
  })

  it('compact: rows with Follow alone and no persona', async () => {
    mockFetch([{ path: '/api/users/suggestions', reply: () => ({ status: 200, body: SUGGESTED }) }])
    const { wrapper } = await mountWithApp(SuggestedAccounts, { compact: true, limit: 5 })
    await settle()
    expect(wrapper.findAll('[data-test="suggested-account"]')).toHaveLength(3)
    expect(wrapper.find('[data-test="suggested-chat"]').exists()).toBe(false)
    expect(wrapper.find('.suggested__bio').exists()).toBe(false)
    expect(wrapper.find('.suggested--compact').exists()).toBe(true)
  })

  it('one request for every list on the page', async () => {
    const { calls } = mockFetch([{ path: '/api/users/suggestions', reply: () => ({ status: 200, body: SUGGESTED }) }])
    await mountWithApp(SuggestedAccounts)
    await mountWithApp(SuggestedAccounts, { compact: true })
    await settle()
    expect(calls).toHaveLength(1)
  })

  it('signed in, Follow follows and shows it', async () => {
    signIn()
    const { calls } = mockFetch([
      { path: '/api/users/suggestions', reply: () => ({ status: 200, body: SUGGESTED }) },
      { method: 'POST', path: '/api/users/bob/follow', reply: () => ({ status: 204 }) },
    ])
    const { wrapper } = await mountWithApp(SuggestedAccounts)
    await settle()
    const follow = wrapper.findAll('[data-test="suggested-follow"]')[1]!
    await follow.trigger('click')
    await settle()
    expect(calls.map((call) => `${call.method} ${call.url}`)).toContain('POST /api/users/bob/follow')
    expect(follow.text()).toBe('Following BOB')
    expect(follow.attributes('aria-pressed')).toBe('true')
    expect(useSuggestionsStore().accounts[1]!.follower_count).toBe(3)
    expect(document.querySelector('.sign-in-prompt')).toBeNull()
  })

  it('signed out, Follow asks to sign in and comes back here afterwards; nothing is written', async () => {
    const { calls } = mockFetch([{ path: '/api/users/suggestions', reply: () => ({ status: 200, body: SUGGESTED }) }])
    const { wrapper, router } = await mountWithApp(SuggestedAccounts, {}, '/users/someone?tab=posts')
    await settle()
    await wrapper.findAll('[data-test="suggested-follow"]')[0]!.trigger('click')
    await flushPromises()
    expect(document.querySelector('.sign-in-prompt')?.textContent).toContain('Sign in to follow 林小雨')
    const named = document.querySelector('.sign-in-prompt')!.getAttribute('aria-labelledby')
    expect(document.getElementById(named!)?.textContent).toBe('Sign in to follow 林小雨')
    dialogButton('confirm').click()
    await settle()
    expect(router.currentRoute.value.path).toBe('/signin')
    expect(router.currentRoute.value.query).toEqual({ next: '/users/someone?tab=posts' })
    expect(calls.filter((call) => call.method !== 'GET')).toEqual([])
  })

  it('signed out, Chat asks to sign in instead of opening the chat; "Not now" stays', async () => {
    mockFetch([{ path: '/api/users/suggestions', reply: () => ({ status: 200, body: SUGGESTED }) }])
    const { wrapper, router } = await mountWithApp(SuggestedAccounts, {}, '/')
    await settle()
    await wrapper.find('[data-test="suggested-chat"]').trigger('click')
    await flushPromises()
    expect(document.querySelector('.sign-in-prompt')?.textContent).toContain('Sign in to chat with 林小雨')
    dialogButton('cancel').click()
    await settle()
    expect(router.currentRoute.value.fullPath).toBe('/')
  })

  it('a failed load says so and tries again', async () => {
    let fail = true
    mockFetch([
      {
        path: '/api/users/suggestions',
        reply: () => (fail ? { status: 503, body: { detail: 'down', code: 'unavailable' } } : { status: 200, body: SUGGESTED }),
      },
    ])
    const { wrapper } = await mountWithApp(SuggestedAccounts)
    await settle()
    expect(wrapper.find('[role="alert"]').text()).toContain('Could not load suggestions.')
    fail = false
    await wrapper.find('[role="alert"] button').trigger('click')
    await settle()
    expect(wrapper.findAll('[data-test="suggested-account"]')).toHaveLength(3)
  })
})

describe('empty states suggest whom to follow', () => {
  beforeEach(() => {
    localStorage.clear()
    closeDialog()
    setLocale('en')
    signIn()
    vi.stubGlobal('IntersectionObserver', class { observe() {} unobserve() {} disconnect() {} })
  })

  const EMPTY_PAGE = { status: 200, body: { items: [], next_cursor: null, unread_count: 0 } }

  it.each([
    ['the Following feed', () => mountWithApp(FeedList, { kind: 'home' }), '/api/feed/home'],
    ['Messages', () => mountWithApp(MessagesView), '/api/conversations'],
    ['Notifications', () => mountWithApp(NotificationsView), '/api/notifications'],
  ])('%s, when empty', async (_name, mountIt, path) => {
    mockFetch([
      { path: '/api/users/suggestions', reply: () => ({ status: 200, body: SUGGESTED }) },
      { path, reply: () => EMPTY_PAGE },
    ])
    const { wrapper } = await mountIt()
    await vi.waitFor(() => expect(wrapper.findAll('[data-test="suggested-account"]').length).toBeGreaterThan(0))
    expect(wrapper.get('[data-test="suggested-account"]').text()).toContain('林小雨')
  })

  it('not while there is something to show', async () => {
    mockFetch([
      { path: '/api/users/suggestions', reply: () => ({ status: 200, body: SUGGESTED }) },
      { path: '/api/feed/home', reply: () => ({ status: 200, body: { items: [makePost('p1')], next_cursor: null } }) },
    ])
    const { wrapper } = await mountWithApp(FeedList, { kind: 'home' })
    await settle()
    expect(wrapper.find('[data-test="content"]').exists()).toBe(true)
    expect(wrapper.find('[data-test="suggested-accounts"]').exists()).toBe(false)
  })
})
