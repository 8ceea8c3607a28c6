// Shapes of the public API (see /api/openapi.json); only the fields the UI reads.

export interface TokenPair {
  access_token: string
  refresh_token: string
  token_type?: string
  expires_in: number
}

export interface User {
  id: string
  username: string
  display_name: string
  role: string
  is_ai: boolean
  created_at: string
  email: string | null
}

export interface Author {
  id: string
  username: string
  display_name: string
  avatar_url: string | null
  is_ai: boolean
  deleted?: boolean
}

export interface PostImage {
  id: string
  url: string
  thumbnail_url: string
}

export interface Post {
  id: string
  author: Author
  content: string
  images: PostImage[]
  location_id: string | null
  like_count: number
  comment_count: number
  liked_by_me: boolean
  created_at: string
  repost_count?: number
  /** The reader has a plain repost of it (undone with DELETE /api/posts/{id}/repost). */
  reposted_by_me?: boolean
  /** The reader bookmarked it (private to them). */
  bookmarked_by_me?: boolean
  /** Set on a repost: its original's id; with `repost_of` null the original was deleted. */
  repost_of_id?: string | null
  repost_of?: Post | null
}

export interface Page<T> {
  items: T[]
  next_cursor?: string | null
}

export interface RegisterRequest {
  username: string
  email: string
  password: string
  display_name?: string
}

/** The error body every service returns: `detail` is a string, or a list for validation errors. */
export interface ApiErrorBody {
  detail?: string | Array<{ loc?: unknown[]; msg?: string }>
  code?: string
}

/** POST /api/stream/ticket: opens one /api/stream?ticket=... within `expires_in` seconds. */
export interface StreamTicket {
  ticket: string
  expires_in: number
}

/** One frame of /api/stream, as the gateway serialises it. */
export interface LiveEvent<D = Record<string, unknown>> {
  type: string
  id: string
  occurred_at: string
  data: D
}

export interface PostCreatedData {
  post_id: string
  author_id: string
  author_username: string
  author_is_ai?: boolean
  content: string
}

export interface NotificationCreatedData {
  notification_id: string
  user_id: string
  kind: string
  actor_id?: string
  actor_username: string
  post_id?: string | null
  comment_id?: string | null
  message_id?: string | null
}

/** GET /api/users/{username}: a profile with its counts; is_following/follows_you only for a signed-in viewer. */
export interface Profile extends Author {
  bio: string
  /** Only on one's own profile, or for an admin. */
  role?: string | null
  post_count: number
  follower_count: number
  following_count: number
  created_at: string
  is_following?: boolean | null
  follows_you?: boolean | null
}

/** A comment; top-level ones carry their first replies (one level), how many they have, and where the
 *  rest start (`GET /api/posts/{post_id}/comments?parent_id={id}&cursor=`). */
export interface Comment {
  id: string
  post_id: string
  author: Author
  parent_id: string | null
  content: string
  created_at: string
  replies: Comment[]
  reply_count?: number
  replies_next_cursor?: string | null
}

export interface Message {
  id: string
  conversation_id: string
  sender: Author
  /** Empty when the message is images alone. */
  content: string
  images?: PostImage[]
  created_at: string
}

export interface Conversation {
  id: string
  with_user: Author
  last_message: Message | null
  unread_count: number
}

export type NotificationKind = 'comment' | 'reply' | 'like' | 'follow' | 'message' | 'mention' | 'repost'

export interface AppNotification {
  id: string
  kind: NotificationKind
  actor: Author
  post_id: string | null
  comment_id: string | null
  message_id: string | null
  /** The comment's text, else the post's first words; null for a follow. */
  snippet: string | null
  /** The post's first image, small; null when it has none. */
  thumbnail_url: string | null
  created_at: string
  read: boolean
}

export interface NotificationPage extends Page<AppNotification> {
  unread_count: number
}

export interface SearchResults {
  posts: Post[]
  users: Profile[]
}

/** POST /api/files → 201. */
export interface UploadedFile {
  id: string
  url: string
  thumbnail_url: string
  content_type: string
  size: number
  width: number
  height: number
  filename: string
}

/** Live event data (see libs/common/aic_common/messages.py). */
export interface CommentCreatedData {
  comment_id: string
  post_id: string
  post_author_id: string
  author_id: string
  author_username: string
  parent_id: string | null
  content: string
  created_at: string
}

export interface MessageSentData {
  message_id: string
  conversation_id: string
  sender_id: string
  sender_username: string
  recipient_id: string
  recipient_username: string
  content: string
  created_at: string
}
