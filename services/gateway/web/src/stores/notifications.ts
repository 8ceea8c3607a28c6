import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '@/api/client'
import type { AppNotification, Author, NotificationPage } from '@/api/types'
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

/** Notifications shown as one row: likes or reposts of one post, or follows, all read or all unread. */
export interface NotificationGroup {
  /** The newest one's id. */
  key: string
  /** Newest first; the first one stands for the group (kind, post, snippet, thumbnail, time, link). */
  notifications: AppNotification[]
  /** Each actor once, newest first. */
  actors: Author[]
  read: boolean
}

const GROUPED_KINDS = new Set(['like', 'follow', 'repost'])

/**
 * The list as it is shown, newest first: "A, B and 3 others liked your post" instead of five rows.
 * A group sits where its newest member is; read and unread ones stay apart, so reading a row reads
 * what it says and the unread highlight stays true.
 */
export function groupNotifications(items: AppNotification[]): NotificationGroup[] {
  const groups: NotificationGroup[] = []
  const byKey = new Map<string, NotificationGroup>()
  for (const notification of items) {
    const key = GROUPED_KINDS.has(notification.kind)
      ? `${notification.kind}:${notification.post_id ?? ''}:${notification.read}`
      : null
    const group = key === null ? undefined : byKey.get(key)
    if (group) {
      group.notifications.push(notification)
      if (!group.actors.some((actor) => actor.id === notification.actor.id)) group.actors.push(notification.actor)
      continue
    }
    const created = { key: notification.id, notifications: [notification], actors: [notification.actor], read: notification.read }
    groups.push(created)
    if (key !== null) byKey.set(key, created)
  }
  return groups
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

  /** Marks these read (a row's notifications: one, or a group's). */
  async function markRead(notifications: AppNotification[]): Promise<void> {
    const unread = notifications.filter((n) => !n.read)
    if (!unread.length) return
    for (const n of unread) n.read = true
    const live = useLiveStore()
    live.unreadNotifications = Math.max(0, live.unreadNotifications - unread.length)
    try {
      await api.post('/notifications/read', { ids: unread.map((n) => n.id) })
    } catch (e) {
      for (const n of unread) n.read = false
      live.unreadNotifications += unread.length
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
