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
  actor_username: string
}
