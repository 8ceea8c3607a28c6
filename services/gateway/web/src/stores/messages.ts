import { defineStore } from 'pinia'
import { computed, reactive, ref } from 'vue'
import { api } from '@/api/client'
import type { Author, Conversation, Message, MessageSentData, Page } from '@/api/types'
import { useAuthStore } from './auth'
import { compareIds, usernameKey } from './ids'
import { useLiveStore } from './live'
import { emptyPagedList, loadNextPage, type PagedList } from './paging'
import { useProfilesStore } from './profiles'
import { onSignedOut } from './session'

export const CONVERSATIONS_PAGE = 20
export const MESSAGES_PAGE = 30
/** How long "thinking…" shows after messaging an AI character if no answer comes. */
export const AI_REPLY_TIMEOUT_MS = 90_000

export interface ChatState {
  partner: Author | null
  /** Oldest first, as they are shown. */
  messages: Message[]
  /** Cursor to the next older page; null once the first message is loaded. */
  olderCursor: string | null
  hasOlder: boolean
  loading: boolean
  loaded: boolean
  awaitingReply: boolean
}

function emptyChat(): ChatState {
  return {
    partner: null,
    messages: [],
    olderCursor: null,
    hasOlder: false,
    loading: false,
    loaded: false,
    awaitingReply: false,
  }
}

