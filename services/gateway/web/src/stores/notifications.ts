import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '@/api/client'
import type { AppNotification, NotificationPage } from '@/api/types'
import { compareIds } from './ids'
import { useLiveStore } from './live'
import { onSignedOut } from './session'

export const NOTIFICATIONS_PAGE = 20

/** Where a notification leads: the post, the chat, or the person. */
export function notificationTarget(notification: AppNotification): string {
  const who = encodeURIComponent(notification.actor.username)
  if (notification.kind === 'message') return `/messages/${who}`
  if (notification.kind === 'follow' || !notification.post_id) return `/users/${who}`
  return `/posts/${notification.post_id}`
}

/**
 * The notification list. The unread count itself lives in the live store (the tabbar badge); every
 * page the API serves carries the true count, which replaces the one counted from live events.
 */
export const useNotificationsStore = defineStore('notifications', () => {
  const items = ref<AppNotification[]>([])
  const cursor = ref<string | null>(null)
  const finished = ref(false)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<unknown>(null)

  function syncUnread(page: NotificationPage): void {
    useLiveStore().unreadNotifications = page.unread_count
  }

  async function loadMore(): Promise<void> {
    if (loading.value || finished.value) return
    loading.value = true
    error.value = null
    try {
      const page = await api.get<NotificationPage>('/notifications', { cursor: cursor.value, limit: NOTIFICATIONS_PAGE })
      const seen = new Set(items.value.map((n) => n.id))
      items.value.push(...page.items.filter((n) => !seen.has(n.id)))
      cursor.value = page.next_cursor ?? null
      finished.value = !page.next_cursor
      loaded.value = true
      syncUnread(page)
    } catch (e) {
      error.value = e
      throw e
    } finally {
      loading.value = false
    }
  }

  /** The newest page again, merged on top (after a live notification or a pull to refresh). */
  async function refreshLatest(): Promise<void> {
    const page = await api.get<NotificationPage>('/notifications', { limit: NOTIFICATIONS_PAGE })
    const fresh = new Map(page.items.map((n) => [n.id, n]))
    const rest = items.value.filter((n) => !fresh.has(n.id))
    items.value = [...page.items, ...rest].sort((a, b) => compareIds(b.id, a.id))
    if (!loaded.value) {
      cursor.value = page.next_cursor ?? null
      finished.value = !page.next_cursor
      loaded.value = true
    }
    syncUnread(page)
  }

  async function markAllRead(): Promise<void> {
    await api.post('/notifications/read', {})
    for (const notification of items.value) notification.read = true
    useLiveStore().unreadNotifications = 0
  }

  async function markRead(notification: AppNotification): Promise<void> {
    if (notification.read) return
    notification.read = true
    const live = useLiveStore()
    live.unreadNotifications = Math.max(0, live.unreadNotifications - 1)
    try {
      await api.post('/notifications/read', { ids: [notification.id] })
    } catch (e) {
      notification.read = false
      live.unreadNotifications += 1
      throw e
    }
  }

  /** Keeps the list in step with the stream while the page is on screen. */
  function subscribe(): () => void {
    return useLiveStore().on('notification.created', () => {
      if (loaded.value) void refreshLatest().catch(() => undefined)
    })
  }

  function clear(): void {
    items.value = []
    cursor.value = null
    finished.value = false
    loaded.value = false
    error.value = null
  }

  onSignedOut(clear)

  return { items, finished, loading, loaded, error, loadMore, refreshLatest, markAllRead, markRead, subscribe, clear }
})
