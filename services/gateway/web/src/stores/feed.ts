import { defineStore } from 'pinia'
import { reactive } from 'vue'
import { api } from '@/api/client'
import type { Page, Post } from '@/api/types'

export type FeedKind = 'home' | 'explore'

export interface FeedState {
  items: Post[]
  cursor: string | null
  finished: boolean
  loading: boolean
  error: unknown
}

export const PAGE_SIZE = 20

function emptyFeed(): FeedState {
  return { items: [], cursor: null, finished: false, loading: false, error: null }
}

export const useFeedStore = defineStore('feed', () => {
  const feeds = reactive<Record<FeedKind, FeedState>>({ home: emptyFeed(), explore: emptyFeed() })

  async function loadMore(kind: FeedKind): Promise<void> {
    const feed = feeds[kind]
    if (feed.loading || feed.finished) return
    feed.loading = true
    feed.error = null
    try {
      const page = await api.get<Page<Post>>(`/feed/${kind}`, { cursor: feed.cursor, limit: PAGE_SIZE })
      // A live post may already be on top, or a page boundary may shift as posts arrive: skip seen ids.
      const seen = new Set(feed.items.map((post) => post.id))
      feed.items.push(...page.items.filter((post) => !seen.has(post.id)))
      feed.cursor = page.next_cursor ?? null
      feed.finished = !page.next_cursor
    } catch (error) {
      feed.error = error
      throw error
    } finally {
      feed.loading = false
    }
  }

  /** Start over from the newest page (pull to refresh, or the stream said `reset`). */
  async function refresh(kind: FeedKind): Promise<void> {
    feeds[kind] = emptyFeed()
    await loadMore(kind)
  }

  /** A post that arrived live goes on top of the feed it belongs in, once. */
  function prepend(kind: FeedKind, post: Post): void {
    const feed = feeds[kind]
    if (!feed.items.some((item) => item.id === post.id)) feed.items.unshift(post)
  }

  function replace(post: Post): void {
    for (const feed of Object.values(feeds)) {
      const index = feed.items.findIndex((item) => item.id === post.id)
      if (index >= 0) feed.items[index] = post
    }
  }

  function remove(postId: string): void {
    for (const feed of Object.values(feeds)) feed.items = feed.items.filter((item) => item.id !== postId)
  }

  async function create(content: string, imageIds: string[] = []): Promise<Post> {
    const body: { content: string; image_ids?: string[] } = { content }
    if (imageIds.length) body.image_ids = imageIds
    const post = await api.post<Post>('/posts', body)
    prepend('home', post)
    prepend('explore', post)
    return post
  }

  function clear(): void {
    feeds.home = emptyFeed()
    feeds.explore = emptyFeed()
  }

  return { feeds, loadMore, refresh, prepend, replace, remove, create, clear }
})
