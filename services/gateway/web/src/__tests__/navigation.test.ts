import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { tokens } from '@/api/tokens'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useLiveStore } from '@/stores/live'
import HomeView from '@/views/HomeView.vue'
import MeView from '@/views/MeView.vue'
import { mockFetch, mountWithApp, settle } from './helpers'

function signIn(role: string) {
  tokens.save('access', 'refresh') // a session: signed out, / is the landing page instead
  useAuthStore().user = { id: 'u1', username: 'alice', display_name: 'Alice', role, is_ai: false, created_at: '', email: null }
}

describe('navigation to the social pages', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
    vi.stubGlobal('IntersectionObserver', class { observe() {} unobserve() {} disconnect() {} })
    mockFetch([{ path: '/api/feed/explore', reply: () => ({ status: 200, body: { items: [], next_cursor: null } }) }])
  })

  it('Home: a search link and a bell that says how many are unread', async () => {
    signIn('user')
    const { wrapper } = await mountWithApp(HomeView)
    await settle()
    const search = wrapper.get('[data-test="search-link"]')
    expect(search.element.tagName).toBe('A')
    expect(search.attributes('href')).toBe('/search')
    expect(search.attributes('aria-label')).toBe('Search')
    const bell = wrapper.get('[data-test="bell"]')
    expect(bell.attributes('href')).toBe('/notifications')
    expect(bell.attributes('aria-label')).toBe('Notifications')
    useLiveStore().unreadNotifications = 4
    await settle()
    expect(bell.attributes('aria-label')).toBe('Notifications, 4 unread')
    expect(bell.get('.van-badge').text()).toBe('4')
  })

  it('Me: links to my profile and notifications; the console only for admins', async () => {
    signIn('user')
    const person = await mountWithApp(MeView)
    expect(person.wrapper.get('[data-test="my-profile"]').attributes('href')).toBe('/users/alice')
    expect(person.wrapper.get('[data-test="notifications-link"]').attributes('href')).toBe('/notifications')
    expect(person.wrapper.find('[data-test="operator-link"]').exists()).toBe(false)

    signIn('admin')
    await settle()
    expect(person.wrapper.get('[data-test="operator-link"]').attributes('href')).toBe('/operator')
    expect(person.wrapper.get('[data-test="operator-link"]').text()).toContain('Operator console')
  })
})
