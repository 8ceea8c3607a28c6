// The app's main destinations and their unread badges, shared by the phone tab bar and the desktop rail.
import { computed, type ComputedRef } from 'vue'
import { useLiveStore } from '@/stores/live'

/** What a badge counts: conversations with unread messages, or unread notifications. */
export type BadgeKind = 'messages' | 'notifications'

export interface NavItem {
  to: string
  /** A Vant icon name. */
  icon: string
  /** The locale key of its label. */
  label: string
  badge?: BadgeKind
}

const HOME: NavItem = { to: '/', icon: 'home-o', label: 'nav.home' }
const WORLD: NavItem = { to: '/world', icon: 'location-o', label: 'nav.world' }
const COMPOSE: NavItem = { to: '/compose', icon: 'add-o', label: 'nav.compose' }
const MESSAGES: NavItem = { to: '/messages', icon: 'chat-o', label: 'nav.messages', badge: 'messages' }

/** The phone's tab bar. It has no Notifications tab: they are reached through Me, so Me shows their count. */
export const TAB_ITEMS: readonly NavItem[] = [
  HOME,
  WORLD,
  COMPOSE,
  MESSAGES,
  { to: '/me', icon: 'user-o', label: 'nav.me', badge: 'notifications' },
]

/** The phone's tab bar, signed out: what can be read without an account, and the way in. */
export const SIGNED_OUT_TAB_ITEMS: readonly NavItem[] = [
  HOME,
  WORLD,
  { to: '/signin', icon: 'user-circle-o', label: 'auth.signIn' },
]

/** The desktop rail, signed in: Notifications has an entry of its own (and the count), Me does not repeat it. */
export const RAIL_ITEMS: readonly NavItem[] = [
  HOME,
  WORLD,
  COMPOSE,
  MESSAGES,
  { to: '/notifications', icon: 'bell', label: 'notifications.title', badge: 'notifications' },
  { to: '/me', icon: 'user-o', label: 'nav.me' },
]
export const OPERATOR_ITEM: NavItem = { to: '/operator', icon: 'setting-o', label: 'operator.title' }

/** The desktop rail, signed out: what can be seen without an account, and the way in. */
export const SIGNED_OUT_RAIL_ITEMS: readonly NavItem[] = [
  HOME,
  WORLD,
  { to: '/signin', icon: 'user-circle-o', label: 'auth.signIn' },
  { to: '/signup', icon: 'add-o', label: 'auth.signUp' },
]

/** The count each badge shows now (0: none). */
export function useNavBadges(): ComputedRef<Record<BadgeKind, number>> {
  const live = useLiveStore()
  return computed(() => ({ messages: live.unreadConversations, notifications: live.unreadNotifications }))
}

/** Whether `item` is the page at `path` or a page under it (a chat is under Messages); Home only itself. */
export function isCurrent(item: NavItem, path: string): boolean {
  return item.to === '/' ? path === '/' : path === item.to || path.startsWith(`${item.to}/`)
}
