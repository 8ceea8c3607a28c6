// A character's repost in the World page's activity lines and in the operator console's log.
import { afterEach, describe, expect, it } from 'vitest'
import { resultWords, reasonWords } from '@/components/operator/describe'
import { actionName, describeAction, describeDoing } from '@/components/world/format'
import { i18n, setLocale } from '@/i18n'
import type { TickerEntry } from '@/stores/sim'
import { makeAction, makeAgent } from './simFixtures'

const t = (key: string, values?: Record<string, unknown>) => i18n.global.t(key, values ?? {})
const lin = makeAgent('lin', { display_name: '林小雨' })
const directory = { agentsById: new Map([['lin', lin]]), placesById: new Map() }

function repost(overrides: Partial<TickerEntry> = {}): TickerEntry {
  return {
    id: '7',
    agentId: 'lin',
    action: 'repost',
    simTime: '2026-06-01T08:00:00Z',
    locationId: 'cafe',
    text: '值得一看。',
    target: '42',
    targetName: 'Emma',
    ...overrides,
  }
}

afterEach(() => setLocale('en'))

describe('a repost in the activity lines', () => {
  it('says who reposted whose post, with the quote, in English', () => {
    setLocale('en')
    expect(describeAction(repost({ text: 'Worth a read.' }), directory, t, 'en')).toBe(
      '林小雨 reposted Emma’s post: “Worth a read.”',
    )
    expect(describeAction(repost({ text: null }), directory, t, 'en')).toBe('林小雨 reposted Emma’s post')
    // A live event does not say whose post it was.
    expect(describeAction(repost({ targetName: null, text: null }), directory, t, 'en')).toBe('林小雨 reposted a post')
    expect(actionName('repost', t)).toBe('Repost')
    expect(describeDoing('repost', t)).toBe('Reposting a post')
  })

  it('and in Chinese, with no English word in it', () => {
    setLocale('zh-CN')
    const line = describeAction(repost(), directory, t, 'zh-CN')
    expect(line).toBe('林小雨 转发了 Emma 的动态：“值得一看。”')
    expect(describeAction(repost({ targetName: null }), directory, t, 'zh-CN')).toBe('林小雨 转发了一条动态：“值得一看。”')
    expect(describeAction(repost({ text: '' }), directory, t, 'zh-CN')).toBe('林小雨 转发了 Emma 的动态')
    expect(actionName('repost', t)).toBe('转发')
    expect(line).not.toMatch(/repost/i)
  })
})

describe('a repost in the console', () => {
  it('words social’s answer and the rules’ reason in the reader’s language', () => {
    setLocale('zh-CN')
    const applied = makeAction(1, { action: 'repost', result_kind: 'applied', result_detail: 'post.reposted' })
    expect(resultWords(applied, t)?.text).toBe('已转发')
    const refused = makeAction(2, { action: 'repost', result_kind: 'rejected', result_detail: 'already_reposted' })
    expect(resultWords(refused, t)?.text).toBe('被拒绝：已经转发过')
    const why = makeAction(3, { action: 'repost', reason_code: 'repost', trace: { reason: 'pass on a post I like' } as never })
    expect(reasonWords(why, t)?.text).toBe('转发一条喜欢的动态')
    setLocale('en')
    expect(resultWords(applied, t)?.text).toBe('Reposted')
    expect(reasonWords(why, t)?.text).toBe('Pass on a post I like')
  })
})
