import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { Post } from '@/api/types'
import PostCard from '@/components/PostCard.vue'
import { forgetPlaces } from '@/components/world/placeNames'
import { setLocale } from '@/i18n'
import { useSimStore } from '@/stores/sim'
import { makePost, mockFetch, mountWithApp, settle } from './helpers'
import { makeStatus, makeWorld } from './simFixtures'

describe('a post written at a place', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
    forgetPlaces()
  })

  it('links to the place on the World page, named in the chosen language', async () => {
    const { calls } = mockFetch([{ path: '/api/sim/world', reply: () => ({ status: 200, body: makeWorld() }) }])
    const { wrapper, router } = await mountWithApp(PostCard, { post: makePost('1', { location_id: 'cafe' }) as Post })
    await settle()
    const link = wrapper.get('[data-test="post-place"]')
    expect(link.text()).toBe('Posted at Cafe')
    expect(link.attributes('href')).toBe('/world?place=cafe')
    setLocale('zh-CN')
    await settle()
    expect(wrapper.get('[data-test="post-place"]').text()).toBe('发布于cafe-中文')
    await link.trigger('click')
    await settle()
    expect(router.currentRoute.value.fullPath).toBe('/world?place=cafe')
    expect(calls.filter((call) => call.url.startsWith('/api/sim/world'))).toHaveLength(1)
  })

  it('waits for the world the page is loading rather than asking for it again', async () => {
    const { calls } = mockFetch([
      { path: '/api/sim/world', reply: () => ({ status: 200, body: makeWorld() }) },
      { path: '/api/sim/events', reply: () => ({ status: 200, body: [] }) },
      { path: '/api/sim/actions', reply: () => ({ status: 200, body: { items: [], next_cursor: null } }) },
      { path: '/api/sim/status', reply: () => ({ status: 200, body: makeStatus() }) },
    ])
    // The world answers only when the card is on screen: the landing page's load is still on its way.
    const answer = globalThis.fetch
    let answerWorld!: () => void
    const worldAnswered = new Promise<void>((resolve) => (answerWorld = resolve))
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input).startsWith('/api/sim/world')) await worldAnswered
      return answer(input, init)
    })
    const loading = useSimStore().loadWorld()
    const { wrapper } = await mountWithApp(PostCard, { post: makePost('3', { location_id: 'cafe' }) as Post })
    await settle()
    answerWorld()
    await loading
    await settle()
    expect(wrapper.get('[data-test="post-place"]').text()).toBe('Posted at Cafe')
    expect(calls.filter((call) => call.url.startsWith('/api/sim/world'))).toHaveLength(1)
  })

  it('shows no place for a post written nowhere in particular', async () => {
    mockFetch([])
    const { wrapper } = await mountWithApp(PostCard, { post: makePost('2') as Post })
    expect(wrapper.find('[data-test="post-place"]').exists()).toBe(false)
  })
})
