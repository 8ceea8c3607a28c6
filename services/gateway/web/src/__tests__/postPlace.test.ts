import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Post } from '@/api/types'
import PostCard from '@/components/PostCard.vue'
import { forgetPlaces } from '@/components/world/placeNames'
import { setLocale } from '@/i18n'
import { makePost, mockFetch, mountWithApp, settle } from './helpers'
import { makeWorld } from './simFixtures'

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

  it('shows no place for a post written nowhere in particular', async () => {
    mockFetch([])
    const { wrapper } = await mountWithApp(PostCard, { post: makePost('2') as Post })
    expect(wrapper.find('[data-test="post-place"]').exists()).toBe(false)
  })
})
