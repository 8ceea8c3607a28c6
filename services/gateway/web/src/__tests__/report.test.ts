import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { SocietyReport } from '@/api/sim'
import ReportPanel from '@/components/operator/ReportPanel.vue'
import { i18n, setLocale } from '@/i18n'
import { mockFetch } from './helpers'
import { makeReport } from './simFixtures'

type Reply = { status: number; body?: unknown }

/** GET /api/sim/report answering whatever `answer` holds at the time of the call. */
function reportRoute(answer: { next: Reply }) {
  return mockFetch([{ path: '/api/sim/report', reply: () => answer.next }])
}

async function renderPanel() {
  const wrapper = mount(ReportPanel, { global: { plugins: [i18n] } })
  await flushPromises()
  return wrapper
}

function goals(wrapper: ReturnType<typeof mount>) {
  return wrapper.findAll('[data-test="goal"]').map((goal) => ({
    mark: goal.get('[data-test="goal-mark"]').text(),
    state: ['met', 'unmet', 'unmeasured'].filter((state) => goal.classes(`report__goal--${state}`)),
    name: goal.get('.report__goal-name').text(),
    figures: goal.get('.report__goal-figures').text().replace(/\s+/g, ' '),
  }))
}

/** The report with one goal missed and a contradiction found. */
function troubledReport(): SocietyReport {
  const report = makeReport()
  report.goals[0] = { name: 'AI-to-AI messages share of decisions', value: 0.41, target: '<= 0.25', met: false }
  report.contradictions = {
    count: 1,
    examples: [
      {
        decision: 17,
        sim_time: '2026-06-01T09:30:00',
        agent: '林小雨',
        content: '<img src=x onerror=alert(1)> 码头好热闹',
        why: 'crowd words with nobody else at the harbor',
      },
    ],
  }
  return report
}

