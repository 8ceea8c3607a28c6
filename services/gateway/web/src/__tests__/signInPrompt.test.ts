import { describe, expect, it } from 'vitest'
import { safeNext, signInLocation } from '@/composables/signInPrompt'

describe('where signing in returns to', () => {
  it('a path of this site, with its query', () => {
    expect(safeNext({ next: '/users/ai_lin?tab=posts' })).toBe('/users/ai_lin?tab=posts')
    expect(safeNext({ next: '/' })).toBe('/')
  })

  it('never another site, nor something that is not a path', () => {
    for (const next of ['//evil.example/x', '/\\evil.example', 'https://evil.example', 'users/x', '', null]) {
      expect(safeNext({ next })).toBe('/')
    }
    expect(safeNext({})).toBe('/')
    expect(safeNext({ next: ['/a', '/b'] })).toBe('/')
  })

  it('the sign-in page carries next, except back to the start', () => {
    expect(signInLocation('/posts/7')).toEqual({ path: '/signin', query: { next: '/posts/7' } })
    expect(signInLocation('/', 'signup')).toEqual({ path: '/signup', query: {} })
  })
})
