import { flushPromises } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { closeDialog } from 'vant'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Comment, CommentCreatedData } from '@/api/types'
import { tokens } from '@/api/tokens'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useFeedStore } from '@/stores/feed'
import { usePostsStore } from '@/stores/posts'
import PostDetailView from '@/views/PostDetailView.vue'
import { makePost, mockFetch, mountWithApp, settle } from './helpers'

const ALICE = { id: 'u1', username: 'alice', display_name: 'Alice', avatar_url: null, is_ai: false }
const BOB = { id: 'u2', username: 'bob', display_name: 'Bob', avatar_url: null, is_ai: false }
const ME = { ...BOB, role: 'user', created_at: '', email: null }

function makeComment(id: string, overrides: Partial<Comment> = {}): Comment {
  return { id, post_id: 'p1', author: ALICE, parent_id: null, content: `comment ${id}`, created_at: '2026-01-01T00:00:00Z', replies: [], ...overrides }
}

function event(id: string, overrides: Partial<CommentCreatedData> = {}): CommentCreatedData {
  return {
    comment_id: id,
    post_id: 'p1',
    post_author_id: 'u1',
    author_id: 'u3',
    author_username: 'carol',
    parent_id: null,
    content: `live ${id}`,
    created_at: '2026-01-01T00:00:00Z',
    ...overrides,
  }
}

/** Routes for post p1 with two pages of comments; `posted` answers POST /comments. */
function serve(posted?: (body: Record<string, unknown>) => Comment) {
  const pages: Record<string, { items: Comment[]; next_cursor: string | null }> = {
    '': { items: [makeComment('10'), makeComment('11', { replies: [makeComment('12', { parent_id: '11', author: BOB })] })], next_cursor: 'c1' },
    c1: { items: [makeComment('20')], next_cursor: null },
  }
  return mockFetch([
    { path: '/api/posts/p1', reply: () => ({ status: 200, body: makePost('p1', { author: ALICE, comment_count: 4 }) }) },
    {
      path: '/api/posts/p1/comments',
      reply: () => ({ status: 200, body: pages[new URL(String(lastUrl()), 'http://x').searchParams.get('cursor') ?? ''] }),
    },
    {
      method: 'POST',
      path: '/api/posts/p1/comments',
      reply: (init) => ({ status: 201, body: posted?.(JSON.parse(String(init.body))) }),
    },
    { path: '/api/users/carol', reply: () => ({ status: 200, body: { ...ALICE, id: 'u3', username: 'carol', display_name: 'Carol', is_ai: true } }) },
    { method: 'DELETE', path: '/api/comments/11', reply: () => ({ status: 204 }) },
  ])
}

let lastUrl: () => string = () => ''

describe('posts store: the comment tree', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
  })

  function setUp(posted?: (body: Record<string, unknown>) => Comment) {
    const mock = serve(posted)
    lastUrl = () => mock.calls[mock.calls.length - 1]!.url
    return mock
  }

  it('loads comments page by page with their replies, oldest first', async () => {
    setUp()
    const posts = usePostsStore()
    await posts.open('p1')
    await posts.loadComments()
    await posts.loadComments()
    expect(posts.thread.items.map((c) => c.id)).toEqual(['10', '11', '20'])
    expect(posts.thread.items[1]!.replies.map((c) => c.id)).toEqual(['12'])
    expect(posts.thread.finished).toBe(true)
  })

  it('puts live comments and replies in their place once, with the author looked up, and counts them', async () => {
    const { calls } = setUp()
    const posts = usePostsStore()
    await posts.open('p1')
    await posts.loadComments()
    await posts.onCommentCreated(event('13', { parent_id: '11' }))
    await posts.onCommentCreated(event('13', { parent_id: '11' })) // delivered twice
    await posts.onCommentCreated(event('30'))
    expect(posts.thread.items[1]!.replies.map((c) => c.id)).toEqual(['12', '13'])
    const live = posts.thread.items[1]!.replies[1]!
    expect(live.author.display_name).toBe('Carol')
    expect(live.author.is_ai).toBe(true)
    expect(calls.filter((c) => c.url === '/api/users/carol')).toHaveLength(1)
    // The top-level one sits after what is loaded; the next page slots in before it.
    await posts.loadComments()
    expect(posts.thread.items.map((c) => c.id)).toEqual(['10', '11', '20', '30'])
    expect(posts.post!.comment_count).toBe(6)
  })

  it('counts my own comment once though the live event follows the answer', async () => {
    setUp((body) => makeComment('40', { author: BOB, content: String(body.content), parent_id: (body.parent_id as string) ?? null }))
    const posts = usePostsStore()
    useFeedStore().prepend('explore', makePost('p1', { comment_count: 4 }))
    await posts.open('p1')
    await posts.loadComments()
    await posts.addComment('hello', '11')
    await posts.onCommentCreated(event('40', { parent_id: '11', author_id: 'u2', author_username: 'bob' }))
    expect(posts.thread.items[1]!.replies.map((c) => c.id)).toEqual(['12', '40'])
    expect(posts.post!.comment_count).toBe(5)
    expect(useFeedStore().feeds.explore.items[0]!.comment_count).toBe(5)
  })

  it('counts comments on posts that are only listed in a feed', async () => {
    setUp()
    const posts = usePostsStore()
    useFeedStore().prepend('explore', makePost('p9', { comment_count: 1 }))
    await posts.onCommentCreated(event('50', { post_id: 'p9' }))
    await posts.onCommentCreated(event('50', { post_id: 'p9' }))
    expect(useFeedStore().feeds.explore.items[0]!.comment_count).toBe(2)
  })

  it('deleting a top-level comment takes its replies off the count', async () => {
    setUp()
    const posts = usePostsStore()
    await posts.open('p1')
    await posts.loadComments()
    await posts.deleteComment(posts.thread.items[1]!)
    expect(posts.thread.items.map((c) => c.id)).toEqual(['10'])
    expect(posts.post!.comment_count).toBe(2)
  })
})