describe('society report panel', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('lists the goals with value, target and a met or not-met mark in words, not colour alone', async () => {
    reportRoute({ next: { status: 200, body: troubledReport() } })
    const wrapper = await renderPanel()

    expect(wrapper.get('[data-test="report-window"] dd').text()).toBe(
      'Mon, Jun 1, 07:00 – Tue, Jun 2, 07:00 (24 simulated hours)',
    )
    expect(wrapper.get('[data-test="report-decisions"] dd').text()).toBe('1,234')
    expect(wrapper.get('#operator-report-goals').text()).toContain('8 of 9 met')
    const listed = goals(wrapper)
    expect(listed).toHaveLength(9)
    expect(listed[0]).toEqual({
      mark: '✗ Not met',
      state: ['unmet'],
      name: 'AI-to-AI messages, share of decisions',
      figures: 'Value 0.41 · Target <= 0.25',
    })
    expect(listed[1]).toMatchObject({ mark: '✓ Met', state: ['met'] })
    expect(listed[1]).toMatchObject({ name: 'Most messages between one pair', figures: 'Value 14 · Target <= 24' })
    // The icon is decoration; the words carry the meaning for screen readers.
    expect(wrapper.get('[data-test="goal-mark"] [aria-hidden="true"]').text()).toBe('✗')
  })

  it('marks a goal with nothing to measure as no data, neither met nor missed', async () => {
    const report = makeReport()
    report.questions = { count: 0, answered: 0, answered_within_30s: 0, on_topic: 0, on_topic_share: null }
    report.goals[8] = { name: 'questions answered on topic', value: null, target: '>= 0.60', met: null }
    reportRoute({ next: { status: 200, body: report } })
    const wrapper = await renderPanel()
    expect(goals(wrapper)[8]).toEqual({
      mark: '– No data',
      state: ['unmeasured'],
      name: 'Questions answered on topic',
      figures: 'Value – · Target >= 0.60',
    })
    expect(wrapper.get('#operator-report-goals').text()).toContain('8 of 9 met')
    expect(wrapper.get('[data-test="report-questions-on-topic"] dd').text()).toBe('0 (–)')
  })

  it('shows decisions by kind, AI messages, texts, findings with their examples and questions', async () => {
    reportRoute({ next: { status: 200, body: troubledReport() } })
    const wrapper = await renderPanel()

    // Most frequent first, by name, kinds nobody chose left out.
    expect(wrapper.findAll('[data-test="report-kinds"] li').map((row) => row.findAll('span').map((cell) => cell.text()).filter(Boolean).join(' '))).toEqual([
      'Browse 300',
      'Post 80',
      'Reply 40',
      'Talk 30',
      'Sleep 10',
    ])
    expect(wrapper.get('[data-test="report-messages-share"] dd').text()).toBe('9.7%')
    expect(wrapper.get('[data-test="report-messages-pair"] dd').text()).toBe('林小雨 ↔ 陈默: 14 messages')
    expect(wrapper.get('[data-test="report-messages-exchange"] dd').text()).toBe('林小雨 ↔ 陈默: 6 turns')
    const texts = wrapper.findAll('[data-test="report-texts"] tbody tr').map((row) => row.findAll('th, td').map((cell) => cell.text()))
    expect(texts).toEqual([
      ['All texts', '900', '86%', '61%'],
      ['Post', '80', '95%', '80%'],
      ['Say', '–', '–', '–'],
    ])

    const contradictions = wrapper.get('[data-test="report-contradictions"]')
    expect(contradictions.get('strong').text()).toBe('1')
    const examples = contradictions.get('details')
    expect(examples.attributes('open')).toBeUndefined() // collapsed until asked for
    expect(examples.get('summary').text()).toBe('Show 1 example')
    expect(examples.text()).toContain('Decision 17 · 林小雨 · Mon, Jun 1, 09:30')
    expect(examples.text()).toContain('crowd words with nobody else at the harbor')
    // What characters wrote is text, never markup.
    expect(examples.text()).toContain('<img src=x onerror=alert(1)>')
    expect(examples.find('img').exists()).toBe(false)
    expect(wrapper.get('[data-test="report-leaks"]').find('details').exists()).toBe(false)

    expect(wrapper.get('[data-test="report-questions-on-topic"] dd').text()).toBe('15 (75%)')
  })

  it('says when the report is refused or unavailable, and loads it on Refresh', async () => {
    const answer = { next: { status: 403, body: { detail: 'Operators only', code: 'forbidden' } } as Reply }
    const { calls } = reportRoute(answer)
    const wrapper = await renderPanel()
    expect(wrapper.get('[role="alert"]').text()).toBe('Only operators can see the society report.')
    expect(wrapper.find('[data-test="goal"]').exists()).toBe(false)

    answer.next = { status: 503, body: { detail: 'down', code: 'service_unavailable' } }
    await wrapper.get('[data-test="report-refresh"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[role="alert"]').text()).toBe(
      'Could not load the report. The service is temporarily unavailable. Try again shortly.',
    )

    answer.next = { status: 200, body: makeReport() }
    await wrapper.get('[data-test="report-refresh"]').trigger('click')
    await flushPromises()
    expect(wrapper.find('[role="alert"]').exists()).toBe(false)
    expect(goals(wrapper).every((goal) => goal.mark === '✓ Met')).toBe(true)
    expect(calls.map((call) => call.url)).toEqual(['/api/sim/report', '/api/sim/report', '/api/sim/report'])
  })

  it('says so when nothing was decided in the window', async () => {
    reportRoute({ next: { status: 200, body: makeReport({ decisions: 0, decisions_by_kind: {} }) } })
    const wrapper = await renderPanel()
    expect(wrapper.get('[data-test="report-empty"]').text()).toBe('No decisions in this window yet.')
    expect(wrapper.find('[data-test="report-goals"]').exists()).toBe(false)
  })

  it('speaks Chinese, goal names included; names it does not know show as sent', async () => {
    setLocale('zh-CN')
    const report = troubledReport()
    report.goals.push({ name: 'a goal added later', value: 3, target: '<= 5', met: true })
    reportRoute({ next: { status: 200, body: report } })
    const wrapper = await renderPanel()
    const listed = goals(wrapper)
    expect(listed[0]).toMatchObject({ mark: '✗ 未达成', name: 'AI 之间私信占决策的比例', figures: '数值 0.41 · 目标值 <= 0.25' })
    expect(listed[1]!.mark).toBe('✓ 已达成')
    expect(listed[9]!.name).toBe('a goal added later')
    expect(wrapper.get('[data-test="report-window"] dd').text()).toContain('（模拟 24 小时）')
    expect(wrapper.findAll('[data-test="report-kinds"] li')[4]!.text()).toContain('睡觉')
  })
})
