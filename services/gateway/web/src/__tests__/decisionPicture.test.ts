/// <reference types="node" />
// The console shows the picture a character's post carries (the decision's trace.picture): thumbnail,
// how making it went, backend, seed, time, subject and description; the note when the privacy guard
// dropped the photo description; the picture icon in the action log. And AI posts' pictures render in
// the feed as people's do.
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PICTURE_FAILURES, type ActionView, type PictureTrace } from '@/api/sim'
import type { Post } from '@/api/types'
import PostCard from '@/components/PostCard.vue'
import { closeImageViewer, viewerState } from '@/components/identity/imageViewer'
import ActionLog from '@/components/operator/ActionLog.vue'
import AgentInspector from '@/components/operator/AgentInspector.vue'
import { i18n, LOCALES, setLocale } from '@/i18n'
import { useSimStore } from '@/stores/sim'
import { makePost, mockFetch, mountWithApp } from './helpers'
import { makeAction, makeAgent, makeDetail } from './simFixtures'

const PROMPT = 'a steaming bowl of noodles on a wooden counter, morning light, film photo'

function attached(overrides: Partial<PictureTrace> = {}): PictureTrace {
  return {
    status: 'attached',
    backend: 'comfyui',
    prompt: PROMPT,
    seed: 424242,
    subject: 'food',
    size: '1024x768',
    generate_ms: 1234.5,
    store_ms: 56.2,
    file_id: 'f-1',
    ...overrides,
  }
}

function failed(overrides: Partial<PictureTrace> = {}): PictureTrace {
  return {
    status: 'failed',
    backend: 'images-api',
    prompt: 'the harbour at sunset',
    seed: 7,
    subject: 'sky',
    size: '1024x768',
    generate_ms: 30000,
    reason: 'timeout',
    error: 'no picture from images-api within 30 s',
    ...overrides,
  }
}

function post(decision: number, trace: ActionView['trace']): ActionView {
  return makeAction(decision, { action: 'post', content: '早上的面', trace, result_kind: 'applied', result_detail: 'post.created' })
}

/** The inspector with Lin chosen, whose recent decisions are `actions`. */
async function inspect(actions: ActionView[]) {
  const lin = makeAgent('lin', { display_name: '林小雨' })
  mockFetch([
    { path: '/api/sim/agents/lin', reply: () => ({ status: 200, body: makeDetail(lin, { recent_actions: actions }) }) },
  ])
  useSimStore().agents = [lin]
  const wrapper = mount(AgentInspector, { global: { plugins: [i18n] } })
  await wrapper.get('.agent-chip').trigger('click')
  await flushPromises()
  return wrapper
}

/** The text of each fact of a picture block, by its label. */
function facts(block: ReturnType<ReturnType<typeof mount>['get']>): Record<string, string> {
  const labels = block.findAll('dt').map((dt) => dt.text())
  const values = block.findAll('dd').map((dd) => dd.text())
  return Object.fromEntries(labels.map((label, index) => [label, values[index]!]))
}

