import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { tokens } from '@/api/tokens'
import type { Author, Conversation, Message, MessageSentData } from '@/api/types'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useLiveStore } from '@/stores/live'
import { AI_REPLY_TIMEOUT_MS, useMessagesStore } from '@/stores/messages'
import ChatView from '@/views/ChatView.vue'
import MessagesView from '@/views/MessagesView.vue'
import { mockFetch, mountWithApp, settle } from './helpers'

const ME: Author = { id: 'u1', username: 'alice', display_name: 'Alice', avatar_url: null, is_ai: false }
const LIN: Author = { id: 'u9', username: 'ai_lin', display_name: '林小雨', avatar_url: null, is_ai: true }
const BOB: Author = { id: 'u2', username: 'bob', display_name: 'Bob', avatar_url: null, is_ai: false }

function message(id: string, sender: Author, content = `m${id}`): Message {
  return { id, conversation_id: 'c1', sender, content, created_at: '2026-01-01T10:00:00Z' }
}

function sent(msg: Message, recipient: Author): MessageSentData {
  return {
    message_id: msg.id,
    conversation_id: msg.conversation_id,
    sender_id: msg.sender.id,
    sender_username: msg.sender.username,
    recipient_id: recipient.id,
    recipient_username: recipient.username,
    content: msg.content,
    created_at: msg.created_at,
  }
}

/** A fake social API for alice's chat with ai_lin: history newest first, reading the newest page marks it read. */
function serveChat(history: Message[]) {
  const server = { history, conversationUnread: 2, reads: 0, posted: [] as unknown[] }
  const mock = mockFetch([
    { path: '/api/users/ai_lin', reply: () => ({ status: 200, body: { ...LIN, bio: '', role: 'user', post_count: 0, follower_count: 0, following_count: 0, created_at: '' } }) },
    {
      path: '/api/conversations/ai_lin/messages',
      reply: () => {
        const url = new URL(mock.calls[mock.calls.length - 1]!.url, 'http://x')
        const newestFirst = [...server.history].sort((a, b) => Number(b.id) - Number(a.id))
        const before = url.searchParams.get('cursor')
        if (before === null) {
          server.reads += 1
          server.conversationUnread = 0
        }
        const rows = newestFirst.filter((m) => before === null || Number(m.id) < Number(before))
        const limit = Number(url.searchParams.get('limit'))
        const page = rows.slice(0, limit)
        return { status: 200, body: { items: page, next_cursor: rows.length > limit ? page[page.length - 1]!.id : null } }
      },
    },
    {
      method: 'POST',
      path: '/api/messages',
      reply: (init) => {
        const body = JSON.parse(String(init.body)) as { to: string; content: string }
        server.posted.push(body)
        const created = message(String(100 + server.posted.length), ME, body.content)
        server.history.push(created)
        return { status: 201, body: created }
      },
    },
    // Bob's conversation (below) stays unread; ai_lin's is unread until its newest page is read.
    {
      path: '/api/conversations/unread',
      reply: () => ({ status: 200, body: { unread_conversations: 1 + (server.conversationUnread > 0 ? 1 : 0) } }),
    },
    {
      path: '/api/conversations',
      reply: () => {
        const last = [...server.history].sort((a, b) => Number(b.id) - Number(a.id))[0] ?? null
        const items: Conversation[] = [
          { id: 'c1', with_user: LIN, last_message: last, unread_count: server.conversationUnread },
          { id: 'c2', with_user: BOB, last_message: message('5', BOB, 'hi from bob'), unread_count: 1 },
        ]
        return { status: 200, body: { items, next_cursor: null } }
      },
    },
  ])
  return { server, ...mock }
}

