import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Comment, CommentCreatedData } from '@/api/types'
import CommentItem from '@/components/CommentItem.vue'
import { setLocale } from '@/i18n'
import { REPLIES_PAGE, usePostsStore } from '@/stores/posts'
import { makePost, mockFetch, mountWithApp, settle } from './helpers'

const ALICE = { id: 'u1', username: 'alice', display_name: 'Alice', avatar_url: null, is_ai: false }

function makeComment(id: string, overrides: Partial<Comment> = {}): Comment {
  return { id, post_id: 'p1', author: ALICE, parent_id: null, content: `comment ${id}`, created_at: '2026-01-01T00:00:00Z', replies: [], ...overrides }
}

const reply = (id: string) => makeComment(id, { parent_id: '11' })

/** Post p1 whose comment 11 has seven replies: three come with it, the others two pages at a time. */
function serve() {
  const replyPages: Record<string, { items: Comment[]; next_cursor: string | null }> = {
    r14: { items: [reply('15'), reply('16')], next_cursor: 'r16' },
    r16: { items: [reply('17'), reply('18')], next_cursor: null },
  }
  const mock = mockFetch([
    { path: '/api/posts/p1', reply: () => ({ status: 200, body: makePost('p1', { comment_count: 8 }) }) },
    {
      path: '/api/posts/p1/comments',
      reply: () => {
        const query = new URL(mock.calls[mock.calls.length - 1]!.url, 'http://x').searchParams
        if (query.get('parent_id') === '11') return { status: 200, body: replyPages[query.get('cursor') ?? ''] }
        const top = makeComment('11', { replies: [reply('12'), reply('13'), reply('14')], reply_count: 7, replies_next_cursor: 'r14' })
        return { status: 200, body: { items: [top], next_cursor: null } }
      },
    },
  ])
  return mock
}

function live(id: string): CommentCreatedData {
  return {
    comment_id: id,
    post_id: 'p1',
    post_author_id: 'u1',
    author_id: 'u1',
    author_username: 'alice',
    parent_id: '11',
    content: `live ${id}`,
    created_at: '2026-01-01T00:00:00Z',
  }
}

describe('replies a page at a time', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('loads the replies a comment did not carry, after those shown, until there are no more', async () => {
    const { calls } = serve()
    const posts = usePostsStore()
    await posts.open('p1')
    await posts.loadComments()
    const thread = posts.thread.items[0]!
    await posts.loadReplies(thread)
    expect(calls[calls.length - 1]!.url).toBe(`/api/posts/p1/comments?parent_id=11&cursor=r14&limit=${REPLIES_PAGE}`)
    await posts.loadReplies(thread)
    expect(thread.replies.map((r) => r.id)).toEqual(['12', '13', '14', '15', '16', '17', '18'])
    expect(thread.replies_next_cursor).toBeNull()
    await posts.loadReplies(thread) // none left: no request
    expect(calls.filter((c) => c.url.includes('parent_id'))).toHaveLength(2)
  })

  it('counts a live reply among the comment\'s replies once, and a deleted one off', async () => {
    serve()
    const posts = usePostsStore()
    await posts.open('p1')
    await posts.loadComments()
    await posts.onCommentCreated(live('19'))
    await posts.onCommentCreated(live('19'))
    const thread = posts.thread.items[0]!
    expect(thread.reply_count).toBe(8)
    await posts.loadReplies(thread)
    await posts.loadReplies(thread)
    expect(thread.replies.map((r) => r.id)).toEqual(['12', '13', '14', '15', '16', '17', '18', '19'])
  })

  it('shows how many replies are not shown and loads them on request', async () => {
    serve()
    const posts = usePostsStore()
    await posts.open('p1')
    await posts.loadComments()
    const { wrapper } = await mountWithApp(CommentItem, { comment: posts.thread.items[0]!, canDelete: () => false })
    const more = () => wrapper.find('[data-test="more-replies"]')
    expect(wrapper.findAll('[data-test="comment"] [data-test="comment"]')).toHaveLength(3)
    expect(more().text()).toBe('View 4 more replies')
    await more().trigger('click')
    await settle()
    expect(wrapper.findAll('[data-test="comment"] [data-test="comment"]')).toHaveLength(5)
    expect(more().text()).toBe('View 2 more replies')
    await more().trigger('click')
    await settle()
    expect(wrapper.findAll('[data-test="comment"] [data-test="comment"]')).toHaveLength(7)
    expect(more().exists()).toBe(false)
  })
})
