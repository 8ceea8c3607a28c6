import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { setLocale } from '@/i18n'
import { SEARCH_STEP, useSearchStore } from '@/stores/search'
import SearchView from '@/views/SearchView.vue'
import { makePost, mockFetch, mountWithApp, settle } from './helpers'

function person(n: number, overrides: Record<string, unknown> = {}) {
  return {
    id: `u${n}`,
    username: `tea_${n}`,
    display_name: `Tea ${n}`,
    avatar_url: null,
    is_ai: false,
    bio: '',
    role: 'user',
    post_count: 0,
    follower_count: n,
    following_count: 0,
    created_at: '',
    ...overrides,
  }
}

/** A search API over `total` matching posts and people, answering the best `limit` of them. */
function serve(total: { posts: number; users: number }, people = (n: number) => person(n)) {
  const mock = mockFetch([
    {
      path: '/api/search',
      reply: () => {
        const url = new URL(mock.calls[mock.calls.length - 1]!.url, 'http://x')
        const limit = Math.min(Number(url.searchParams.get('limit')), 50) // the server's page_size_max
        const type = url.searchParams.get('type')
        const count = (n: number) => Array.from({ length: Math.min(n, limit) }, (_, i) => i + 1)
        return {
          status: 200,
          body: {
            posts: type === 'users' ? [] : count(total.posts).map((i) => makePost(`p${i}`, { content: `tea post ${i}` })),
            users: type === 'posts' ? [] : count(total.users).map(people),
          },
        }
      },
    },
  ])
  return mock
}

describe('search', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('pages by asking for more of the ranking until fewer come back', async () => {
    const { calls } = serve({ posts: 45, users: 3 })
    const search = useSearchStore()
    search.search('  tea ')
    await search.loadMore('posts')
    await search.loadMore('posts')
    expect(search.results.posts.items).toHaveLength(40)
    expect(search.results.posts.finished).toBe(false)
    await search.loadMore('posts')
    expect(search.results.posts.items).toHaveLength(45)
    expect(search.results.posts.finished).toBe(true)
    await search.loadMore('posts') // finished: nothing more asked
    expect(calls.map((c) => c.url)).toEqual([
      `/api/search?q=tea&type=posts&limit=${SEARCH_STEP}`,
      `/api/search?q=tea&type=posts&limit=${2 * SEARCH_STEP}`,
      `/api/search?q=tea&type=posts&limit=${3 * SEARCH_STEP}`,
    ])
    await search.loadMore('users')
    expect(search.results.users.items).toHaveLength(3)
    expect(search.results.users.finished).toBe(true)
  })

  it('stops where the server caps the ranking, and drops answers to an older query', async () => {
    serve({ posts: 500, users: 0 })
    const search = useSearchStore()
    search.search('tea')
    for (let i = 0; i < 3; i++) await search.loadMore('posts')
    expect(search.results.posts.items).toHaveLength(50) // asked 60, the server gives 50 at most
    expect(search.results.posts.finished).toBe(true)

    search.search('coffee')
    const stale = search.loadMore('posts')
    search.search('cake')
    await stale
    expect(search.query).toBe('cake')
    expect(search.results.posts.items).toHaveLength(0)
    expect(search.results.posts.limit).toBe(0)
  })

  it('view: a labelled search field, post and people tabs, people link to profiles, text shown as text', async () => {
    serve({ posts: 2, users: 2 }, (n) => person(n, n === 2 ? { is_ai: true, display_name: '<img src=x onerror=alert(1)>' } : {}))
    const { wrapper, router } = await mountWithApp(SearchView, {}, '/search')
    await settle()
    const box = wrapper.get('input[type="search"]')
    expect(wrapper.get(`label[for="${box.attributes('id')}"]`).text()).toBe('Search posts and people')
    await box.setValue('tea')
    await wrapper.get('form').trigger('submit')
    await settle()
    expect(router.currentRoute.value.query).toEqual({ q: 'tea' })
    expect(wrapper.findAll('[data-test="content"]').map((p) => p.text())).toEqual(['tea post 1', 'tea post 2'])

    const tabs = wrapper.findAll('[role="tab"]')
    expect(tabs.map((tab) => tab.text())).toEqual(['Posts', 'People'])
    await tabs[1]!.trigger('click')
    await settle()
    expect(router.currentRoute.value.query).toEqual({ q: 'tea', tab: 'users' })
    const people = wrapper.findAll('[data-test="person"]')
    expect(people.map((p) => p.attributes('href'))).toEqual(['/users/tea_1', '/users/tea_2'])
    expect(people[1]!.text()).toContain('<img src=x onerror=alert(1)>')
    expect(people[1]!.find('[data-test="ai-badge"]').exists()).toBe(true)
    expect(wrapper.find('.people img').exists()).toBe(false)
  })
})
