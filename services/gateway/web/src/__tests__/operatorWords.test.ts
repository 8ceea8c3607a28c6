/// <reference types="node" />
// The console words every internal name of the simulator in both languages: kinds of action, policy
// tiers, fallback kinds, results, targets and the rules' reasons. The lists are checked against the
// simulator's own source, so a new kind there without words here fails.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  ACTION_KINDS,
  FALLBACK_KINDS,
  POLICY_TIERS,
  RULE_REASONS,
  TARGET_KINDS,
  type ActionView,
} from '@/api/sim'
import ActionLog from '@/components/operator/ActionLog.vue'
import AgentInspector from '@/components/operator/AgentInspector.vue'
import {
  fallbackReasons,
  MEMORY_KINDS,
  reasonWords,
  REFUSAL_CODES,
  resultWords,
  targetText,
  tierName,
} from '@/components/operator/describe'
import { i18n, LOCALES, setLocale, type AppLocale } from '@/i18n'
import { useSimStore } from '@/stores/sim'
import { mockFetch } from './helpers'
import { makeAction, makeAgent, makeDetail, makePlace } from './simFixtures'

const SIMULATOR = resolve(process.cwd(), '../../simulator/aic_simulator')

function pythonSource(file: string): string {
  return readFileSync(resolve(SIMULATOR, file), 'utf8')
}

