import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { tokens } from '@/api/tokens'
import type { AppNotification, Post } from '@/api/types'
import PostCard from '@/components/PostCard.vue'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useFeedStore } from '@/stores/feed'
import { groupNotifications } from '@/stores/notifications'
import { useRepostsStore } from '@/stores/reposts'
import { makePost, mockFetch, mountWithApp, settle } from './helpers'

const BOB = { id: 'u2', username: 'bob', display_name: 'Bob', avatar_url: null, is_ai: false }
const ME = { id: 'me', username: 'me', display_name: 'Me', role: 'user', is_ai: false, created_at: '', email: null }

function original(overrides: Record<string, unknown> = {}): Post {
  return makePost('1', { content: 'the lake at dawn', repost_count: 2, ...overrides }) as Post
}

function signIn(): void {
  tokens.save('access', 'refresh')
  setActivePinia(createPinia())
  useAuthStore().user = ME
}

describe('PostCard reposts and bookmarks', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
  })
  afterEach(() => vi.unstubAllGlobals())

  it('shows a plain repost as "X reposted" over the original, whose actions act on the original', async () => {
    const repost = makePost('9', { author: BOB, content: '', repost_of_id: '1', repost_of: original() }) as Post
    const { wrapper } = await mountWithApp(PostCard, { post: repost })
    expect(wrapper.get('[data-test="reposted-by"]').text()).toBe('Bob reposted')
    expect(wrapper.get('[data-test="reposted-by"]').attributes('href')).toBe('/users/bob')
    expect(wrapper.get('[data-test="content"]').text()).toBe('the lake at dawn')
    expect(wrapper.get('[data-test="author"]').text()).toBe('Alice')
    expect(wrapper.get('[data-test="repost"]').attributes('aria-label')).toBe('Repost, 2 reposts')
    await wrapper.get('[data-test="like"]').trigger('click')
    expect((wrapper.emitted('like')![0] as [Post])[0].id).toBe('1')

    setLocale('zh-CN')
    await settle()
    expect(wrapper.get('[data-test="reposted-by"]').text()).toBe('Bob 转发了')
  })

  it('shows a quote above its original, embedded and linked, or says the original was deleted', async () => {
    const quote = makePost('9', { author: BOB, content: 'so calm', repost_of_id: '1', repost_of: original() }) as Post
    const { wrapper } = await mountWithApp(PostCard, { post: quote })
    expect(wrapper.get('[data-test="content"]').text()).toBe('so calm')
    const embedded = wrapper.get('[data-test="repost-original"]')
    expect(embedded.attributes('href')).toBe('/posts/1')
    expect(embedded.get('[data-test="repost-original-content"]').text()).toBe('the lake at dawn')
    // Its repost button reposts the original (as the server does), with the original's count.
    expect(wrapper.get('[data-test="repost"]').text()).toContain('2 reposts')

    const orphan = makePost('10', { author: BOB, content: 'so calm', repost_of_id: '1', repost_of: null }) as Post
    const gone = await mountWithApp(PostCard, { post: orphan })
    expect(gone.wrapper.get('[data-test="repost-original-deleted"]').text()).toBe('The original post was deleted.')
    expect(gone.wrapper.find('[data-test="repost"]').exists()).toBe(false)
    const plainOrphan = makePost('11', { author: BOB, content: '', repost_of_id: '1', repost_of: null }) as Post
    const plainGone = await mountWithApp(PostCard, { post: plainOrphan })
    expect(plainGone.wrapper.get('[data-test="reposted-by"]').text()).toBe('Bob reposted')
    expect(plainGone.wrapper.find('[data-test="repost-original-deleted"]').exists()).toBe(true)
  })

  it('bookmarks and un-bookmarks, showing it at once, and says so to nobody else', async () => {
    signIn()
    const { calls } = mockFetch([
      { method: 'PUT', path: '/api/posts/1/bookmark', reply: () => ({ status: 204 }) },
      { method: 'DELETE', path: '/api/posts/1/bookmark', reply: () => ({ status: 204 }) },
    ])
    const feed = useFeedStore()
    feed.feeds.home.items = [original()]
    const { wrapper } = await mountWithApp(PostCard, { post: feed.feeds.home.items[0] })
    const button = () => wrapper.get('[data-test="bookmark"]')
    expect(button().attributes('aria-pressed')).toBe('false')
    await button().trigger('click')
    await settle()
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['PUT /api/posts/1/bookmark'])
    expect(feed.feeds.home.items[0]!.bookmarked_by_me).toBe(true)
    await wrapper.setProps({ post: feed.feeds.home.items[0] })
    expect(button().attributes('aria-pressed')).toBe('true')
    await button().trigger('click')
    await settle()
    expect(calls.map((c) => c.method)).toEqual(['PUT', 'DELETE'])
    expect(feed.feeds.home.items[0]!.bookmarked_by_me).toBe(false)
  })

  it('takes a bookmark back when the server refuses it', async () => {
    signIn()
    mockFetch([{ method: 'PUT', path: '/api/posts/1/bookmark', reply: () => ({ status: 404, body: { code: 'not_found' } }) }])
    const feed = useFeedStore()
    feed.feeds.home.items = [original()]
    await expect(useRepostsStore().toggleBookmark(original())).rejects.toThrow()
    expect(feed.feeds.home.items[0]!.bookmarked_by_me).toBeFalsy()
  })

  it('reposts plainly from the menu, counting it on every copy of the original, and undoes it', async () => {
    signIn()
    const repost = makePost('9', { author: ME, content: '', repost_of_id: '1', repost_of: original({ repost_count: 3, reposted_by_me: true }) })
    const { calls } = mockFetch([
      { method: 'POST', path: '/api/posts/1/repost', reply: () => ({ status: 201, body: repost }) },
      { method: 'DELETE', path: '/api/posts/1/repost', reply: () => ({ status: 204 }) },
    ])
    const feed = useFeedStore()
    const quoteOfIt = makePost('5', { author: BOB, content: 'look', repost_of_id: '1', repost_of: original() }) as Post
    feed.feeds.home.items = [original(), quoteOfIt]
    feed.feeds.home.finished = true
    const { wrapper } = await mountWithApp(PostCard, { post: feed.feeds.home.items[0] })
    await wrapper.get('[data-test="repost"]').trigger('click')
    await settle()
    document.querySelector<HTMLElement>('[data-test="repost-plain"]')!.click()
    await settle()
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/posts/1/repost'])
    expect(calls[0]!.init.body ?? null).toBeNull()
    const [mine, first, quoted] = feed.feeds.home.items
    expect(mine!.id).toBe('9') // our repost on top of home at once
    expect(first!.repost_count).toBe(3)
    expect(first!.reposted_by_me).toBe(true)
    // The quote embedding the original shows the new count too.
    expect(quoted!.repost_of!.repost_count).toBe(3)

    await useRepostsStore().toggleRepost(feed.feeds.home.items[1]!)
    expect(calls.map((c) => c.method)).toEqual(['POST', 'DELETE'])
    expect(feed.feeds.home.items.map((p) => p.id)).toEqual(['1', '5']) // our plain repost is gone
    expect(feed.feeds.home.items[0]!.repost_count).toBe(2)
    expect(feed.feeds.home.items[0]!.reposted_by_me).toBe(false)
  })

  it('quotes through a composer that shows the original, and sends the words', async () => {
    signIn()
    const quote = makePost('12', { author: ME, content: 'worth it', repost_of_id: '1', repost_of: original({ repost_count: 3 }) })
    const { calls } = mockFetch([{ method: 'POST', path: '/api/posts/1/repost', reply: () => ({ status: 201, body: quote }) }])
    const feed = useFeedStore()
    feed.feeds.home.items = [original()]
    const { wrapper } = await mountWithApp(PostCard, { post: feed.feeds.home.items[0] })
    await wrapper.get('[data-test="repost"]').trigger('click')
    await settle()
    document.querySelector<HTMLElement>('[data-test="repost-quote"]')!.click()
    await settle()
    const composer = document.querySelector('[data-test="quote-composer"]')!
    expect(composer.querySelector('[data-test="repost-original-content"]')!.textContent).toBe('the lake at dawn')
    const send = composer.querySelector<HTMLButtonElement>('[data-test="quote-send"]')!
    expect(send.disabled).toBe(true) // nothing to say yet
    const input = composer.querySelector('textarea')!
    input.value = '  worth it  '
    input.dispatchEvent(new Event('input'))
    await settle()
    composer.dispatchEvent(new Event('submit')) // the composer is the form
    await settle()
    expect(calls).toHaveLength(1)
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ content: 'worth it' })
    expect(feed.feeds.home.items.map((p) => p.id)).toEqual(['12', '1'])
    expect(feed.feeds.home.items[1]!.repost_count).toBe(3)
  })

  it('asks a signed-out visitor to sign in instead of reposting or bookmarking', async () => {
    const { calls } = mockFetch([])
    const { wrapper } = await mountWithApp(PostCard, { post: original() })
    await wrapper.get('[data-test="bookmark"]').trigger('click')
    await wrapper.get('[data-test="repost"]').trigger('click')
    await settle()
    expect(calls).toHaveLength(0)
    expect(document.querySelector('[data-test="repost-menu"]')).toBeNull()
    expect(document.body.textContent).toContain('Sign in to repost')
  })
})

describe('repost notifications', () => {
  it('group reposts of one post into one row', () => {
    const note = (id: string, actor: typeof BOB): AppNotification =>
      ({ id, kind: 'repost', actor, post_id: '1', comment_id: null, message_id: null, created_at: '', read: false }) as AppNotification
    const carol = { ...BOB, id: 'u3', username: 'carol', display_name: 'Carol' }
    const groups = groupNotifications([note('3', BOB), note('2', carol), note('1', BOB)])
    expect(groups).toHaveLength(1)
    expect(groups[0]!.actors.map((a) => a.username)).toEqual(['bob', 'carol'])
  })
})