/** Conversations and the chats in them. The chat on screen is kept read as messages arrive. */
export const useMessagesStore = defineStore('messages', () => {
  /** Newest conversation first. */
  const conversations = ref<PagedList<Conversation>>(emptyPagedList<Conversation>())
  const conversationsLoaded = ref(false)
  const chats = reactive<Record<string, ChatState>>({})
  /** Username key of the chat on screen, if any. */
  const openKey = ref<string | null>(null)
  const replyTimers = new Map<string, ReturnType<typeof setTimeout>>()
  const latestInFlight = new Map<string, Promise<void>>()

  const unreadConversations = computed(() => conversations.value.items.filter((c) => c.unread_count > 0).length)

  function chatOf(username: string): ChatState {
    return (chats[usernameKey(username)] ??= emptyChat())
  }

  function isOpen(username: string): boolean {
    return openKey.value === usernameKey(username)
  }

  // ------------------------------------------------------------------ conversation list

  async function loadConversations(): Promise<void> {
    const list = conversations.value
    const page = await loadNextPage(
      list,
      (cursor) => api.get<Page<Conversation>>('/conversations', { cursor, limit: CONVERSATIONS_PAGE }),
      (items) => {
        const seen = new Set(list.items.map((c) => c.id))
        list.items.push(...items.filter((c) => !seen.has(c.id)).map(withOpenChatRead))
      },
    )
    if (page) conversationsLoaded.value = true
  }

  /** The newest page again: changed conversations go on top, older ones keep their place below. */
  async function refreshConversations(): Promise<void> {
    const page = await api.get<Page<Conversation>>('/conversations', { limit: CONVERSATIONS_PAGE })
    const list = conversations.value
    const fresh = new Set(page.items.map((c) => c.id))
    list.items = [...page.items.map(withOpenChatRead), ...list.items.filter((c) => !fresh.has(c.id))]
    if (!conversationsLoaded.value) {
      list.cursor = page.next_cursor ?? null
      list.finished = !page.next_cursor
      conversationsLoaded.value = true
    }
  }

  /** The chat on screen is read as its messages arrive, whatever an in-flight list page says. */
  function withOpenChatRead(conversation: Conversation): Conversation {
    return isOpen(conversation.with_user.username) ? { ...conversation, unread_count: 0 } : conversation
  }

  function markConversationRead(username: string): void {
    for (const conversation of conversations.value.items) {
      if (usernameKey(conversation.with_user.username) === usernameKey(username)) conversation.unread_count = 0
    }
  }

  // ------------------------------------------------------------------ one chat

  function merge(chat: ChatState, messages: Message[]): Message[] {
    const known = new Set(chat.messages.map((m) => m.id))
    const added = messages.filter((m) => !known.has(m.id))
    if (added.length) chat.messages = [...chat.messages, ...added].sort((a, b) => compareIds(a.id, b.id))
    return added
  }

  /** Shows the chat with `username`: the partner, the newest messages; reading them marks them read. */
  async function openChat(username: string): Promise<void> {
    openKey.value = usernameKey(username)
    const chat = chatOf(username)
    const partner = useProfilesStore()
      .load(username)
      .then((profile) => {
        chat.partner = profile
      })
    await Promise.all([partner, fetchLatest(username)])
  }

  function closeChat(username: string): void {
    if (isOpen(username)) openKey.value = null
  }

  /**
   * The newest page of the chat. The API marks the conversation read when it serves that page, so
   * this is also how the open chat stays read (and the Messages badge is asked for again after it).
   */
  function fetchLatest(username: string): Promise<void> {
    const key = usernameKey(username)
    const running = latestInFlight.get(key)
    // One at a time; a call while one runs waits for it and fetches once more after it.
    const next = (running ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        const chat = chatOf(username)
        chat.loading = true
        try {
          const page = await api.get<Page<Message>>(`/conversations/${encodeURIComponent(username)}/messages`, {
            limit: MESSAGES_PAGE,
          })
          const added = merge(chat, page.items)
          if (!chat.loaded) {
            chat.olderCursor = page.next_cursor ?? null
            chat.hasOlder = Boolean(page.next_cursor)
            chat.loaded = true
          }
          if (added.some((m) => usernameKey(m.sender.username) === key)) stopAwaiting(username)
          markConversationRead(username)
        } finally {
          chat.loading = false
        }
        await useLiveStore().loadUnreadConversations()
      })
    const tracked = next.finally(() => {
      if (latestInFlight.get(key) === tracked) latestInFlight.delete(key)
    })
    latestInFlight.set(key, tracked)
    return tracked
  }

  async function loadOlder(username: string): Promise<void> {
    const chat = chatOf(username)
    if (chat.loading || !chat.hasOlder || !chat.olderCursor) return
    chat.loading = true
    try {
      const page = await api.get<Page<Message>>(`/conversations/${encodeURIComponent(username)}/messages`, {
        cursor: chat.olderCursor,
        limit: MESSAGES_PAGE,
      })
      merge(chat, page.items)
      chat.olderCursor = page.next_cursor ?? null
      chat.hasOlder = Boolean(page.next_cursor)
    } finally {
      chat.loading = false
    }
  }

  async function send(username: string, content: string, imageIds: string[] = []): Promise<Message> {
    const body = imageIds.length ? { to: username, content, image_ids: imageIds } : { to: username, content }
    const message = await api.post<Message>('/messages', body)
    const chat = chatOf(username)
    merge(chat, [message])
    if (chat.partner?.is_ai) startAwaiting(username)
    if (conversationsLoaded.value) void refreshConversations().catch(() => undefined)
    return message
  }

  function startAwaiting(username: string): void {
    const key = usernameKey(username)
    chatOf(username).awaitingReply = true
    clearTimeout(replyTimers.get(key))
    replyTimers.set(
      key,
      setTimeout(() => stopAwaiting(username), AI_REPLY_TIMEOUT_MS),
    )
  }

  function stopAwaiting(username: string): void {
    const key = usernameKey(username)
    clearTimeout(replyTimers.get(key))
    replyTimers.delete(key)
    const chat = chats[key]
    if (chat) chat.awaitingReply = false
  }

  // ------------------------------------------------------------------ live

  /** A message.sent event: the gateway streams it to its sender and its recipient only. */
  async function onMessageSent(data: MessageSentData): Promise<void> {
    const me = useAuthStore().user?.id
    const other = data.sender_id === me ? data.recipient_username : data.sender_username
    if (data.sender_id !== me) stopAwaiting(other)
    const work: Array<Promise<unknown>> = []
    if (isOpen(other)) work.push(fetchLatest(other))
    else if (chats[usernameKey(other)]) chats[usernameKey(other)]!.loaded = false // refetched when opened
    if (conversationsLoaded.value) work.push(refreshConversations())
    await Promise.allSettled(work)
  }

  /** Keeps this store in step with the stream while a messages page is on screen. */
  function subscribe(): () => void {
    const live = useLiveStore()
    return live.on('message.sent', (event) => void onMessageSent(event.data as unknown as MessageSentData))
  }

  function clear(): void {
    conversations.value = emptyPagedList<Conversation>()
    conversationsLoaded.value = false
    for (const key of Object.keys(chats)) {
      stopAwaiting(key)
      delete chats[key]
    }
    openKey.value = null
  }

  onSignedOut(clear)

  return {
    conversations,
    conversationsLoaded,
    chats,
    openKey,
    unreadConversations,
    chatOf,
    loadConversations,
    refreshConversations,
    openChat,
    closeChat,
    fetchLatest,
    loadOlder,
    send,
    onMessageSent,
    subscribe,
    clear,
  }
})
