import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { useFeedStore } from '@/stores/feed'
import { usePostsStore } from '@/stores/posts'
import { makePost, mockFetch } from './helpers'

describe('feed store', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
  })

  it('appends pages by cursor, skips duplicates and stops at the last page', async () => {
    const pages: Record<string, { items: unknown[]; next_cursor: string | null }> = {
      '': { items: [makePost('5'), makePost('4')], next_cursor: 'c1' },
      // The boundary shifted: post 4 shows up again on the second page.
      c1: { items: [makePost('4'), makePost('3')], next_cursor: null },
    }
    const { calls } = mockFetch([
      {
        path: '/api/feed/explore',
        reply: () => {
          const url = new URL(calls[calls.length - 1]!.url, 'http://x')
          return { status: 200, body: pages[url.searchParams.get('cursor') ?? ''] }
        },
      },
    ])
    const feed = useFeedStore()
    await feed.loadMore('explore')
    expect(calls[0]!.url).toBe('/api/feed/explore?limit=20')
    await feed.loadMore('explore')
    expect(calls[1]!.url).toBe('/api/feed/explore?cursor=c1&limit=20')
    expect(feed.feeds.explore.items.map((p) => p.id)).toEqual(['5', '4', '3'])
    expect(feed.feeds.explore.finished).toBe(true)
    await feed.loadMore('explore') // finished: no further request
    expect(calls).toHaveLength(2)
  })

  it('prepends a live post once and refresh starts over', async () => {
    mockFetch([{ path: '/api/feed/home', reply: () => ({ status: 200, body: { items: [makePost('1')], next_cursor: null } }) }])
    const feed = useFeedStore()
    await feed.loadMore('home')
    feed.prepend('home', makePost('2'))
    feed.prepend('home', makePost('2'))
    expect(feed.feeds.home.items.map((p) => p.id)).toEqual(['2', '1'])
    await feed.refresh('home')
    expect(feed.feeds.home.items.map((p) => p.id)).toEqual(['1'])
  })

  it('likes optimistically and rolls back when the server refuses', async () => {
    mockFetch([
      { path: '/api/feed/explore', reply: () => ({ status: 200, body: { items: [makePost('1')], next_cursor: null } }) },
      { method: 'POST', path: '/api/posts/1/like', reply: () => ({ status: 429, body: { detail: 'slow down', code: 'rate_limited' } }) },
    ])
    const feed = useFeedStore()
    await feed.loadMore('explore')
    const liking = usePostsStore().toggleLike(feed.feeds.explore.items[0]!)
    expect(feed.feeds.explore.items[0]!.liked_by_me).toBe(true)
    await expect(liking).rejects.toMatchObject({ code: 'rate_limited' })
    expect(feed.feeds.explore.items[0]!.liked_by_me).toBe(false)
    expect(feed.feeds.explore.items[0]!.like_count).toBe(0)
  })
})
