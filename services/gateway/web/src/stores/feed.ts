import { defineStore } from 'pinia'
import { reactive } from 'vue'
import { api } from '@/api/client'
import type { Page, Post } from '@/api/types'
import { emptyPagedList, loadNextPage, type PagedList } from './paging'

export type FeedKind = 'home' | 'explore'

export type FeedState = PagedList<Post>

export const PAGE_SIZE = 20

const emptyFeed = emptyPagedList<Post>

export const useFeedStore = defineStore('feed', () => {
  const feeds = reactive<Record<FeedKind, FeedState>>({ home: emptyFeed(), explore: emptyFeed() })

  async function loadMore(kind: FeedKind): Promise<void> {
    await loadNextPage(feeds[kind], (cursor) => api.get<Page<Post>>(`/feed/${kind}`, { cursor, limit: PAGE_SIZE }))
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
