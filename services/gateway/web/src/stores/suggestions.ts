import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import { api } from '@/api/client'
import type { Profile } from '@/api/types'
import { useAuthStore } from './auth'

/** The most the API gives at once (GET /api/users/suggestions?limit=1..20). */
export const SUGGESTIONS_MAX = 20

/**
 * Whom to follow: the town's characters first, then active people; never oneself nor whom one follows.
 * One list for every place that shows it (empty states, the landing page, the desktop's right column),
 * fetched once per session and read again when the account changes.
 */
export const useSuggestionsStore = defineStore('suggestions', () => {
  const accounts = ref<Profile[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<unknown>(null)
  let inFlight: Promise<void> | null = null

  /** Fetches the list unless it is there already (`force`: read it again). */
  function load(force = false): Promise<void> {
    if (loaded.value && !force) return Promise.resolve()
    inFlight ??= (async () => {
      loading.value = true
      error.value = null
      try {
        accounts.value = await api.get<Profile[]>('/users/suggestions', { limit: SUGGESTIONS_MAX })
        loaded.value = true
      } catch (failure) {
        error.value = failure
      } finally {
        loading.value = false
        inFlight = null
      }
    })()
    return inFlight
  }

  /** After a follow from anywhere: the button shows it (the account stays until the list is read again). */
  function markFollowing(username: string, following: boolean): void {
    const account = accounts.value.find((item) => item.username === username)
    if (!account) return
    if (Boolean(account.is_following) !== following) account.follower_count += following ? 1 : -1
    account.is_following = following
  }

  // Who to suggest depends on who asks: signing in or out reads the list again when next shown.
  watch(
    () => useAuthStore().isSignedIn,
    () => {
      loaded.value = false
      accounts.value = []
    },
  )

  return { accounts, loaded, loading, error, load, markFollowing }
})
