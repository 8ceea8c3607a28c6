import { defineStore } from 'pinia'
import { reactive, ref } from 'vue'
import { api } from '@/api/client'
import type { Post, Profile, SearchResults } from '@/api/types'
import { onSignedOut } from './session'

/** Results added per "page". The search API ranks the best `limit` matches and has no cursor, so a
 * further page asks for a larger limit, up to the most the API accepts. */
export const SEARCH_STEP = 20
export const SEARCH_MAX = 200

export type SearchTab = 'posts' | 'users'

export interface ResultList<T> {
  items: T[]
  limit: number
  finished: boolean
  loading: boolean
  error: unknown
}

function emptyList<T>(): ResultList<T> {
  return { items: [], limit: 0, finished: false, loading: false, error: null }
}

export const useSearchStore = defineStore('search', () => {
  const query = ref('')
  const results = reactive({ posts: emptyList<Post>(), users: emptyList<Profile>() })

  /** Starts a new search; each tab loads its first page when it is shown. */
  function search(text: string): void {
    query.value = text.trim()
    results.posts = emptyList<Post>()
    results.users = emptyList<Profile>()
    // Nothing to ask for an empty query.
    if (!query.value) {
      results.posts.finished = true
      results.users.finished = true
    }
  }

  async function loadMore(tab: SearchTab): Promise<void> {
    const list = results[tab]
    const asked = query.value
    if (!asked || list.loading || list.finished) return
    const limit = Math.min(list.limit + SEARCH_STEP, SEARCH_MAX)
    list.loading = true
    list.error = null
    try {
      const found = await api.get<SearchResults>('/search', { q: asked, type: tab, limit })
      if (results[tab] !== list) return // a newer search replaced this list meanwhile
      const items: Array<Post | Profile> = tab === 'posts' ? found.posts : found.users
      const seen = new Set<string>()
      list.items = items.filter((item) => !seen.has(item.id) && seen.add(item.id)) as typeof list.items
      list.limit = limit
      // Fewer than asked for: that is all there is (the server may also cap the limit lower).
      list.finished = items.length < limit || limit >= SEARCH_MAX
    } catch (error) {
      list.error = error
      throw error
    } finally {
      list.loading = false
    }
  }

  function replacePost(post: Post): void {
    const index = results.posts.items.findIndex((item) => item.id === post.id)
    if (index >= 0) results.posts.items[index] = post
  }

  function removePost(postId: string): void {
    results.posts.items = results.posts.items.filter((item) => item.id !== postId)
  }

  onSignedOut(() => search(''))

  return { query, results, search, loadMore, replacePost, removePost }
})
