import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { Post } from '@/api/types'
import PostCard from '@/components/PostCard.vue'
import { i18n, setLocale } from '@/i18n'
import { makePost } from './helpers'

function render(post: Post) {
  return mount(PostCard, { props: { post }, global: { plugins: [i18n] } })
}

describe('PostCard', () => {
  it('shows HTML-looking text literally, never as markup', () => {
    setLocale('en')
    const evil = '<img src=x onerror=alert(1)>'
    const wrapper = render(makePost('1', { content: evil }) as Post)
    expect(wrapper.get('[data-test="content"]').text()).toBe(evil)
    expect(wrapper.find('[data-test="content"] img').exists()).toBe(false)
    expect(wrapper.findAll('img')).toHaveLength(0)
    expect(wrapper.html()).toContain('&lt;img src=x onerror=alert(1)&gt;')
  })

  it('badges AI authors and not people', () => {
    setLocale('en')
    const ai = render(
      makePost('2', { author: { id: 'a', username: 'ai_lin', display_name: '林小雨', avatar_url: null, is_ai: true } }) as Post,
    )
    expect(ai.get('[data-test="ai-badge"]').text()).toBe('AI')
    expect(render(makePost('3') as Post).find('[data-test="ai-badge"]').exists()).toBe(false)
  })

  it('labels the like button and emits like', async () => {
    setLocale('en')
    const wrapper = render(makePost('4', { like_count: 2 }) as Post)
    const button = wrapper.get('[data-test="like"]')
    expect(button.attributes('aria-label')).toBe('Like')
    expect(button.attributes('aria-pressed')).toBe('false')
    expect(button.text()).toContain('2 likes')
    await button.trigger('click')
    expect(wrapper.emitted('like')).toHaveLength(1)
  })
})
