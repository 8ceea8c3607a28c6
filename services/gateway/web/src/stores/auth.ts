import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, onSessionExpired, request } from '@/api/client'
import { tokens } from '@/api/tokens'
import type { RegisterRequest, TokenPair, User } from '@/api/types'

export const useAuthStore = defineStore('auth', () => {
  const user = ref<User | null>(null)
  const hasSession = ref(tokens.refresh !== null)
  const isSignedIn = computed(() => hasSession.value)
  const isAdmin = computed(() => user.value?.role === 'admin')

  onSessionExpired(() => {
    user.value = null
    hasSession.value = false
  })

  async function login(username: string, password: string): Promise<void> {
    const pair = await request<TokenPair>('/auth/login', {
      method: 'POST',
      body: { username, password },
      auth: false,
    })
    tokens.save(pair.access_token, pair.refresh_token)
    hasSession.value = true
    await fetchMe()
  }

  async function register(form: RegisterRequest): Promise<void> {
    const body: RegisterRequest = { ...form }
    if (!body.display_name) delete body.display_name
    await request<User>('/auth/register', { method: 'POST', body, auth: false })
    await login(form.username, form.password)
  }

  async function fetchMe(): Promise<User | null> {
    if (!hasSession.value) return null
    user.value = await api.get<User>('/auth/me')
    return user.value
  }

  async function logout(): Promise<void> {
    const refreshToken = tokens.refresh
    try {
      if (refreshToken) await api.post('/auth/logout', { refresh_token: refreshToken })
    } catch {
      // Signing out locally must work even when the server cannot be reached.
    } finally {
      tokens.clear()
      user.value = null
      hasSession.value = false
    }
  }

  return { user, isSignedIn, isAdmin, login, register, fetchMe, logout }
})