/** The member names of a Python enum class (`name = "value"` lines up to the next blank line pair). */
function enumMembers(file: string, className: string): string[] {
  const source = pythonSource(file)
  const start = source.indexOf(`class ${className}(`)
  expect(start, `${className} in ${file}`).toBeGreaterThanOrEqual(0)
  const body = source.slice(start).split(/\n(?=\S)/)[0]!
  return [...body.matchAll(/^ {4}(\w+) = "/gm)].map(([, name]) => name!)
}

const t = (key: string, values?: Record<string, unknown>) => i18n.global.t(key, values ?? {})

function missingIn(locale: AppLocale, keys: string[]): string[] {
  return keys.filter((key) => !i18n.global.te(key, locale))
}

describe('the console has words for every internal name', () => {
  it('for every kind of action the simulator has (policy.ActionKind)', () => {
    const kinds = enumMembers('policy.py', 'ActionKind')
    expect(kinds.length).toBeGreaterThan(10)
    expect([...ACTION_KINDS].sort()).toEqual([...kinds].sort())
    for (const locale of LOCALES) {
      const keys = kinds.flatMap((kind) => [`world.action.${kind}`, `world.doing.${kind}`])
      expect(missingIn(locale, keys), locale).toEqual([])
    }
  })

  it('for every reason the rules give (rules.Why)', () => {
    const reasons = enumMembers('rules.py', 'Why')
    expect([...RULE_REASONS].sort()).toEqual([...reasons].sort())
    for (const locale of LOCALES) {
      expect(missingIn(locale, [...reasons.map((code) => `operator.reason.${code}`), 'operator.reason.planUnknown']), locale).toEqual([])
    }
  })

  it('for every kind of fallback (metrics.fallback_kind) and every tier', () => {
    const source = pythonSource('metrics.py')
    const fallbackFunction = source.slice(source.indexOf('FALLBACK_KINDS = ('), source.indexOf('class DecisionCounts'))
    const kinds = new Set([
      ...[...fallbackFunction.matchAll(/\("[^"]+", "(\w+)"\)/g)].map(([, kind]) => kind!),
      ...[...fallbackFunction.matchAll(/return "(\w+)"/g)].map(([, kind]) => kind!),
      'cancelled', // status counts the calls the tier's deadline or a stop ended
    ])
    expect(kinds.size).toBeGreaterThan(8)
    expect([...FALLBACK_KINDS].sort()).toEqual([...kinds].sort())
    expect(pythonSource('rules.py')).toMatch(/name = "rule"/)
    expect(pythonSource('llm.py')).toMatch(/name = "llm"/)
    for (const locale of LOCALES) {
      const keys = [
        ...[...kinds].map((kind) => `operator.fallbackKind.${kind}`),
        ...[...POLICY_TIERS, 'other'].map((tier) => `operator.tier.${tier}`),
      ]
      expect(missingIn(locale, keys), locale).toEqual([])
    }
  })

  it('for every kind of target (schemas.TargetKind), results, memories and outcomes', () => {
    expect([...TARGET_KINDS].sort()).toEqual(enumMembers('schemas.py', 'TargetKind').sort())
    for (const locale of LOCALES) {
      const keys = [
        ...TARGET_KINDS.flatMap((kind) => [`operator.target.${kind}`, `operator.targetUnknown.${kind}`]),
        ...[...REFUSAL_CODES, 'other'].map((code) => `operator.result.refused.${code}`),
        ...['posted', 'commented', 'liked', 'followed', 'unfollowed', 'sent', 'done'].map((word) => `operator.result.applied.${word}`),
        'operator.result.pending',
        ...[...MEMORY_KINDS, 'other'].map((kind) => `operator.memoryKind.${kind}`),
        'operator.outcome.started',
        'operator.outcome.finished',
      ]
      expect(missingIn(locale, keys), locale).toEqual([])
    }
  })
})

describe('how the console words an action', () => {
  beforeEach(() => setLocale('zh-CN'))

  it('results: known events and codes by name, anything else generically, never raw', () => {
    const result = (overrides: Partial<ActionView>) => resultWords(makeAction(1, overrides), t)
    expect(result({ result_kind: 'applied', result_detail: 'message.sent' })).toEqual({ kind: 'applied', text: '已发送' })
    expect(result({ result_kind: 'applied', result_detail: 'post.deleted' })?.text).toBe('已完成')
    expect(result({ result_kind: 'rejected', result_detail: 'already_liked' })?.text).toBe('被拒绝：已经点过赞')
    expect(result({ result_kind: 'rejected', result_detail: 'comment_too_long' })?.text).toBe('被拒绝')
    expect(result({ result_kind: 'pending' })?.text).toBe('等待社交网络处理')
    expect(result({ result: null })).toBeNull()
    // An older simulator gives only the text.
    expect(result({ result: 'applied: post.created' })).toEqual({ kind: 'applied', text: '已发布' })
    expect(result({ result: 'rejected: not_found' })).toEqual({ kind: 'rejected', text: '被拒绝：对象已不存在' })
  })

  it('targets by name in the reader’s language, a kind when the name is unknown, never an id', () => {
    const target = (overrides: Partial<ActionView>, locale = 'zh-CN') => targetText(makeAction(1, overrides), t, locale)
    const cafe = { target: 'cafe', target_kind: 'place', target_name: '拾光咖啡馆', target_name_en: 'Moments Café' } as const
    expect(target(cafe)).toBe('地点：拾光咖啡馆')
    setLocale('en')
    expect(target(cafe, 'en')).toBe('Place: Moments Café')
    setLocale('zh-CN')
    expect(target({ target: '11', target_kind: 'post', target_name: '陈默' })).toBe('陈默 的帖子')
    expect(target({ target: '11', target_kind: 'post', target_name: null })).toBe('一条帖子')
    expect(target({ target: 'm-11', target_kind: 'person', target_name: '小访客' })).toBe('对象：小访客')
    expect(target({ target: '咖啡', target_kind: 'query', target_name: '咖啡' })).toBe('搜索：“咖啡”')
    expect(target({ target: '11' }), 'an older simulator: no kind, no bare id').toBe('')
  })

  it('the rules’ reasons translated; text without a code as written, marked English; an LLM’s as its own words', () => {
    const reason = (overrides: Partial<ActionView>) => reasonWords(makeAction(1, overrides), t)
    expect(reason({ reason_code: 'answer_first', trace: { reason: 'someone wrote to me: answer first' } })).toEqual({
      source: 'translated',
      text: '有人给我发了消息，先回复',
    })
    expect(reason({ reason_code: 'plan', trace: { reason: 'my plan: 在咖啡馆上班', plan: '在咖啡馆上班' } })?.text).toBe(
      '按今天的计划：在咖啡馆上班',
    )
    expect(reason({ reason_code: 'plan', trace: { reason: 'my plan: x' } })?.text).toBe('按今天的计划')
    expect(reason({ tier: 'rule', reason_code: null, trace: { reason: 'an old text' } })).toEqual({
      source: 'rules',
      text: 'an old text',
      lang: 'en',
    })
    expect(reason({ tier: 'llm', trace: { reason: '想喝杯咖啡' } })).toEqual({ source: 'character', text: '想喝杯咖啡' })
    expect(reason({ trace: {} })).toBeNull()
  })

  it('tiers and fallbacks by name', () => {
    expect(tierName('llm', t)).toBe('大模型')
    expect(tierName('rule', t)).toBe('规则')
    expect(tierName('oracle', t)).toBe('其他')
    const failed = makeAction(1, {
      fallback_reason: 'llm: HTTP 503 after 3 attempts; x: ?',
      fallbacks: [
        { tier: 'llm', kind: 'http_error' },
        { tier: 'llm', kind: 'something_new' },
      ],
    })
    expect(fallbackReasons(failed, t)).toBe('大模型（服务端报错）；大模型（其他原因）')
    expect(fallbackReasons(makeAction(2, { fallback_reason: 'llm: timeout after 10.0s' }), t)).toBe('上一层未能决定')
    expect(fallbackReasons(makeAction(3), t)).toBe('')
  })
})

// What the Chinese console must not show: the simulator's own names (anything in ASCII letters but the
// few words the Chinese texts use on purpose).
const ALLOWED_LATIN = new Set(['token', 'Token', 'AI', 'LIN'])
function latinWords(text: string): string[] {
  return (text.match(/[A-Za-z_][A-Za-z_.]*/g) ?? []).filter((word) => !ALLOWED_LATIN.has(word))
}

/** One log entry per kind of action, tier, result, target and reason, as the API gives them. */
function everyKindOfEntry(): ActionView[] {
  const results: Array<Partial<ActionView>> = [
    { result: 'applied: message.sent', result_kind: 'applied', result_detail: 'message.sent' },
    { result: 'rejected: already_liked', result_kind: 'rejected', result_detail: 'already_liked' },
    { result: 'rejected: something_new', result_kind: 'rejected', result_detail: 'something_new' },
    { result: 'applied: some.event', result_kind: 'applied', result_detail: 'some.event' },
    { result: null, result_kind: 'pending' },
  ]
  const targets: Array<Partial<ActionView>> = [
    { target: 'cafe', target_kind: 'place', target_name: '拾光咖啡馆', target_name_en: 'Moments Café' },
    { target: '11', target_kind: 'person', target_name: null },
    { target: '12', target_kind: 'post', target_name: '陈默' },
    { target: '7', target_kind: 'event', target_name: '早市' },
    { target: 'camera', target_kind: 'item', target_name: '旧胶片相机', target_name_en: 'Old film camera' },
    { target: '咖啡', target_kind: 'query', target_name: '咖啡' },
  ]
  return ACTION_KINDS.map((action, index) => {
    const code = RULE_REASONS[index % RULE_REASONS.length]!
    return makeAction(100 - index, {
      action,
      tier: POLICY_TIERS[index % POLICY_TIERS.length]!,
      reason_code: index % 2 ? code : null,
      trace: { reason: index % 2 ? 'the rules wrote this' : '角色自己的理由', plan: '上班' },
      fallback_reason: 'llm: timeout after 10.0s',
      fallbacks: [{ tier: 'llm', kind: FALLBACK_KINDS[index % FALLBACK_KINDS.length]! }],
      ...results[index % results.length],
      ...targets[index % targets.length],
    })
  })
}

describe('the Chinese console shows no internal names', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('zh-CN')
  })

  it('in the action log: actions, tiers, results, targets, reasons and fallbacks in words', async () => {
    const entries = everyKindOfEntry()
    mockFetch([{ path: '/api/sim/actions', reply: () => ({ status: 200, body: { items: entries, next_cursor: null } }) }])
    useSimStore().agents = [makeAgent('lin')]
    const wrapper = mount(ActionLog, { global: { plugins: [i18n] } })
    await flushPromises()
    const items = wrapper.findAll('[data-test="log-item"]')
    expect(items).toHaveLength(ACTION_KINDS.length)
    for (const item of items) {
      // The rules' English text is shown only as written, labelled, in an element marked English.
      const copy = item.element.cloneNode(true) as Element
      copy.querySelectorAll('[lang="en"]').forEach((english) => english.remove())
      expect(latinWords(copy.textContent ?? ''), item.text()).toEqual([])
    }
    const first = items[0]!
    expect(first.get('[data-test="log-action"]').text()).toBe('刷动态')
    expect(first.get('[data-test="log-tier"]').text()).toBe('大模型')
    expect(first.get('[data-test="log-result"]').text()).toBe('已发送')
    expect(first.get('[data-test="log-result"]').attributes('title')).toBe('applied: message.sent')
    expect(first.get('[data-test="log-target"]').text()).toBe('地点：拾光咖啡馆')
    expect(first.get('[data-test="log-reason"]').text()).toBe('理由（角色自述）：角色自己的理由')
    expect(first.get('[data-test="log-fallback"]').text()).toBe('降级：大模型（超时）')
    const second = items[1]!
    expect(second.get('[data-test="log-reason"]').text()).toBe(`理由：${t(`operator.reason.${RULE_REASONS[1]}`)}`)
    expect(second.get('[data-test="log-result"]').classes()).toContain('log__result--rejected')

    // The filters too.
    const options = (name: string) => wrapper.get(`[data-test="filter-${name}"]`).findAll('option').map((o) => o.text())
    expect(options('tier')).toEqual(['全部', '大模型', '规则'])
    expect(options('action').flatMap(latinWords)).toEqual([])
  })

  it('in the inspector: decisions and memories in words', async () => {
    const lin = makeAgent('lin', { display_name: '林小雨', summary: '咖啡师' })
    const detail = makeDetail(lin, {
      persona: { summary: '咖啡师', occupation: '咖啡师', traits: ['温和'] },
      memories: [{ seq: 1, sim_time: '2026-06-01T08:00:00', kind: 'reflection', content: '今天很开心', importance: 5 }],
      recent_actions: everyKindOfEntry().slice(0, 6),
    })
    mockFetch([{ path: '/api/sim/agents/lin', reply: () => ({ status: 200, body: detail }) }])
    const sim = useSimStore()
    sim.agents = [lin]
    sim.places = [makePlace('cafe', [], { name: '拾光咖啡馆' }), makePlace('home', [], { name: '家' })].map(
      ({ agents: _agents, ...place }) => place,
    )
    const wrapper = mount(AgentInspector, { global: { plugins: [i18n] } })
    await wrapper.get('.agent-chip').trigger('click')
    await flushPromises()
    const shown = wrapper.get('[data-test="agent-detail"]').element.cloneNode(true) as Element
    shown.querySelectorAll('[lang="en"], details').forEach((english) => english.remove()) // options: the prompt's own
    shown.querySelectorAll('.inspector__username').forEach((username) => username.remove())
    expect(latinWords(shown.textContent ?? '')).toEqual([])
    expect(wrapper.text()).toContain('反思')
    expect(wrapper.findAll('[data-test="decision"]')[0]!.text()).toContain('由大模型决定')
  })
})
