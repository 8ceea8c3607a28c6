import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Post } from '@/api/types'
import { tokens } from '@/api/tokens'
import FeedList from '@/components/FeedList.vue'
import { setLocale } from '@/i18n'
import { useFeedStore } from '@/stores/feed'
import HomeView from '@/views/HomeView.vue'
import { makePost, mockFetch, mountWithApp, settle } from './helpers'

const someoneElse = (id: string) => makePost(id, { author: { ...makePost(id).author, id: 'u9' } }) as Post

/** Answers explore by its order, and records each request's query. */
function serveExplore() {
  const mock = mockFetch([
    {
      path: '/api/feed/explore',
      reply: () => {
        const url = new URL(mock.calls[mock.calls.length - 1]!.url, 'http://x')
        const latest = url.searchParams.get('order') === 'latest'
        const items = latest ? [makePost('9'), makePost('8'), makePost('7')] : [makePost('7'), makePost('9'), makePost('8')]
        return { status: 200, body: { items, next_cursor: url.searchParams.get('cursor') ? null : 'next' } }
      },
    },
    { method: 'POST', path: '/api/posts', reply: () => ({ status: 201, body: makePost('20', { content: 'mine' }) }) },
  ])
  return mock
}

describe('explore orders', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
  })

  it('asks for popular by default and for latest with order=latest, each paging by its own cursor', async () => {
    const { calls } = serveExplore()
    const feed = useFeedStore()
    await feed.loadMore('explore')
    await feed.loadMore('latest')
    await feed.loadMore('latest')
    expect(calls.map((call) => call.url)).toEqual([
      '/api/feed/explore?limit=20',
      '/api/feed/explore?order=latest&limit=20',
      '/api/feed/explore?order=latest&cursor=next&limit=20',
    ])
    expect(feed.feeds.explore.items.map((p) => p.id)).toEqual(['7', '9', '8'])
    expect(feed.feeds.latest.items.map((p) => p.id)).toEqual(['9', '8', '7'])
  })

  it('labels Explore as ranked and switches to newest first', async () => {
    setLocale('en')
    tokens.save('access', 'refresh') // signed in: signed out, / is the landing page
    const { calls } = serveExplore()
    const { wrapper } = await mountWithApp(HomeView)
    await useFeedStore().loadMore('explore')
    await settle()
    const choices = wrapper.findAll('input[name="explore-order"]')
    expect(choices.map((input) => input.element.closest('label')!.textContent!.trim())).toEqual(['Popular', 'Latest'])
    expect((choices[0]!.element as HTMLInputElement).checked).toBe(true)
    expect(wrapper.get('[data-test="explore-order-hint"]').text()).toBe('Ranked by likes, comments and reposts, fresher posts first')

    await choices[1]!.setValue(true)
    await settle()
    expect(useFeedStore().exploreOrder).toBe('latest')
    expect(wrapper.get('[data-test="explore-order-hint"]').text()).toBe('Newest first')
    expect(calls.some((call) => call.url.startsWith('/api/feed/explore?order=latest'))).toBe(true)

    setLocale('zh-CN')
    await settle()
    expect(wrapper.findAll('input[name="explore-order"]').map((i) => i.element.closest('label')!.textContent!.trim())).toEqual(['热门', '最新'])
    setLocale('en')
  })
})

describe('new posts pill', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
    vi.stubGlobal('scrollTo', vi.fn())
  })
  afterEach(() => vi.unstubAllGlobals())

  async function readingExplore() {
    serveExplore()
    const feed = useFeedStore()
    await feed.loadMore('explore')
    const mounted = await mountWithApp(FeedList, { kind: 'explore' })
    await settle()
    return { feed, ...mounted }
  }

  it("counts live posts without moving the feed, and shows them on top when tapped", async () => {
    const { feed, wrapper } = await readingExplore()
    const before = wrapper.findAll('article').map((card) => card.text())
    expect(wrapper.find('[data-test="new-posts"]').exists()).toBe(false)

    feed.arrive('explore', someoneElse('30'))
    await settle()
    expect(wrapper.get('[data-test="new-posts"]').text()).toBe('1 new post')
    feed.arrive('explore', someoneElse('31'))
    feed.arrive('explore', someoneElse('31')) // the same post twice counts once
    await settle()
    const pill = wrapper.get('[data-test="new-posts"]')
    expect(pill.text()).toBe('2 new posts')
    expect(pill.attributes('aria-label')).toBe('Show 2 new posts')
    expect(pill.element.closest('[role="status"]')).not.toBeNull()
    // Nothing moved under the reader, and the page did not scroll.
    expect(wrapper.findAll('article').map((card) => card.text())).toEqual(before)
    expect(window.scrollTo).not.toHaveBeenCalled()

    setLocale('zh-CN')
    await settle()
    expect(wrapper.get('[data-test="new-posts"]').text()).toBe('2 条新动态')
    setLocale('en')
    await settle()

    await wrapper.get('[data-test="new-posts"]').trigger('click')
    await settle()
    expect(window.scrollTo).toHaveBeenCalledWith({ top: 0 })
    expect(feed.feeds.explore.items.map((p) => p.id)).toEqual(['31', '30', '7', '9', '8'])
    expect(wrapper.findAll('article')).toHaveLength(5)
    expect(wrapper.find('[data-test="new-posts"]').exists()).toBe(false)
  })

  it("shows one's own new post at once, with no pill", async () => {
    const { feed, wrapper } = await readingExplore()
    await feed.create('mine')
    await settle()
    expect(wrapper.findAll('article')[0]!.text()).toContain('mine')
    expect(wrapper.find('[data-test="new-posts"]').exists()).toBe(false)
    for (const kind of ['home', 'explore', 'latest'] as const) expect(feed.feeds[kind].items[0]!.id).toBe('20')
  })

  it('forgets an arrived post that was deleted or that a page brought meanwhile', async () => {
    const { feed } = await readingExplore()
    feed.arrive('explore', someoneElse('30'))
    feed.arrive('explore', someoneElse('8')) // already on the page
    feed.arrive('explore', someoneElse('31'))
    expect(feed.feeds.explore.arrived.map((p) => p.id)).toEqual(['31', '30'])
    feed.remove('30')
    expect(feed.feeds.explore.arrived.map((p) => p.id)).toEqual(['31'])
    // A feed not loaded yet is not told: its first page brings the post.
    feed.arrive('latest', someoneElse('31'))
    expect(feed.feeds.latest.arrived).toHaveLength(0)
  })
})
