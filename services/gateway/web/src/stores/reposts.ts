import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, request } from '@/api/client'
import type { Page, Post } from '@/api/types'
import { useAuthStore } from './auth'
import { useFeedStore } from './feed'
import { emptyPagedList, loadNextPage, type PagedList } from './paging'
import { usePostsStore } from './posts'
import { useProfilesStore } from './profiles'
import { useSearchStore } from './search'
import { onSignedOut } from './session'

export const BOOKMARKS_PAGE = 20

/** The post a card's actions act on: a plain repost (no quote) stands for its original. */
export function actedOn(post: Post): Post {
  return isPlainRepost(post) && post.repost_of ? post.repost_of : post
}

/** A repost without a quote of its own: shown as "X reposted" and the original. */
export function isPlainRepost(post: Post): boolean {
  return Boolean(post.repost_of_id) && !post.content
}

/**
 * Reposts (plain, undone with a second tap, or with a quote, a post of its own) and one's private
 * bookmarks. Every change goes through the posts store's publish, so each list showing the post,
 * or a repost embedding it, shows the change.
 */
export const useRepostsStore = defineStore('reposts', () => {
  /** The reader's bookmarks, the latest bookmarked first. */
  const bookmarks = ref<PagedList<Post>>(emptyPagedList<Post>())

  async function loadBookmarks(): Promise<void> {
    const list = bookmarks.value
    await loadNextPage(list, (cursor) => api.get<Page<Post>>('/bookmarks', { cursor, limit: BOOKMARKS_PAGE }))
  }

  /** From the first page again (the page is opened anew). */
  function resetBookmarks(): void {
    bookmarks.value = emptyPagedList<Post>()
  }

  /** `updated` changed: the bookmarks list and every repost that embeds it show the new copy. */
  function replaceEmbedded(updated: Post): void {
    const list = bookmarks.value.items
    const index = list.findIndex((item) => item.id === updated.id)
    if (index >= 0) list[index] = updated
    const posts = usePostsStore()
    for (const item of shownPosts()) {
      if (item.repost_of?.id === updated.id && item.repost_of !== updated) posts.publish({ ...item, repost_of: updated })
    }
  }

  /** Every post some list holds (feeds, profiles, search, bookmarks, the open post). */
  function shownPosts(): Post[] {
    const feeds = Object.values(useFeedStore().feeds).flatMap((feed) => [...feed.items, ...feed.arrived])
    const profiles = Object.values(useProfilesStore().posts).flatMap((list) => list.items)
    const open = usePostsStore().post
    return [...feeds, ...profiles, ...useSearchStore().results.posts.items, ...bookmarks.value.items, ...(open ? [open] : [])]
  }

  /** A new repost of ours shows at once on top of every feed, as a new post of ours does. */
  function showOwn(repost: Post): void {
    const feed = useFeedStore()
    for (const kind of ['home', 'explore', 'latest'] as const) feed.prepend(kind, repost)
  }

  /** A plain repost of `original`, or its undoing when we have one; optimistic. */
  async function toggleRepost(original: Post): Promise<void> {
    const posts = usePostsStore()
    const reposted = !original.reposted_by_me
    const count = Math.max(0, (original.repost_count ?? 0) + (reposted ? 1 : -1))
    posts.publish({ ...original, reposted_by_me: reposted, repost_count: count })
    try {
      if (reposted) {
        const repost = await api.post<Post>(`/posts/${original.id}/repost`)
        showOwn(repost)
      } else {
        await api.delete(`/posts/${original.id}/repost`)
        const me = useAuthStore().user?.id
        for (const item of shownPosts()) {
          if (item.author.id === me && item.repost_of_id === original.id && isPlainRepost(item)) posts.forget(item.id)
        }
      }
    } catch (e) {
      posts.publish(original)
      throw e
    }
  }

  /** A repost of `original` with our words above it: a new post of ours. */
  async function quote(original: Post, content: string): Promise<Post> {
    const repost = await api.post<Post>(`/posts/${original.id}/repost`, { content })
    showOwn(repost)
    if (repost.repost_of) usePostsStore().publish(repost.repost_of)
    return repost
  }

  /** Bookmarks or un-bookmarks `target`; optimistic. Nobody else is told. */
  async function toggleBookmark(target: Post): Promise<void> {
    const posts = usePostsStore()
    const bookmarked = !target.bookmarked_by_me
    posts.publish({ ...target, bookmarked_by_me: bookmarked })
    try {
      if (bookmarked) await request(`/posts/${target.id}/bookmark`, { method: 'PUT' })
      else await api.delete(`/posts/${target.id}/bookmark`)
    } catch (e) {
      posts.publish(target)
      throw e
    }
    // The list is in the order of bookmarking: a new one is read with the list's first page again.
    if (bookmarked) resetBookmarks()
  }

  onSignedOut(resetBookmarks)

  return { bookmarks, loadBookmarks, resetBookmarks, replaceEmbedded, toggleRepost, quote, toggleBookmark }
})
