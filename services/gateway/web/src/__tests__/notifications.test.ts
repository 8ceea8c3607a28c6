import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { tokens } from '@/api/tokens'
import type { AppNotification, Author, NotificationKind } from '@/api/types'
import AppTabbar from '@/components/AppTabbar.vue'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useLiveStore } from '@/stores/live'
import { notificationTarget } from '@/stores/notifications'
import NotificationsView from '@/views/NotificationsView.vue'
import { mockFetch, mountWithApp, settle } from './helpers'

const BOB: Author = { id: 'u2', username: 'bob', display_name: 'Bob', avatar_url: null, is_ai: false }
const LIN: Author = { id: 'u9', username: 'ai_lin', display_name: '林小雨', avatar_url: null, is_ai: true }

function note(id: string, kind: NotificationKind, actor: Author, read = false, post_id: string | null = 'p7'): AppNotification {
  return { id, kind, actor, post_id, comment_id: null, message_id: null, created_at: '2026-01-01T00:00:00Z', read }
}

class SilentEventSource {
  static readonly CLOSED = 2
  readyState = 0
  onopen = null
  onerror = null
  addEventListener() {}
  close() {}
}

/** A notifications API over a list the test can grow; marking read changes the server's count. */
function serve(initial: AppNotification[]) {
  const server = { items: initial, readBodies: [] as unknown[] }
  const unread = () => server.items.filter((n) => !n.read).length
  const mock = mockFetch([
    {
      path: '/api/notifications',
      reply: () => {
        const url = new URL(mock.calls[mock.calls.length - 1]!.url, 'http://x')
        const limit = Number(url.searchParams.get('limit'))
        return { status: 200, body: { items: server.items.slice(0, limit), next_cursor: null, unread_count: unread() } }
      },
    },
    {
      method: 'POST',
      path: '/api/notifications/read',
      reply: (init) => {
        const body = JSON.parse(String(init.body)) as { ids?: string[] }
        server.readBodies.push(body)
        for (const n of server.items) if (!body.ids || body.ids.includes(n.id)) n.read = true
        return { status: 204 }
      },
    },
  ])
  return server
}

describe('notifications', () => {
  beforeEach(() => {
    localStorage.clear()
    tokens.save('access', 'refresh')
    vi.stubGlobal('EventSource', SilentEventSource)
    setActivePinia(createPinia())
    setLocale('en')
    useAuthStore().user = { ...BOB, id: 'u1', username: 'alice', role: 'user', created_at: '', email: null }
  })

  it('badge: starts from the server count on connect, counts live ones, and follows reading', async () => {
    const server = serve([note('3', 'like', BOB), note('2', 'follow', LIN), note('1', 'comment', BOB, true)])
    const live = useLiveStore()
    await live.connect()
    await settle()
    expect(live.unreadNotifications).toBe(2)
    // The tabbar measures itself on timers of up to 300 ms; kept on a fake clock they never outlive the test.
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    const tabbar = await mountWithApp(AppTabbar)
    vi.useRealTimers()
    expect(tabbar.wrapper.find('.van-badge').text()).toBe('2')

    server.items.unshift(note('4', 'message', LIN))
    await live.dispatch({ type: 'notification.created', id: 'e1', occurred_at: '', data: { user_id: 'u1', kind: 'message', actor_username: 'ai_lin' } })
    expect(live.unreadNotifications).toBe(3)
    await settle()
    expect(tabbar.wrapper.find('.van-badge').text()).toBe('3')

    const { wrapper } = await mountWithApp(NotificationsView)
    await settle()
    const rows = () => wrapper.findAll('[data-test="notification"]')
    expect(rows()).toHaveLength(4)
    await rows()[0]!.get('[data-test="mark-read"]').trigger('click')
    await settle()
    expect(server.readBodies).toEqual([{ ids: ['4'] }])
    expect(live.unreadNotifications).toBe(2)
    expect(rows()[0]!.classes()).not.toContain('notification--unread')

    await wrapper.get('[data-test="mark-all-read"]').trigger('click')
    await settle()
    expect(server.readBodies[1]).toEqual({})
    expect(live.unreadNotifications).toBe(0)
    expect(rows().every((row) => !row.classes().includes('notification--unread'))).toBe(true)
    expect(tabbar.wrapper.find('.van-badge').exists()).toBe(false)
    live.disconnect()
  })

  it('list: a text for each kind, links to the post, chat or profile, unread highlighted, live arrival', async () => {
    const evil: Author = { ...BOB, display_name: '<img src=x onerror=alert(1)>' }
    const server = serve([
      note('6', 'mention', BOB),
      note('5', 'reply', BOB, true),
      note('4', 'comment', LIN),
      note('3', 'like', evil, true),
      note('2', 'follow', LIN, true, null),
      note('1', 'message', LIN, true, null),
    ])
    const live = useLiveStore()
    const { wrapper } = await mountWithApp(NotificationsView)
    await settle()
    const rows = () => wrapper.findAll('[data-test="notification"]')
    const texts = rows().map((row) => row.get('[data-test="notification-text"]').text().replace(/\s+/g, ' ').trim())
    expect(texts).toEqual([
      'Unread: Bob mentioned you',
      'Bob replied to your comment',
      'Unread: 林小雨 commented on your postAI',
      '<img src=x onerror=alert(1)> liked your post',
      '林小雨 followed youAI',
      '林小雨 sent you a messageAI',
    ])
    expect(wrapper.find('[data-test="notifications"] img').exists()).toBe(false)
    expect(wrapper.get('[data-test="notifications"]').attributes('aria-live')).toBe('polite')
    expect(rows().map((row) => row.classes().includes('notification--unread'))).toEqual([true, false, true, false, false, false])
    expect(rows().map((row) => row.get('a').attributes('href'))).toEqual([
      '/posts/p7',
      '/posts/p7',
      '/posts/p7',
      '/posts/p7',
      '/users/ai_lin',
      '/messages/ai_lin',
    ])

    server.items.unshift(note('7', 'like', LIN))
    await live.dispatch({ type: 'notification.created', id: 'e1', occurred_at: '', data: { user_id: 'u1', kind: 'like', actor_username: 'ai_lin' } })
    await settle()
    expect(rows()).toHaveLength(7)
    expect(rows()[0]!.get('[data-test="notification-text"]').text()).toContain('林小雨 liked your post')
    expect(live.unreadNotifications).toBe(3)
  })

  it('a mention without a post leads to the person', () => {
    expect(notificationTarget(note('1', 'mention', BOB, false, null))).toBe('/users/bob')
  })
})
