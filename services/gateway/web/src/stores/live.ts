import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '@/api/client'
import type {
  LiveEvent,
  MessageSentData,
  NotificationCreatedData,
  Post,
  PostCreatedData,
  StreamTicket,
} from '@/api/types'
import { useAuthStore } from './auth'
import { useFeedStore } from './feed'

// The gateway sends named events (`event: post.created`), which EventSource only delivers to
// listeners registered for that name; `reset` means our last_event_id is too old: refetch.
export const LIVE_EVENT_TYPES = [
  'post.created',
  'post.deleted',
  'notification.created',
  'message.sent',
  'comment.created',
  'post.liked',
  'user.followed',
  'sim.clock.advanced',
  'sim.action.started',
  'sim.action.finished',
  'sim.state.changed',
  'reset',
] as const

export type LiveEventType = (typeof LIVE_EVENT_TYPES)[number]
export type LiveListener = (event: LiveEvent) => void

const RECONNECT_DELAYS_MS = [1000, 2000, 5000, 10000, 30000]

export const useLiveStore = defineStore('live', () => {
  const connected = ref(false)
  const unreadNotifications = ref(0)
  /** Conversations with messages not read yet: the Messages tab's badge. */
  const unreadConversations = ref(0)
  let unreadConversationsAsked = 0 // the latest request; an older answer arriving after it is stale
  const lastEventId = ref<string | null>(null)
  let source: EventSource | null = null
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null
  let failures = 0
  let wanted = false
  let opening = 0 // the latest open(); an older one still waiting for its ticket gives way
  // Pages (chat, notifications, world, console) subscribe here instead of this store knowing them all.
  const listeners = new Map<string, Set<LiveListener>>()

  /** Calls `listener` for every live event of `type`; returns the function that unsubscribes. */
  function on(type: LiveEventType, listener: LiveListener): () => void {
    let set = listeners.get(type)
    if (!set) listeners.set(type, (set = new Set()))
    set.add(listener)
    return () => set.delete(listener)
  }

  async function dispatch(event: LiveEvent): Promise<void> {
    if (event.id) lastEventId.value = event.id
    const feed = useFeedStore()
    switch (event.type) {
      case 'post.created':
        await onPostCreated(event.data as unknown as PostCreatedData)
        break
      case 'post.deleted':
        feed.remove(String(event.data.post_id))
        break
      case 'notification.created': {
        // The gateway only streams a notification to its recipient; the check guards a stale session.
        const data = event.data as unknown as NotificationCreatedData
        const me = useAuthStore().user
        if (!me || data.user_id === me.id) unreadNotifications.value += 1
        break
      }
      case 'message.sent': {
        // Whether this conversation was unread already, and whether the open chat reads it at
        // once, only the server knows: ask it (the chat asks again once it has read).
        const data = event.data as unknown as MessageSentData
        if (data.recipient_id === useAuthStore().user?.id) void loadUnreadConversations()
        break
      }
      case 'reset':
        lastEventId.value = null
        await Promise.allSettled([feed.refreshAll(), loadUnreadNotifications(), loadUnreadConversations()])
        break
    }
    for (const listener of listeners.get(event.type) ?? []) {
      try {
        listener(event)
      } catch (error) {
        console.error('live listener failed', event.type, error)
      }
    }
  }

  async function onPostCreated(data: PostCreatedData): Promise<void> {
    const feed = useFeedStore()
    // The event lacks display name and image URLs; the post itself has them.
    let post: Post
    try {
      post = await api.get<Post>(`/posts/${data.post_id}`)
    } catch {
      return // deleted already, or not visible to us
    }
    // One's own post shows at once everywhere (posted from another tab, say). Others' wait behind
    // "N new posts" on Explore, not to move what is being read; whom the user follows is not known
    // here, so they do not go to Following.
    if (post.author.id === useAuthStore().user?.id) {
      for (const kind of ['home', 'explore', 'latest'] as const) feed.prepend(kind, post)
    } else {
      feed.arrive('explore', post)
      feed.arrive('latest', post)
    }
  }

  function handleFrame(frame: MessageEvent<string>): void {
    let event: LiveEvent
    try {
      event = JSON.parse(frame.data) as LiveEvent
    } catch {
      return
    }
    if (!event.type) event.type = frame.type
    if (!event.id && frame.lastEventId) event.id = frame.lastEventId
    void dispatch(event)
  }

  async function open(): Promise<void> {
    close()
    if (!wanted) return
    const attempt = ++opening
    const params = new URLSearchParams()
    // EventSource cannot send the token in a header, and a URL ends up in logs: a signed-in stream
    // opens with a ticket instead, good for one connection within seconds.
    let ticket: string | null = null
    if (useAuthStore().isSignedIn) {
      try {
        ticket = (await api.post<StreamTicket>('/stream/ticket')).ticket
      } catch {
        // Offline, or signed out meanwhile: try again after a backoff (or not, if no longer wanted).
        if (attempt === opening) scheduleReconnect()
        return
      }
      params.set('ticket', ticket)
    }
    if (lastEventId.value) params.set('last_event_id', lastEventId.value)
    if (!wanted || attempt !== opening) return // disconnected, or opened again, while the ticket came
    const query = params.toString()
    const opened = new EventSource(`/api/stream${query ? `?${query}` : ''}`)
    source = opened
    opened.onopen = () => {
      connected.value = true
      failures = 0
    }
    opened.onerror = () => {
      if (source !== opened) return
      connected.value = false
      // Anonymous and CONNECTING: the browser retries by itself (with Last-Event-ID). A ticket is
      // spent once used, so its stream reconnects here with a new one; CLOSED (the browser gave up,
      // e.g. on a 429) reconnects after a backoff too.
      if (ticket !== null || opened.readyState === EventSource.CLOSED) {
        close()
        scheduleReconnect()
      }
    }
    for (const type of LIVE_EVENT_TYPES) source.addEventListener(type, handleFrame as EventListener)
  }

  function scheduleReconnect(): void {
    if (!wanted || reconnectTimer) return
    const delay = RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)] ?? 30000
    failures += 1
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null
      void open()
    }, delay)
  }

  function close(): void {
    source?.close()
    source = null
    connected.value = false
    if (reconnectTimer) clearTimeout(reconnectTimer)
    reconnectTimer = null
  }

  function connect(): Promise<void> {
    wanted = true
    void loadUnreadNotifications()
    void loadUnreadConversations()
    return open()
  }

  function disconnect(): void {
    wanted = false
    close()
  }

  // Signed out, pages showing the town live (the landing page, the desktop's right column) share the
  // public stream: open while any of them holds it. Signed in, App.vue keeps the stream open anyway.
  let publicHolders = 0

  /** Holds the public stream open for a signed-out visitor; returns the function that lets go of it. */
  function holdPublicStream(): () => void {
    publicHolders += 1
    if (publicHolders === 1 && !useAuthStore().isSignedIn) void connect()
    let held = true
    return () => {
      if (!held) return
      held = false
      publicHolders -= 1
      if (publicHolders === 0 && !useAuthStore().isSignedIn) disconnect()
    }
  }

  /** The unread count as the server has it (on sign-in, after a reset, after reading some). */
  async function loadUnreadNotifications(): Promise<void> {
    if (!useAuthStore().isSignedIn) return
    try {
      const page = await api.get<{ unread_count: number }>('/notifications', { limit: 1 })
      unreadNotifications.value = page.unread_count
    } catch {
      // Offline or signed out meanwhile: live events keep counting.
    }
  }

  /** The unread conversation count as the server has it (on sign-in, a message to us, after reading). */
  async function loadUnreadConversations(): Promise<void> {
    if (!useAuthStore().isSignedIn) return
    const asked = ++unreadConversationsAsked
    try {
      const answer = await api.get<{ unread_conversations: number }>('/conversations/unread')
      if (asked === unreadConversationsAsked) unreadConversations.value = answer.unread_conversations
    } catch {
      // Offline or signed out meanwhile: the next message or reading asks again.
    }
  }

  function markNotificationsSeen(): void {
    unreadNotifications.value = 0
  }

  return {
    connected,
    unreadNotifications,
    unreadConversations,
    lastEventId,
    connect,
    disconnect,
    holdPublicStream,
    dispatch,
    on,
    loadUnreadNotifications,
    loadUnreadConversations,
    markNotificationsSeen,
  }
})
