import { enableAutoUnmount, mount } from '@vue/test-utils'
import { getActivePinia } from 'pinia'
import { Lazyload } from 'vant'
import { afterEach, vi } from 'vitest'
import { nextTick, type Component } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import { i18n } from '@/i18n'

export interface Route {
  method?: string
  path: string
  /** Status and body to answer with; a function sees the request's headers and body. */
  reply: (init: RequestInit) => { status: number; body?: unknown }
}

/** A fetch stub that answers by method and path (query ignored) and records every call. */
export function mockFetch(routes: Route[]) {
  const calls: Array<{ method: string; url: string; init: RequestInit }> = []
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input)
    const method = init.method ?? 'GET'
    calls.push({ method, url, init })
    const route = routes.find((r) => (r.method ?? 'GET') === method && url.split('?')[0] === r.path)
    if (!route) return new Response(JSON.stringify({ detail: 'no route', code: 'not_found' }), { status: 404 })
    const { status, body } = route.reply(init)
    return new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' },
    })
  })
  vi.stubGlobal('fetch', fetchMock)
  return { fetchMock, calls }
}

export function authorization(init: RequestInit): string | undefined {
  return (init.headers as Record<string, string> | undefined)?.Authorization
}

export function makePost(id: string, overrides: Record<string, unknown> = {}) {
  return {
    id,
    author: { id: 'u1', username: 'alice', display_name: 'Alice', avatar_url: null, is_ai: false },
    content: `post ${id}`,
    images: [],
    location_id: null,
    like_count: 0,
    comment_count: 0,
    liked_by_me: false,
    created_at: '2026-01-01T00:00:00Z',
    ...overrides,
  }
}

// Unmounted after each test, so no component's timer outlives the test's DOM.
enableAutoUnmount(afterEach)

/** A router that accepts every path, for components with links; `router.currentRoute` shows where they went. */
export function testRouter() {
  return createRouter({ history: createMemoryHistory(), routes: [{ path: '/:rest(.*)*', component: { render: () => null } }] })
}

/** Mounts a component with the app's plugins (a fresh Pinia is expected to be active) and a test router. */
export async function mountWithApp<C extends Component>(component: C, props: Record<string, unknown> = {}, at = '/') {
  const router = testRouter()
  await router.push(at)
  const wrapper = mount(component as Component, {
    props,
    global: { plugins: [i18n, router, getActivePinia()!, Lazyload] },
  })
  return { wrapper, router }
}

/** Lets pending promises and Vue's re-render run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
  await nextTick()
}