describe('the picture of a character’s post in the console', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
  })
  afterEach(() => closeImageViewer())

  it('shows an attached picture: thumbnail with the description as alt, backend, seed, time, subject', async () => {
    const wrapper = await inspect([post(5, { reason: 'share', picture: attached() })])
    const block = wrapper.get('[data-test="decision"] [data-test="decision-picture"]')
    const image = block.get('[data-test="picture-thumb"] img')
    expect(image.attributes('src')).toBe('/api/files/f-1/thumbnail')
    expect(image.attributes('alt')).toBe(PROMPT)
    expect(image.attributes('loading')).toBe('lazy')
    expect(facts(block)).toEqual({
      Status: 'Attached',
      'Made by': 'ComfyUI',
      Seed: '424242',
      Size: '1024 × 768 px',
      Time: '1,234.5 ms to make + 56.2 ms to store',
      Of: 'Food',
      Description: PROMPT,
    })
    expect(block.find('[data-test="picture-error"]').exists()).toBe(false)
    expect(wrapper.find('[data-test="picture-dropped"]').exists()).toBe(false)

    // A tap opens the full picture in the app's image viewer, which comes back to the thumbnail.
    await block.get('[data-test="picture-thumb"]').trigger('click')
    expect(viewerState.show).toBe(true)
    expect(viewerState.images).toEqual(['/api/files/f-1'])
    expect(viewerState.opener).toBe(block.get('[data-test="picture-thumb"]').element)
  })

  it('says why a picture failed in words, the server’s text in details, in Chinese', async () => {
    setLocale('zh-CN')
    const wrapper = await inspect([post(6, { picture: failed() }), post(7, { picture: failed({ reason: 'something_new', error: undefined }) })])
    const [timedOut, unknown] = wrapper.findAll('[data-test="decision-picture"]')
    expect(timedOut!.find('[data-test="picture-thumb"]').exists()).toBe(false)
    expect(timedOut!.find('img').exists()).toBe(false)
    expect(timedOut!.get('[data-test="picture-status"]').text()).toBe('失败：图像服务超时')
    expect(timedOut!.get('[data-test="picture-backend"]').text()).toBe('图像 API')
    expect(timedOut!.get('[data-test="picture-subject"]').text()).toBe('天空')
    expect(timedOut!.get('[data-test="picture-time"]').text()).toBe('生成 30,000 毫秒')
    const details = timedOut!.get('details[data-test="picture-error"]')
    expect(details.get('summary').text()).toBe('出错详情（服务器原文）')
    expect(details.get('p').text()).toBe('no picture from images-api within 30 s')
    // A reason this UI does not know is "another problem", never the code.
    expect(unknown!.get('[data-test="picture-status"]').text()).toBe('失败：其他问题')
    expect(unknown!.text()).not.toContain('something_new')
    expect(unknown!.find('details').exists()).toBe(false)
  })

  it('says while a picture is being made', async () => {
    const making = attached({ status: 'making', file_id: undefined, generate_ms: undefined, store_ms: undefined })
    const wrapper = await inspect([post(8, { picture: making })])
    const block = wrapper.get('[data-test="decision-picture"]')
    expect(block.get('[data-test="picture-status"]').text()).toBe('Being made…')
    expect(block.find('img').exists()).toBe(false)
    expect(block.find('[data-test="picture-time"]').exists()).toBe(false)
  })

  it('notes a photo description the privacy guard dropped, without what it would have repeated', async () => {
    const secret = 'private: 林小雨 owes 陈默 money'
    const dropped = post(9, { reason: 'share', detail: { privacy_guard_picture: secret } })
    const wrapper = await inspect([dropped])
    const decision = wrapper.get('[data-test="decision"]')
    expect(decision.get('[data-test="picture-dropped"]').text()).toBe(
      'Photo description dropped: it would repeat something private',
    )
    expect(decision.find('[data-test="decision-picture"]').exists()).toBe(false)
    expect(decision.text()).not.toContain(secret)

    setLocale('zh-CN')
    await flushPromises()
    expect(decision.get('[data-test="picture-dropped"]').text()).toBe('照片描述已删除：它会透露隐私内容')
  })

  it('marks posts with an attached picture in the action log, and no others', async () => {
    mockFetch([
      {
        path: '/api/sim/actions',
        reply: () => ({
          status: 200,
          body: {
            items: [post(3, { picture: attached() }), post(2, { picture: failed() }), post(1, {})],
            next_cursor: null,
          },
        }),
      },
    ])
    const wrapper = mount(ActionLog, { global: { plugins: [i18n] } })
    await flushPromises()
    const marks = wrapper.findAll('[data-test="log-item"]').map((item) => item.find('[data-test="log-picture"]'))
    expect(marks.map((mark) => mark.exists())).toEqual([true, false, false])
    expect(marks[0]!.attributes('role')).toBe('img')
    expect(marks[0]!.attributes('aria-label')).toBe('With a picture')
  })
})

describe('the console has words for every picture failure', () => {
  it('for every reason the simulator’s image backends and picture store give', () => {
    const pictures = resolve(process.cwd(), '../../simulator/aic_simulator/pictures')
    const raised = new Set<string>()
    for (const file of readdirSync(pictures).filter((name) => name.endsWith('.py'))) {
      const source = readFileSync(resolve(pictures, file), 'utf8')
      for (const [, reason] of source.matchAll(/PictureFailed\(\s*"(\w+)"/g)) raised.add(reason!)
      for (const [, reason] of source.matchAll(/"reason": "(\w+)"/g)) raised.add(reason!)
    }
    expect(raised.size).toBeGreaterThan(5)
    expect([...raised].filter((reason) => !(PICTURE_FAILURES as readonly string[]).includes(reason))).toEqual([])
    for (const locale of LOCALES) {
      const keys = [...PICTURE_FAILURES, 'other'].map((reason) => `operator.picture.failure.${reason}`)
      expect(keys.filter((key) => !i18n.global.te(key, locale)), locale).toEqual([])
    }
  })
})

describe('an AI character’s post with pictures in the feed', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('renders its pictures exactly as a person’s', async () => {
    const images = ['f1', 'f2'].map((id) => ({ id, url: `/api/files/${id}`, thumbnail_url: `/api/files/${id}/thumbnail` }))
    const person = { id: 'u1', username: 'alice', display_name: 'Alice', avatar_url: null, is_ai: false }
    const character = { ...person, is_ai: true }
    const picturesOf = async (author: typeof person, shown: typeof images) => {
      const { wrapper } = await mountWithApp(PostCard, { post: makePost('p', { author, images: shown }) as Post })
      return wrapper.findAll('[data-test="thumb"]').map((thumb) => thumb.html())
    }
    for (const shown of [images.slice(0, 1), images]) {
      const ofCharacter = await picturesOf(character, shown)
      expect(ofCharacter).toHaveLength(shown.length)
      expect(ofCharacter).toEqual(await picturesOf(person, shown))
    }
  })
})
