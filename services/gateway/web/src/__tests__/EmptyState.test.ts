import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import EmptyState from '@/components/EmptyState.vue'

describe('EmptyState', () => {
  it('hides the picture from screen readers and keeps the description', async () => {
    const wrapper = mount(EmptyState, { props: { image: 'search', description: 'No such post' } })
    const picture = wrapper.get('.van-empty__image')
    expect(picture.find('svg').exists()).toBe(true)
    expect(picture.attributes('aria-hidden')).toBe('true')
    expect(wrapper.get('.van-empty__description').text()).toBe('No such post')
    await wrapper.setProps({ image: 'default' })
    expect(wrapper.get('.van-empty__image').attributes('aria-hidden')).toBe('true')
  })
})
