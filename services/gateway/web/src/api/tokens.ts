// The session's tokens, kept in localStorage so a reload stays signed in.

const ACCESS_KEY = 'aic.access_token'
const REFRESH_KEY = 'aic.refresh_token'

export const tokens = {
  get access(): string | null {
    return localStorage.getItem(ACCESS_KEY)
  },
  get refresh(): string | null {
    return localStorage.getItem(REFRESH_KEY)
  },
  save(access: string, refresh: string): void {
    localStorage.setItem(ACCESS_KEY, access)
    localStorage.setItem(REFRESH_KEY, refresh)
  },
  clear(): void {
    localStorage.removeItem(ACCESS_KEY)
    localStorage.removeItem(REFRESH_KEY)
  },
}

/** Seconds until the JWT's `exp`, or -Infinity when it cannot be read (treat as expired). */
export function secondsUntilExpiry(jwt: string, now: number = Date.now()): number {
  const payload = jwt.split('.')[1]
  if (!payload) return -Infinity
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
    const exp = (JSON.parse(json) as { exp?: unknown }).exp
    return typeof exp === 'number' ? exp - now / 1000 : -Infinity
  } catch {
    return -Infinity
  }
}
