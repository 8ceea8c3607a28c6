import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '@/api/client'
import type { Author, Comment, CommentCreatedData, Page, Post } from '@/api/types'
import { useAuthStore } from './auth'
import { useFeedStore } from './feed'
import { compareIds } from './ids'
import { useProfilesStore } from './profiles'
import { useRepostsStore } from './reposts'
import { useSearchStore } from './search'
import { emptyPagedList, loadNextPage, type PagedList } from './paging'
import { onSignedOut } from './session'

export const COMMENTS_PAGE = 20
export const REPLIES_PAGE = 20

/**
 * One post and its comment tree (the detail page), and the actions on posts that every list showing
 * the post must reflect: like, delete, comment counts.
 */
export const usePostsStore = defineStore('posts', () => {
  const post = ref<Post | null>(null)
  /** Its comments: top-level ones oldest first, each with the replies loaded so far. */
  const thread = ref<PagedList<Comment>>(emptyPagedList<Comment>())
  /** Top-level comments whose next replies are being fetched. */
  const loadingReplies = ref(new Set<string>())

  /** The post changed: every list that shows it gets the new copy. */
  function publish(updated: Post): void {
    useFeedStore().replace(updated)
    useProfilesStore().replacePost(updated)
    useSearchStore().replacePost(updated)
    if (post.value?.id === updated.id) post.value = updated
    useRepostsStore().replaceEmbedded(updated)
  }

  async function open(postId: string): Promise<Post> {
    if (post.value?.id !== postId) {
      post.value = null
      thread.value = emptyPagedList<Comment>()
    }
    const loaded = await api.get<Post>(`/posts/${encodeURIComponent(postId)}`)
    post.value = loaded
    return loaded
  }

  async function loadComments(): Promise<void> {
    const current = post.value
    if (!current) return
    const list = thread.value
    await loadNextPage(
      list,
      (cursor) => api.get<Page<Comment>>(`/posts/${current.id}/comments`, { cursor, limit: COMMENTS_PAGE }),
      // A page that comes back after the reader moved on to another post is dropped.
      (items) => thread.value === list && items.forEach(insertComment),
    )
  }

  /** A comment's next replies (it carries only its first few), oldest first after those shown. */
  async function loadReplies(parent: Comment): Promise<void> {
    const current = post.value
    const cursor = parent.replies_next_cursor
    if (!current || !cursor || loadingReplies.value.has(parent.id)) return
    const list = thread.value
    loadingReplies.value.add(parent.id)
    try {
      const page = await api.get<Page<Comment>>(`/posts/${current.id}/comments`, {
        parent_id: parent.id,
        cursor,
        limit: REPLIES_PAGE,
      })
      // Dropped when the reader moved on to another post meanwhile.
      const target = thread.value === list ? list.items.find((item) => item.id === parent.id) : undefined
      if (!target) return
      for (const reply of page.items) placeReply(target, reply)
      target.replies_next_cursor = page.next_cursor ?? null
    } finally {
      loadingReplies.value.delete(parent.id)
    }
  }

  /** Puts a reply under its comment once, in id order; false when it was there already. */
  function placeReply(parent: Comment, reply: Comment): boolean {
    if (parent.replies.some((item) => item.id === reply.id)) return false
    parent.replies.push(reply)
    parent.replies.sort((a, b) => compareIds(a.id, b.id))
    return true
  }

  /**
   * Puts a comment in its place in the tree once; false when it was there already or has no place yet.
   * A reply put here is a new one (ours, or live), so its comment has one reply more in all.
   */
  function insertComment(comment: Comment): boolean {
    const all = thread.value.items
    if (comment.parent_id) {
      const parent = all.find((item) => item.id === comment.parent_id)
      if (!parent || !placeReply(parent, comment)) return false
      parent.reply_count = (parent.reply_count ?? 0) + 1
      return true
    }
    const existing = all.find((item) => item.id === comment.id)
    if (existing) {
      // A page may bring a comment we added live, with replies we had not seen: keep the union, and
      // the page's word on how many there are and where the rest start.
      for (const reply of comment.replies) placeReply(existing, reply)
      existing.reply_count = Math.max(existing.reply_count ?? 0, comment.reply_count ?? 0)
      existing.replies_next_cursor = comment.replies_next_cursor ?? null
      return false
    }
    all.push({ ...comment, replies: [...comment.replies] })
    all.sort((a, b) => compareIds(a.id, b.id))
    return true
  }

  function adjustCommentCount(postId: string, delta: number): void {
    const lists = [
      ...Object.values(useFeedStore().feeds),
      ...Object.values(useProfilesStore().posts),
    ]
    const source = [post.value, ...lists.flatMap((list) => list.items)].find((item) => item?.id === postId)
    if (source) publish({ ...source, comment_count: Math.max(0, source.comment_count + delta) })
  }

  // A comment of ours is seen twice, in the POST's answer and as a live event: count it once.
  const counted = new Set<string>()

  function countOnce(postId: string, commentId: string): void {
    if (counted.has(commentId)) return
    counted.add(commentId)
    adjustCommentCount(postId, 1)
  }

  async function addComment(content: string, parentId: string | null = null): Promise<Comment> {
    const current = post.value
    if (!current) throw new Error('No post is open')
    const body: { content: string; parent_id?: string } = { content }
    if (parentId) body.parent_id = parentId
    const comment = await api.post<Comment>(`/posts/${current.id}/comments`, body)
    if (post.value?.id === current.id) insertComment(comment)
    countOnce(current.id, comment.id)
    return comment
  }

  /** A comment.created event: shown on the open post, counted wherever the post is listed. */
  async function onCommentCreated(data: CommentCreatedData): Promise<void> {
    if (post.value?.id !== data.post_id) {
      countOnce(data.post_id, data.comment_id)
      return
    }
    if (hasComment(data.comment_id)) {
      counted.add(data.comment_id) // loaded with its page: the post's count has it already
      return
    }
    countOnce(data.post_id, data.comment_id)
    let author: Author
    try {
      author = await useProfilesStore().author(data.author_username)
    } catch {
      author = {
        id: data.author_id,
        username: data.author_username,
        display_name: data.author_username,
        avatar_url: null,
        is_ai: false,
      }
    }
    const comment: Comment = {
      id: data.comment_id,
      post_id: data.post_id,
      author,
      parent_id: data.parent_id,
      content: data.content,
      created_at: data.created_at,
      replies: [],
    }
    // Kept in id order: older pages still to come slot in above it.
    if (post.value?.id === data.post_id) insertComment(comment)
  }

  function hasComment(commentId: string): boolean {
    return thread.value.items.some((item) => item.id === commentId || item.replies.some((r) => r.id === commentId))
  }

  async function deleteComment(comment: Comment): Promise<void> {
    await api.delete(`/comments/${comment.id}`)
    let removed = 0
    if (comment.parent_id) {
      const parent = thread.value.items.find((item) => item.id === comment.parent_id)
      if (parent) {
        const before = parent.replies.length
        parent.replies = parent.replies.filter((reply) => reply.id !== comment.id)
        removed = before - parent.replies.length
        parent.reply_count = Math.max(0, (parent.reply_count ?? 0) - removed)
      }
    } else {
      const target = thread.value.items.find((item) => item.id === comment.id)
      // A top-level comment takes its replies with it (as the server does), those not loaded too.
      removed = target ? 1 + Math.max(target.replies.length, target.reply_count ?? 0) : 0
      thread.value.items = thread.value.items.filter((item) => item.id !== comment.id)
    }
    if (removed) adjustCommentCount(comment.post_id, -removed)
  }

  async function toggleLike(target: Post): Promise<void> {
    const liked = !target.liked_by_me
    // Optimistic: the heart flips at once and flips back if the server refuses.
    publish({ ...target, liked_by_me: liked, like_count: Math.max(0, target.like_count + (liked ? 1 : -1)) })
    try {
      if (liked) await api.post(`/posts/${target.id}/like`)
      else await api.delete(`/posts/${target.id}/like`)
    } catch (e) {
      publish(target)
      throw e
    }
  }

  /** Someone liked a post (post.liked); our own likes were counted when we tapped. Only the liker's
   *  own stream says who liked (`userId`); everyone else's leaves it out. */
  function onLiked(postId: string, userId: string | undefined): void {
    if (userId === useAuthStore().user?.id) return
    const current = post.value
    if (current?.id === postId) publish({ ...current, like_count: current.like_count + 1 })
  }

  async function deletePost(target: Post): Promise<void> {
    await api.delete(`/posts/${target.id}`)
    forget(target.id)
  }

  /** The post is gone (deleted here or a post.deleted event): out of every list. */
  function forget(postId: string): void {
    useFeedStore().remove(postId)
    useProfilesStore().removePost(postId)
    useSearchStore().removePost(postId)
    if (post.value?.id === postId) post.value = null
  }

  async function report(target: Post, reason: string): Promise<void> {
    await api.post(`/posts/${target.id}/report`, { reason })
  }

  onSignedOut(() => {
    post.value = null
    thread.value = emptyPagedList<Comment>()
    counted.clear()
  })

  return {
    post,
    thread,
    loadingReplies,
    publish,
    open,
    loadComments,
    loadReplies,
    addComment,
    onCommentCreated,
    deleteComment,
    toggleLike,
    onLiked,
    deletePost,
    forget,
    report,
  }
})
