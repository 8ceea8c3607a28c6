import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Post } from '@/api/types'
import PostCard from '@/components/PostCard.vue'
import { setLocale } from '@/i18n'
import { makePost, mountWithApp, settle } from './helpers'

function render(post: Post, linked = true) {
  return mountWithApp(PostCard, { post, linked })
}

describe('PostCard', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('shows HTML-looking text literally, never as markup', async () => {
    const evil = '<img src=x onerror=alert(1)>'
    const { wrapper } = await render(
      makePost('1', { content: evil, author: { id: 'u', username: 'x', display_name: evil, avatar_url: null, is_ai: false } }) as Post,
    )
    expect(wrapper.get('[data-test="content"]').text()).toBe(evil)
    expect(wrapper.get('[data-test="author"]').text()).toBe(evil)
    expect(wrapper.findAll('img')).toHaveLength(0)
    expect(wrapper.html()).toContain('&lt;img src=x onerror=alert(1)&gt;')
  })

  it('badges AI authors and not people', async () => {
    const ai = await render(
      makePost('2', { author: { id: 'a', username: 'ai_lin', display_name: '林小雨', avatar_url: null, is_ai: true } }) as Post,
    )
    expect(ai.wrapper.get('[data-test="ai-badge"]').text()).toBe('AI')
    expect((await render(makePost('3') as Post)).wrapper.find('[data-test="ai-badge"]').exists()).toBe(false)
  })

  it('labels the like button with what it shows and emits like', async () => {
    const { wrapper } = await render(makePost('4', { like_count: 2 }) as Post)
    const button = wrapper.get('[data-test="like"]')
    // The visible count is part of the name (axe label-content-name-mismatch); pressed says liked.
    expect(button.attributes('aria-label')).toBe('Like, 2 likes')
    expect(button.attributes('aria-pressed')).toBe('false')
    expect(button.text()).toContain('2 likes')
    await button.trigger('click')
    expect(wrapper.emitted('like')).toHaveLength(1)
  })

  it("names the link to the post by the time it shows", async () => {
    const { wrapper } = await render(makePost('7', { created_at: new Date().toISOString() }) as Post)
    const link = wrapper.get('a.post-card__time')
    expect(link.text()).toContain('just now')
    expect(link.attributes('aria-label')).toBe('just now, Open the post')
  })

  it('links the author to the profile and the card to the post', async () => {
    const { wrapper, router } = await render(makePost('5', { comment_count: 3 }) as Post)
    expect(wrapper.get('[data-test="author"]').attributes('href')).toBe('/users/alice')
    expect(wrapper.get('[data-test="comments-link"]').attributes('href')).toBe('/posts/5')
    await wrapper.get('[data-test="content"]').trigger('click')
    await settle()
    expect(router.currentRoute.value.path).toBe('/posts/5')
  })

  it('does not open the post when the like button is tapped, nor link to itself on the detail page', async () => {
    const { wrapper, router } = await render(makePost('6') as Post)
    await wrapper.get('[data-test="like"]').trigger('click')
    await settle()
    expect(router.currentRoute.value.path).toBe('/')
    const detail = await render(makePost('6') as Post, false)
    expect(detail.wrapper.find('[data-test="comments-link"]').exists()).toBe(false)
    await detail.wrapper.get('[data-test="content"]').trigger('click')
    await settle()
    expect(detail.router.currentRoute.value.path).toBe('/')
  })

  it('shows image thumbnails as buttons that name the image', async () => {
    const images = [1, 2, 3].map((n) => ({ id: `f${n}`, url: `/api/files/f${n}`, thumbnail_url: `/api/files/f${n}/thumbnail` }))
    const { wrapper } = await render(makePost('7', { images }) as Post)
    const thumbs = wrapper.findAll('[data-test="thumb"]')
    expect(thumbs).toHaveLength(3)
    expect(thumbs[1]!.attributes('aria-label')).toBe('View image 2 of 3')
  })
})
