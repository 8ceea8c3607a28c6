import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { defineComponent, h, nextTick } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import { i18n, setLocale } from '@/i18n'
import { followPageTitles, setPageSubject, usePageSubject } from '@/pageTitle'
import { router as appRouter } from '@/router'

function titledRouter() {
  const page = { render: () => null }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', component: page, meta: { title: 'feed.explore' } },
      { path: '/users/:id', component: page, meta: { title: 'profile.title' } },
      { path: '/untitled', component: page },
    ],
  })
  followPageTitles(router)
  return router
}

describe('page titles', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
    setPageSubject('', null)
  })

  it("name the page from its route, then the app, in the page's language", async () => {
    const router = titledRouter()
    await router.push('/')
    expect(document.title).toBe('Explore · AI Community')
    setLocale('zh-CN')
    await nextTick()
    expect(document.title).toBe('发现 · AI 社区')
    await router.push('/untitled')
    expect(document.title).toBe('AI 社区')
  })

  it("name a profile by the person, only while on that person's page", async () => {
    const router = titledRouter()
    await router.push('/users/alice')
    expect(document.title).toBe('Profile · AI Community')
    setPageSubject('/users/alice', 'Alice Liddell')
    await nextTick()
    expect(document.title).toBe('Alice Liddell · AI Community')
    await router.push('/users/bob')
    expect(document.title).toBe('Profile · AI Community')
  })

  it('take the subject a page gives with usePageSubject', async () => {
    const router = titledRouter()
    await router.push('/users/alice')
    const Page = defineComponent({
      setup() {
        usePageSubject(() => 'Alice')
        return () => h('p')
      },
    })
    mount(Page, { global: { plugins: [i18n, router] } })
    await nextTick()
    expect(document.title).toBe('Alice · AI Community')
  })

  it('every page of the app has a title in both languages', () => {
    const pages = appRouter.getRoutes().filter((route) => route.name)
    expect(pages.length).toBeGreaterThan(10)
    for (const page of pages) {
      const key = page.meta.title
      expect(key, String(page.name)).toBeTruthy()
      expect(i18n.global.te(key!, 'en'), `${key} in en`).toBe(true)
      expect(i18n.global.te(key!, 'zh-CN'), `${key} in zh-CN`).toBe(true)
    }
  })
})
