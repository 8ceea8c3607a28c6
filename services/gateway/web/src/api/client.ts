// fetch wrapper for /api: attaches the access token, refreshes it once on 401, and turns the API's
// `{detail, code}` error body into an ApiError.
import { secondsUntilExpiry, tokens } from './tokens'
import type { ApiErrorBody, TokenPair } from './types'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail || code)
    this.name = 'ApiError'
  }
}

export interface RequestOptions {
  method?: string
  body?: unknown
  query?: Record<string, string | number | null | undefined>
  /** false for the calls that must not carry or refresh a token (login, register, refresh). */
  auth?: boolean
  signal?: AbortSignal
}

type SessionListener = () => void
const sessionExpiredListeners = new Set<SessionListener>()

/** Called when the refresh token no longer works: the user has to sign in again. */
export function onSessionExpired(listener: SessionListener): () => void {
  sessionExpiredListeners.add(listener)
  return () => sessionExpiredListeners.delete(listener)
}

function detailText(body: ApiErrorBody): string {
  if (typeof body.detail === 'string') return body.detail
  if (Array.isArray(body.detail)) return body.detail.map((item) => item.msg ?? '').filter(Boolean).join('; ')
  return ''
}

async function toApiError(response: Response): Promise<ApiError> {
  let body: ApiErrorBody = {}
  try {
    body = (await response.json()) as ApiErrorBody
  } catch {
    // A proxy's HTML error page: keep the status, no detail.
  }
  return new ApiError(response.status, body.code ?? `http_${response.status}`, detailText(body))
}

function buildUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && value !== '') params.set(key, String(value))
  }
  const search = params.toString()
  return `/api${path}${search ? `?${search}` : ''}`
}

async function send(path: string, options: RequestOptions, accessToken: string | null): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (options.body !== undefined) headers['Content-Type'] = 'application/json'
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`
  return fetch(buildUrl(path, options.query), {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  })
}

// Refresh tokens rotate and reusing an old one revokes the whole family, so concurrent 401s must
// share one refresh call instead of each spending the same refresh token.
let refreshInFlight: Promise<string | null> | null = null

export function refreshAccessToken(): Promise<string | null> {
  refreshInFlight ??= (async () => {
    const refreshToken = tokens.refresh
    if (!refreshToken) return null
    try {
      const response = await send('/auth/refresh', { method: 'POST', body: { refresh_token: refreshToken } }, null)
      if (!response.ok) {
        tokens.clear()
        sessionExpiredListeners.forEach((listener) => listener())
        return null
      }
      const pair = (await response.json()) as TokenPair
      tokens.save(pair.access_token, pair.refresh_token)
      return pair.access_token
    } catch {
      return null // offline: keep the tokens, the next call tries again
    }
  })().finally(() => {
    refreshInFlight = null
  })
  return refreshInFlight
}

/** An access token valid for at least `marginSeconds`, refreshed first if needed (for EventSource). */
export async function freshAccessToken(marginSeconds = 30): Promise<string | null> {
  const access = tokens.access
  if (access && secondsUntilExpiry(access) > marginSeconds) return access
  return tokens.refresh ? refreshAccessToken() : null
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const useAuth = options.auth !== false
  let response = await send(path, options, useAuth ? tokens.access : null)
  if (response.status === 401 && useAuth && tokens.refresh) {
    const renewed = await refreshAccessToken()
    if (renewed) response = await send(path, options, renewed)
  }
  if (!response.ok) throw await toApiError(response)
  if (response.status === 204) return undefined as T
  const text = await response.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export const api = {
  get: <T>(path: string, query?: RequestOptions['query']) => request<T>(path, { query }),
  post: <T>(path: string, body?: unknown, options: RequestOptions = {}) =>
    request<T>(path, { ...options, method: 'POST', body }),
  delete: <T>(path: string) => request<T>(path, { method: 'DELETE' }),
}
