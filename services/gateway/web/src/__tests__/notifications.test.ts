import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { tokens } from '@/api/tokens'
import type { AppNotification, Author, NotificationKind } from '@/api/types'
import AppTabbar from '@/components/AppTabbar.vue'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useLiveStore } from '@/stores/live'
import { groupNotifications, notificationTarget } from '@/stores/notifications'
import NotificationsView from '@/views/NotificationsView.vue'
import { mockFetch, mountWithApp, settle } from './helpers'

const BOB: Author = { id: 'u2', username: 'bob', display_name: 'Bob', avatar_url: null, is_ai: false }
const LIN: Author = { id: 'u9', username: 'ai_lin', display_name: '林小雨', avatar_url: null, is_ai: true }

function note(
  id: string,
  kind: NotificationKind,
  actor: Author,
  read = false,
  post_id: string | null = 'p7',
  extra: Partial<AppNotification> = {},
): AppNotification {
  return {
    id,
    kind,
    actor,
    post_id,
    comment_id: null,
    message_id: null,
    snippet: null,
    thumbnail_url: null,
    created_at: '2026-01-01T00:00:00Z',
    read,
    ...extra,
  }
}

const person = (n: number): Author => ({ id: `p${n}`, username: `p${n}`, display_name: `P${n}`, avatar_url: null, is_ai: false })

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

    server.items.unshift(note('4', 'mention', LIN))
    await live.dispatch({ type: 'notification.created', id: 'e1', occurred_at: '', data: { user_id: 'u1', kind: 'mention', actor_username: 'ai_lin' } })
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

  it('the Messages tab counts unread conversations, the Me tab notifications only; a message raises Messages', async () => {
    const server = serve([note('1', 'like', BOB)])
    let unreadConversations = 1
    const mock = mockFetch([
      { path: '/api/conversations/unread', reply: () => ({ status: 200, body: { unread_conversations: unreadConversations } }) },
      {
        path: '/api/notifications',
        reply: () => ({ status: 200, body: { items: server.items, next_cursor: null, unread_count: 1 } }),
      },
    ])
    const live = useLiveStore()
    await live.connect()
    await settle()
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    const tabbar = await mountWithApp(AppTabbar)
    vi.useRealTimers()
    const badgeOf = (label: string) =>
      tabbar.wrapper
        .findAll('.van-tabbar-item')
        .find((item) => item.text().replace(/\d+/g, '').trim() === label)!
        .find('.van-badge')
    expect(badgeOf('Messages').text()).toBe('1')
    expect(badgeOf('Me').text()).toBe('1')

    unreadConversations = 2
    const data = { message_id: 'm1', conversation_id: 'c2', sender_id: 'u9', sender_username: 'ai_lin', recipient_id: 'u1', recipient_username: 'alice', content: 'hi', created_at: '' }
    await live.dispatch({ type: 'message.sent', id: 'e1', occurred_at: '', data })
    await settle()
    expect(badgeOf('Messages').text()).toBe('2')
    expect(badgeOf('Me').text()).toBe('1') // not a notification
    // One's own message asks nothing.
    const asked = mock.calls.filter((c) => c.url.startsWith('/api/conversations/unread')).length
    await live.dispatch({ type: 'message.sent', id: 'e2', occurred_at: '', data: { ...data, sender_id: 'u1', recipient_id: 'u9' } })
    await settle()
    expect(mock.calls.filter((c) => c.url.startsWith('/api/conversations/unread')).length).toBe(asked)

    unreadConversations = 0
    await live.loadUnreadConversations()
    await settle()
    expect(badgeOf('Messages').exists()).toBe(false)
    live.disconnect()
  })

  it('groups likes of one post and follows, read apart from unread, in both languages', async () => {
    const items = [
      ...[5, 4, 3, 2, 1].map((n) => note(`l${n}`, 'like', person(n), false, 'p7', { snippet: 'Rain on West Lake', thumbnail_url: '/api/files/f1/thumbnail' })),
      note('c1', 'comment', BOB, false, 'p7', { snippet: 'so pretty' }),
      note('f2', 'follow', person(2), false, null),
      note('f1', 'follow', person(1), false, null),
      note('l0', 'like', person(9), true, 'p7'), // read: its own row
      note('l9', 'like', person(9), false, 'p8'), // another post
    ]
    const server = serve(items)
    const { wrapper } = await mountWithApp(NotificationsView)
    await settle()
    const rows = () => wrapper.findAll('[data-test="notification"]')
    const texts = () => rows().map((row) => row.get('[data-test="notification-text"]').text().replace(/\s+/g, ' ').trim())
    expect(texts()).toEqual([
      'Unread: P5, P4 and 3 others liked your post',
      'Unread: Bob commented on your post',
      'Unread: P2 and P1 followed you',
      'P9 liked your post',
      'Unread: P9 liked your post',
    ])
    expect(rows()[0]!.get('[data-test="notification-snippet"]').text()).toBe('Rain on West Lake')
    const thumb = rows()[0]!.get('[data-test="notification-thumb"]')
    expect(thumb.attributes('src')).toBe('/api/files/f1/thumbnail')
    expect(thumb.attributes('alt')).toBe('')
    expect(rows()[1]!.get('[data-test="notification-snippet"]').text()).toBe('so pretty')
    expect(rows()[2]!.find('[data-test="notification-snippet"]').exists()).toBe(false)
    expect(rows()[1]!.find('[data-test="notification-thumb"]').exists()).toBe(false)

    setLocale('zh-CN')
    await settle()
    expect(texts().slice(0, 3)).toEqual(['未读： P5、P4 等 5 人赞了你的动态', '未读： Bob 评论了你的动态', '未读： P2 和 P1 关注了你'])
    setLocale('en')
    await settle()

    // Reading a group reads every notification in it.
    await rows()[0]!.get('[data-test="mark-read"]').trigger('click')
    await settle()
    expect(server.readBodies).toEqual([{ ids: ['l5', 'l4', 'l3', 'l2', 'l1'] }])
  })

  it('three people: "and 1 other"; one person liking twice is one person', async () => {
    serve([3, 2, 1].map((n) => note(`${n}`, 'like', person(n))))
    const { wrapper } = await mountWithApp(NotificationsView)
    await settle()
    expect(wrapper.get('[data-test="notification-text"]').text()).toContain('P3, P2 and 1 other liked your post')
    const twice = groupNotifications([note('2', 'like', BOB), note('1', 'like', BOB)])
    expect(twice.map((g) => [g.key, g.actors.length, g.notifications.length])).toEqual([['2', 1, 2]])
  })

  it('a mention without a post leads to the person', () => {
    expect(notificationTarget(note('1', 'mention', BOB, false, null))).toBe('/users/bob')
  })
})
