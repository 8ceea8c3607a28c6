import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '@/api/client'
import type { AppNotification, NotificationPage } from '@/api/types'
import { compareIds } from './ids'
import { useLiveStore } from './live'
import { emptyPagedList, loadNextPage, type PagedList } from './paging'
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
  /** Newest first. */
  const list = ref<PagedList<AppNotification>>(emptyPagedList<AppNotification>())
  const loaded = ref(false)

  function syncUnread(page: NotificationPage): void {
    useLiveStore().unreadNotifications = page.unread_count
  }

  async function loadMore(): Promise<void> {
    const page = await loadNextPage(list.value, (cursor) =>
      api.get<NotificationPage>('/notifications', { cursor, limit: NOTIFICATIONS_PAGE }),
    )
    if (!page) return
    loaded.value = true
    syncUnread(page)
  }

  /** The newest page again, merged on top (after a live notification or a pull to refresh). */
  async function refreshLatest(): Promise<void> {
    const page = await api.get<NotificationPage>('/notifications', { limit: NOTIFICATIONS_PAGE })
    const current = list.value
    const fresh = new Set(page.items.map((n) => n.id))
    const rest = current.items.filter((n) => !fresh.has(n.id))
    current.items = [...page.items, ...rest].sort((a, b) => compareIds(b.id, a.id))
    if (!loaded.value) {
      current.cursor = page.next_cursor ?? null
      current.finished = !page.next_cursor
      loaded.value = true
    }
    syncUnread(page)
  }

  async function markAllRead(): Promise<void> {
    await api.post('/notifications/read', {})
    for (const notification of list.value.items) notification.read = true
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
    list.value = emptyPagedList<AppNotification>()
    loaded.value = false
  }

  onSignedOut(clear)

  return { list, loaded, loadMore, refreshLatest, markAllRead, markRead, subscribe, clear }
})