describe('messages', () => {
  beforeEach(() => {
    localStorage.clear()
    tokens.save('access', 'refresh')
    setActivePinia(createPinia())
    setLocale('en')
    useAuthStore().user = { ...ME, role: 'user', created_at: '', email: null }
  })
  afterEach(() => vi.useRealTimers())

  it('chat: newest at the bottom, older pages above, live messages appended and kept read', async () => {
    const history = Array.from({ length: 35 }, (_, i) => message(String(i + 1), i % 2 ? LIN : ME))
    const { server, calls } = serveChat(history)
    const live = useLiveStore()
    live.unreadConversations = 2
    const { wrapper } = await mountWithApp(ChatView, { userId: 'ai_lin' })
    await settle()

    const texts = () => wrapper.findAll('[data-test="message-text"]').map((m) => m.text())
    expect(texts()).toHaveLength(30)
    expect(texts()[29]).toBe('m35') // newest last
    expect(wrapper.get('[data-test="chat-messages"]').attributes('aria-live')).toBe('polite')
    expect(live.unreadConversations).toBe(1) // opening read it (Bob's is left), the count came from the server

    await wrapper.get('[data-test="load-older"]').trigger('click')
    await settle()
    expect(texts()).toHaveLength(35)
    expect(texts()[0]).toBe('m1')
    expect(wrapper.find('[data-test="load-older"]').exists()).toBe(false)

    // A message from ai_lin arrives live: shown, and read on the server at once (the newest page is fetched).
    const readsBefore = server.reads
    const reply = message('200', LIN, '<img src=x onerror=alert(1)>')
    server.history.push(reply)
    server.conversationUnread = 1
    await live.dispatch({ type: 'message.sent', id: 'e1', occurred_at: '', data: sent(reply, ME) as never })
    await settle()
    expect(texts()[texts().length - 1]).toBe('<img src=x onerror=alert(1)>')
    expect(wrapper.find('[data-test="chat-messages"] img').exists()).toBe(false)
    expect(server.reads).toBeGreaterThan(readsBefore)
    expect(live.unreadConversations).toBe(1) // the open chat was read again, and asked after that
    expect(calls.filter((c) => c.url.startsWith('/api/conversations/ai_lin/messages') && !c.url.includes('cursor')).length).toBeGreaterThanOrEqual(2)

    // Leaving the chat: a later message is not marked read any more.
    wrapper.unmount()
    const reads = server.reads
    const later = message('201', LIN)
    server.history.push(later)
    server.conversationUnread = 1
    await live.dispatch({ type: 'message.sent', id: 'e3', occurred_at: '', data: sent(later, ME) as never })
    await settle()
    expect(live.unreadConversations).toBe(2) // a message to me raises the Messages badge
    expect(server.reads).toBe(reads)
  })

  it('chat: Enter sends, Shift+Enter does not; "typing…" after messaging an AI until it answers', async () => {
    const { server } = serveChat([message('1', LIN, 'hello')])
    const live = useLiveStore()
    const { wrapper } = await mountWithApp(ChatView, { userId: 'ai_lin' })
    await settle()
    const box = wrapper.get('textarea')
    expect(wrapper.get(`label[for="${box.attributes('id')}"]`).text()).toBe('Message')

    await box.setValue('line one')
    await box.trigger('keydown', { key: 'Enter', shiftKey: true })
    await settle()
    expect(server.posted).toEqual([])

    await box.trigger('keydown', { key: 'Enter' })
    await settle()
    expect(server.posted).toEqual([{ to: 'ai_lin', content: 'line one' }])
    expect((box.element as HTMLTextAreaElement).value).toBe('')
    expect(wrapper.get('[data-test="typing"]').text()).toBe('林小雨 is typing…')

    // Our own message echoed by the stream does not end the wait; the AI's answer does.
    const mine = server.history[server.history.length - 1]!
    await live.dispatch({ type: 'message.sent', id: 'e1', occurred_at: '', data: sent(mine, LIN) as never })
    await settle()
    expect(wrapper.find('[data-test="typing"]').exists()).toBe(true)
    const answer = message('300', LIN, 'hi!')
    server.history.push(answer)
    await live.dispatch({ type: 'message.sent', id: 'e2', occurred_at: '', data: sent(answer, ME) as never })
    await settle()
    expect(wrapper.find('[data-test="typing"]').exists()).toBe(false)
    expect(wrapper.findAll('[data-test="message-text"]').map((m) => m.text())).toEqual(['hello', 'line one', 'hi!'])
  })

  it('chat: the typing hint gives up after a timeout', async () => {
    serveChat([])
    const messages = useMessagesStore()
    await messages.openChat('ai_lin')
    vi.useFakeTimers()
    await messages.send('ai_lin', 'are you there?')
    expect(messages.chatOf('ai_lin').awaitingReply).toBe(true)
    vi.advanceTimersByTime(AI_REPLY_TIMEOUT_MS - 1)
    expect(messages.chatOf('ai_lin').awaitingReply).toBe(true)
    vi.advanceTimersByTime(1)
    expect(messages.chatOf('ai_lin').awaitingReply).toBe(false)
  })

  it('conversation list: the other person, AI badge, last message, unread count, updated live', async () => {
    const { server } = serveChat([message('1', ME, 'hi lin')])
    server.conversationUnread = 0
    const live = useLiveStore()
    const { wrapper } = await mountWithApp(MessagesView)
    await settle()
    const rows = () => wrapper.findAll('[data-test="conversation"]')
    expect(rows()).toHaveLength(2)
    expect(rows()[0]!.attributes('href')).toBe('/messages/ai_lin')
    expect(rows()[0]!.find('[data-test="ai-badge"]').exists()).toBe(true)
    expect(rows()[0]!.get('[data-test="preview"]').text()).toBe('You: hi lin')
    expect(rows()[0]!.find('[data-test="unread"]').exists()).toBe(false)
    expect(rows()[1]!.get('[data-test="unread"]').text()).toContain('1 unread message')
    expect(wrapper.get('[data-test="conversations"]').attributes('aria-live')).toBe('polite')

    const incoming = message('50', LIN, 'news!')
    server.history.push(incoming)
    server.conversationUnread = 1
    await live.dispatch({ type: 'message.sent', id: 'e1', occurred_at: '', data: sent(incoming, ME) as never })
    await settle()
    expect(rows()[0]!.get('[data-test="preview"]').text()).toBe('news!')
    expect(rows()[0]!.get('[data-test="unread"]').text()).toContain('1 unread message')
  })
})