describe('PostDetailView', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('renders comments as text, offers delete only where allowed, and replies within the thread', async () => {
    const evil = '<img src=x onerror=alert(1)>'
    const bodies: Array<Record<string, unknown>> = []
    const mock = serve((body) => {
      bodies.push(body)
      return makeComment('41', { author: BOB, content: String(body.content), parent_id: '11' })
    })
    lastUrl = () => mock.calls[mock.calls.length - 1]!.url
    tokens.save('access', 'refresh') // signed in: a visitor gets no comment box
    useAuthStore().user = ME
    const posts = usePostsStore()
    await posts.open('p1')
    await posts.loadComments()
    posts.thread.items[0]!.content = evil
    const { wrapper } = await mountWithApp(PostDetailView, { id: 'p1' })
    await settle()

    const contents = wrapper.findAll('[data-test="comment-content"]')
    expect(contents[0]!.text()).toBe(evil)
    expect(wrapper.find('[data-test="comments"] img').exists()).toBe(false)
    // Bob may delete his reply (12) but not Alice's comments on Alice's post.
    const deletable = wrapper.findAll('[data-test="comment"]').filter((li) => li.find(':scope > div > div > [data-test="delete-comment"]').exists())
    expect(deletable.map((li) => li.attributes('data-comment-id'))).toEqual(['12'])
    expect(wrapper.find('[data-test="report-post"]').exists()).toBe(true)
    expect(wrapper.find('[data-test="delete-post"]').exists()).toBe(false)

    // Replying to a reply answers in its thread (the API nests one level).
    const replyButtons = wrapper.findAll('[data-test="reply"]')
    await replyButtons[2]!.trigger('click') // the reply 12
    expect(wrapper.get('[data-test="replying"]').text()).toContain('Bob')
    const box = wrapper.get('textarea')
    expect(wrapper.get(`label[for="${box.attributes('id')}"]`).text()).toBe('Comment')
    await box.setValue('thanks')
    await wrapper.get('form').trigger('submit')
    await settle()
    expect(bodies).toEqual([{ content: 'thanks', parent_id: '11' }])
    expect(posts.thread.items[1]!.replies.map((c) => c.id)).toEqual(['12', '41'])
    expect(wrapper.find('[data-test="replying"]').exists()).toBe(false)
  })
})

describe('PostDetailView signed out', () => {
  beforeEach(() => {
    localStorage.clear()
    closeDialog()
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('reads the post and its comments; liking, replying and commenting ask to sign in and write nothing', async () => {
    const mock = serve()
    lastUrl = () => mock.calls[mock.calls.length - 1]!.url
    const { wrapper, router } = await mountWithApp(PostDetailView, { id: 'p1' }, '/posts/p1')
    await settle()
    expect(wrapper.findAll('[data-test="comment-content"]').length).toBeGreaterThan(0)
    expect(wrapper.find('[data-test="comment-box"]').exists()).toBe(false)
    expect(wrapper.get('[data-test="sign-in-to-comment"]').attributes('href')).toBe('/signin?next=/posts/p1')

    await wrapper.get('[data-test="like"]').trigger('click')
    await flushPromises()
    expect(document.querySelector('.sign-in-prompt')?.textContent).toContain('Sign in to like this post')
    document.querySelector<HTMLButtonElement>('.sign-in-prompt .van-dialog__confirm')!.click()
    await settle()
    expect(router.currentRoute.value.path).toBe('/signin')
    expect(router.currentRoute.value.query).toEqual({ next: '/posts/p1' })

    await wrapper.get('[data-test="reply"]').trigger('click')
    await flushPromises()
    expect(document.querySelector('.sign-in-prompt')?.textContent).toContain('Sign in to comment')
    expect(mock.calls.filter((call) => call.method !== 'GET')).toEqual([])
  })
})
