import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { ApiError, api } from '@/api/client'
import { tokens } from '@/api/tokens'
import { useAuthStore } from '@/stores/auth'
import { authorization, mockFetch } from './helpers'

const ME = { id: 'u1', username: 'alice', display_name: 'Alice', role: 'user', is_ai: false, created_at: '', email: null }

describe('auth store and client', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
  })

  it('logs in, stores both tokens and loads the user', async () => {
    const { calls } = mockFetch([
      { method: 'POST', path: '/api/auth/login', reply: () => ({ status: 200, body: { access_token: 'a1', refresh_token: 'r1', expires_in: 900 } }) },
      { path: '/api/auth/me', reply: (init) => (authorization(init) === 'Bearer a1' ? { status: 200, body: ME } : { status: 401 }) },
    ])
    const auth = useAuthStore()
    await auth.login('alice', 'secret-password')
    expect(tokens.access).toBe('a1')
    expect(tokens.refresh).toBe('r1')
    expect(auth.user?.username).toBe('alice')
    expect(auth.isSignedIn).toBe(true)
    expect(authorization(calls[0]!.init)).toBeUndefined() // login carries no token
  })

  it('refreshes once on 401, stores the rotated refresh token and retries', async () => {
    tokens.save('expired', 'r1')
    const { calls } = mockFetch([
      {
        method: 'POST',
        path: '/api/auth/refresh',
        reply: (init) =>
          JSON.parse(String(init.body)).refresh_token === 'r1'
            ? { status: 200, body: { access_token: 'a2', refresh_token: 'r2', expires_in: 900 } }
            : { status: 401, body: { detail: 'reused', code: 'refresh_token_reused' } },
      },
      {
        path: '/api/auth/me',
        reply: (init) =>
          authorization(init) === 'Bearer a2'
            ? { status: 200, body: ME }
            : { status: 401, body: { detail: 'expired', code: 'invalid_token' } },
      },
    ])
    const auth = useAuthStore()
    // Two requests at once: both get 401, but the refresh token must be spent only once.
    const [first, second] = await Promise.all([auth.fetchMe(), api.get('/auth/me')])
    expect(first?.username).toBe('alice')
    expect(second).toEqual(ME)
    expect(calls.filter((c) => c.url === '/api/auth/refresh')).toHaveLength(1)
    expect(tokens.access).toBe('a2')
    expect(tokens.refresh).toBe('r2')
  })

  it('ends the session when the refresh token is refused', async () => {
    tokens.save('expired', 'revoked')
    mockFetch([
      { method: 'POST', path: '/api/auth/refresh', reply: () => ({ status: 401, body: { detail: 'no', code: 'invalid_refresh_token' } }) },
      { path: '/api/auth/me', reply: () => ({ status: 401, body: { detail: 'Sign in to do this', code: 'not_authenticated' } }) },
    ])
    const auth = useAuthStore()
    expect(auth.isSignedIn).toBe(true)
    const error = await auth.fetchMe().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).code).toBe('not_authenticated')
    expect(tokens.refresh).toBeNull()
    expect(auth.isSignedIn).toBe(false)
  })

  it('maps error codes to translated messages, falling back to the detail', async () => {
    const { errorMessage, setLocale } = await import('@/i18n')
    setLocale('en')
    expect(errorMessage(new ApiError(409, 'username_taken', 'Username taken'))).toBe('That username is already taken.')
    // Sign-up refuses a taken username and a known email alike, naming neither.
    expect(errorMessage(new ApiError(409, 'username_or_email_taken', 'In use'))).toBe(
      'That username or email is already in use.',
    )
    expect(errorMessage(new ApiError(400, 'something_new', 'Exact server words'))).toBe('Exact server words')
    setLocale('zh-CN')
    expect(errorMessage(new ApiError(401, 'invalid_credentials', 'Invalid'))).toBe('用户名或密码错误。')
    expect(errorMessage(new ApiError(409, 'username_or_email_taken', 'In use'))).toBe('该用户名或邮箱已被使用。')
    expect(localStorage.getItem('aic.locale')).toBe('zh-CN')
    setLocale('en')
  })

  it('logout revokes the refresh token and clears the session even if the server fails', async () => {
    tokens.save('a1', 'r1')
    const { calls } = mockFetch([{ method: 'POST', path: '/api/auth/logout', reply: () => ({ status: 503 }) }])
    const auth = useAuthStore()
    await auth.logout()
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ refresh_token: 'r1' })
    expect(tokens.access).toBeNull()
    expect(auth.isSignedIn).toBe(false)
  })
})
