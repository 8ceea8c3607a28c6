import { defineStore } from 'pinia'
import { reactive, ref } from 'vue'
import { api } from '@/api/client'
import type { Page, Post } from '@/api/types'
import { emptyPagedList, loadNextPage, type PagedList } from './paging'

/** Following, Explore ranked by engagement ("popular"), and Explore newest first. */
export type FeedKind = 'home' | 'explore' | 'latest'

export type ExploreOrder = 'popular' | 'latest'

export interface FeedState extends PagedList<Post> {
  /**
   * Live posts by others that came while the feed was open, newest first. They wait here until the
   * reader asks for them ("3 new posts"): put on top at once, they pushed down what was being read.
   */
  arrived: Post[]
}

export const PAGE_SIZE = 20

const FEED_KINDS: FeedKind[] = ['home', 'explore', 'latest']

const REQUESTS: Record<FeedKind, { path: string; query: Record<string, string> }> = {
  home: { path: '/feed/home', query: {} },
  explore: { path: '/feed/explore', query: {} },
  latest: { path: '/feed/explore', query: { order: 'latest' } },
}

function emptyFeed(): FeedState {
  return { ...emptyPagedList<Post>(), arrived: [] }
}

function holds(feed: FeedState, postId: string): boolean {
  return feed.items.some((item) => item.id === postId) || feed.arrived.some((item) => item.id === postId)
}

export const useFeedStore = defineStore('feed', () => {
  const feeds = reactive<Record<FeedKind, FeedState>>({ home: emptyFeed(), explore: emptyFeed(), latest: emptyFeed() })
  // Which Explore the home page shows; kept here so it stays while one opens a post and comes back.
  const exploreOrder = ref<ExploreOrder>('popular')

  async function loadMore(kind: FeedKind): Promise<void> {
    const { path, query } = REQUESTS[kind]
    const feed = feeds[kind]
    await loadNextPage(feed, (cursor) => api.get<Page<Post>>(path, { ...query, cursor, limit: PAGE_SIZE }))
    // A post that arrived live while this page was on its way may be on it: it is no longer new.
    if (feed.arrived.length) feed.arrived = feed.arrived.filter((post) => !feed.items.some((item) => item.id === post.id))
  }

  /** Start over from the newest page (pull to refresh, or the stream said `reset`). */
  async function refresh(kind: FeedKind): Promise<void> {
    feeds[kind] = emptyFeed()
    await loadMore(kind)
  }

  async function refreshAll(): Promise<void> {
    await Promise.allSettled(FEED_KINDS.map(refresh))
  }

  /** A post to show on top of a feed at once (one's own), once. */
  function prepend(kind: FeedKind, post: Post): void {
    const feed = feeds[kind]
    feed.arrived = feed.arrived.filter((item) => item.id !== post.id)
    if (!feed.items.some((item) => item.id === post.id)) feed.items.unshift(post)
  }

  /** A live post by someone else: kept aside until the reader asks to see the new posts. */
  function arrive(kind: FeedKind, post: Post): void {
    const feed = feeds[kind]
    // Not loaded yet: its first page will bring the post.
    const started = feed.items.length > 0 || feed.finished || feed.loading
    if (started && !holds(feed, post.id)) feed.arrived.unshift(post)
  }

  /** Put the posts that arrived on top of the feed (the reader tapped "N new posts"). */
  function showArrived(kind: FeedKind): void {
    const feed = feeds[kind]
    const fresh = feed.arrived.filter((post) => !feed.items.some((item) => item.id === post.id))
    feed.items.unshift(...fresh)
    feed.arrived = []
  }

  function replace(post: Post): void {
    for (const feed of Object.values(feeds)) {
      for (const list of [feed.items, feed.arrived]) {
        const index = list.findIndex((item) => item.id === post.id)
        if (index >= 0) list[index] = post
      }
    }
  }

  function remove(postId: string): void {
    for (const feed of Object.values(feeds)) {
      feed.items = feed.items.filter((item) => item.id !== postId)
      feed.arrived = feed.arrived.filter((item) => item.id !== postId)
    }
  }

  async function create(content: string, imageIds: string[] = []): Promise<Post> {
    const body: { content: string; image_ids?: string[] } = { content }
    if (imageIds.length) body.image_ids = imageIds
    const post = await api.post<Post>('/posts', body)
    for (const kind of FEED_KINDS) prepend(kind, post)
    return post
  }

  function clear(): void {
    for (const kind of FEED_KINDS) feeds[kind] = emptyFeed()
  }

  return { feeds, exploreOrder, loadMore, refresh, refreshAll, prepend, arrive, showArrived, replace, remove, create, clear }
})
