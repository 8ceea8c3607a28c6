import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import EventList from '@/components/world/EventList.vue'
import { i18n, setLocale } from '@/i18n'
import { makeEvent } from './simFixtures'

function mountList(upcoming: number) {
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:rest(.*)*', component: { render: () => null } }] })
  return mount(EventList, {
    props: {
      current: [makeEvent('now', { active: true })],
      upcoming: Array.from({ length: upcoming }, (_, index) => makeEvent(`next${index}`)),
      placesById: new Map(),
    },
    global: { plugins: [i18n, router] },
  })
}

describe('the World page events', () => {
  it('shows what is on and the next five, the rest on asking', async () => {
    setLocale('en')
    const wrapper = mountList(12)
    expect(wrapper.findAll('[data-test="event"]')).toHaveLength(6)
    const toggle = wrapper.get('[data-test="events-toggle"]')
    expect(toggle.text()).toBe('Show 7 more events')
    expect(toggle.attributes('aria-expanded')).toBe('false')

    await toggle.trigger('click')
    expect(wrapper.findAll('[data-test="event"]')).toHaveLength(13)
    expect(toggle.text()).toBe('Show fewer events')
    expect(toggle.attributes('aria-expanded')).toBe('true')
  })

  it('has nothing to unfold when every event is shown', () => {
    setLocale('zh-CN')
    const wrapper = mountList(5)
    expect(wrapper.findAll('[data-test="event"]')).toHaveLength(6)
    expect(wrapper.find('[data-test="events-toggle"]').exists()).toBe(false)
  })
})
