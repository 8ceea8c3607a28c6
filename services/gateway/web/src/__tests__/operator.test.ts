import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { nextTick } from 'vue'
import ActionLog from '@/components/operator/ActionLog.vue'
import AgentInspector from '@/components/operator/AgentInspector.vue'
import ControlPanel from '@/components/operator/ControlPanel.vue'
import EventForm from '@/components/operator/EventForm.vue'
import StatusPanel from '@/components/operator/StatusPanel.vue'
import EventList from '@/components/world/EventList.vue'
import { i18n, setLocale } from '@/i18n'
import { useSimStore } from '@/stores/sim'
import { mockFetch, type Route } from './helpers'
import { makeAction, makeAgent, makeDetail, makeEvent, makeStatus, makeWorld } from './simFixtures'

type Wrapper = ReturnType<typeof mount>

/** Roughly the accessible name: aria-label, else the text without what is hidden from screen readers. */
function accessibleName(element: Element): string {
  const label = element.getAttribute('aria-label')
  if (label) return label
  const copy = element.cloneNode(true) as Element
  copy.querySelectorAll('[aria-hidden="true"]').forEach((hidden) => hidden.remove())
  return (copy.textContent ?? '').replace(/\s+/g, ' ').trim()
}

function buttonNamed(wrapper: Wrapper, name: string) {
  const found = wrapper.findAll('button').filter((button) => accessibleName(button.element) === name)
  expect(found, `one button named ${name}`).toHaveLength(1)
  return found[0]!
}

function controlBodies(calls: Array<{ method: string; url: string; init: RequestInit }>) {
  return calls.filter((c) => c.url === '/api/sim/control').map((c) => JSON.parse(String(c.init.body)))
}

/** The simulator answers each command with the state it leads to; stepping while running is refused. */
function controlRoute(state: { now: string }): Route {
  return {
    method: 'POST',
    path: '/api/sim/control',
    reply: (init) => {
      const body = JSON.parse(String(init.body)) as { command: string; steps?: number; speed?: number }
      if (body.command === 'step' && state.now === 'running') {
        return { status: 409, body: { detail: 'Pause the simulation before stepping it', code: 'running' } }
      }
      const next: Record<string, string> = { pause: 'paused', resume: 'running', start: 'running', stop: 'stopped' }
      state.now = next[body.command] ?? state.now
      return { status: 200, body: makeStatus({ state: state.now as 'running', speed: body.speed ?? 60 }) }
    },
  }
}

describe('operator console', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('control buttons send the matching command and follow the state', async () => {
    const state = { now: 'running' }
    const { calls } = mockFetch([controlRoute(state)])
    const sim = useSimStore()
    sim.status = makeStatus({ state: 'running' })
    sim.runState = 'running'
    const wrapper = mount(ControlPanel, { global: { plugins: [i18n] } })

    for (const name of ['Pause', 'Stop', 'Step', 'Set speed']) buttonNamed(wrapper, name)
    expect(buttonNamed(wrapper, 'Step').attributes('disabled')).toBeDefined() // running: stepping is refused

    await buttonNamed(wrapper, 'Pause').trigger('click')
    await flushPromises()
    expect(sim.runState).toBe('paused')
    expect(buttonNamed(wrapper, 'Step').attributes('disabled')).toBeUndefined()

    const steps = wrapper.get('[data-test="steps"] input')
    expect(wrapper.get(`label[for="${steps.attributes('id')}"]`).text()).toBe('Steps')
    await steps.setValue('25')
    await wrapper.findAll('form')[0]!.trigger('submit')
    await flushPromises()

    const speed = wrapper.get('[data-test="speed"] input')
    await speed.setValue('600')
    await wrapper.findAll('form')[1]!.trigger('submit')
    await flushPromises()
    await buttonNamed(wrapper, 'Resume').trigger('click')
    await flushPromises()

    expect(controlBodies(calls)).toEqual([
      { command: 'pause' },
      { command: 'step', steps: 25 },
      { command: 'set_speed', speed: 600 },
      { command: 'resume' },
    ])
    expect(sim.runState).toBe('running')
  })

  it.each([
    // state, the main button, the other buttons of the row, Step enabled
    ['stopped', 'Start', [], true],
    [null, 'Start', [], true], // before the first status
    ['running', 'Pause', ['Stop'], false],
    ['paused', 'Resume', ['Stop'], true],
  ] as const)('when %s the main button is %s, Stop is set apart and Step offered when not running', (state, main, others, canStep) => {
    const sim = useSimStore()
    sim.runState = state
    const wrapper = mount(ControlPanel, { global: { plugins: [i18n] } })
    const row = wrapper.get('.control__buttons').findAll('button')
    expect(row.map((button) => accessibleName(button.element))).toEqual([main, ...others])
    expect(buttonNamed(wrapper, main).classes()).toContain('van-button--primary')
    for (const name of ['Start', 'Pause', 'Resume'].filter((name) => name !== main)) {
      expect(wrapper.findAll('button').some((button) => accessibleName(button.element) === name), name).toBe(false)
    }
    if (others.length) expect(buttonNamed(wrapper, 'Stop').classes()).toContain('van-button--danger')
    expect(buttonNamed(wrapper, 'Step').attributes('disabled') === undefined).toBe(canStep)
  })

  it('names the buttons in Chinese too', () => {
    setLocale('zh-CN')
    const sim = useSimStore()
    sim.runState = 'paused'
    const wrapper = mount(ControlPanel, { global: { plugins: [i18n] } })
    expect(wrapper.get('.control__buttons').findAll('button').map((b) => accessibleName(b.element))).toEqual(['继续', '停止'])
  })

  it.each([
    ['en', 'Stop the simulation?', 'Cancel', 'Stop'],
    ['zh-CN', '停止模拟？', '取消', '停止'],
  ] as const)('Stop asks first (%s): cancelled nothing is sent, confirmed it stops', async (locale, title, cancel, confirm) => {
    setLocale(locale)
    const state = { now: 'running' }
    const { calls } = mockFetch([controlRoute(state)])
    const sim = useSimStore()
    sim.runState = 'running'
    const wrapper = mount(ControlPanel, { global: { plugins: [i18n] }, attachTo: document.body })

    const dialog = async () => {
      await wrapper.get('[data-test="stop"]').trigger('click')
      await flushPromises()
      const shown = document.querySelector<HTMLElement>('.van-dialog[role="dialog"]:not([style*="display: none"])')
      expect(shown?.querySelector('.van-dialog__header')?.textContent).toBe(title)
      return shown!
    }

    const asked = await dialog()
    const cancelButton = asked.querySelector<HTMLButtonElement>('.van-dialog__cancel')!
    expect(accessibleName(cancelButton)).toBe(cancel)
    cancelButton.click()
    await flushPromises()
    expect(controlBodies(calls)).toEqual([])
    expect(sim.runState).toBe('running')

    const again = await dialog()
    const confirmButton = again.querySelector<HTMLButtonElement>('.van-dialog__confirm')!
    expect(accessibleName(confirmButton)).toBe(confirm)
    confirmButton.click()
    await flushPromises()
    expect(controlBodies(calls)).toEqual([{ command: 'stop' }])
    expect(sim.runState).toBe('stopped')
    expect(wrapper.find('[data-test="stop"]').exists()).toBe(false) // stopped: nothing left to stop
    expect(accessibleName(wrapper.get('.control__buttons button').element)).toBe(locale === 'en' ? 'Start' : '开始')
  })

  it('refuses a bad step count itself and shows the API refusal as a message', async () => {
    const state = { now: 'paused' }
    const { calls } = mockFetch([controlRoute(state)])
    const sim = useSimStore()
    sim.runState = 'paused'
    const wrapper = mount(ControlPanel, { global: { plugins: [i18n] } })

    await wrapper.get('[data-test="steps"] input').setValue('0')
    await wrapper.findAll('form')[0]!.trigger('submit')
    expect(wrapper.get('[role="alert"]').text()).toBe('Enter a whole number of steps from 1 to 10000.')
    expect(calls).toHaveLength(0)

    // The page thought it paused, but another operator resumed meanwhile: the API says no.
    state.now = 'running'
    await wrapper.get('[data-test="steps"] input').setValue('3')
    await wrapper.findAll('form')[0]!.trigger('submit')
    await flushPromises()
    expect(wrapper.get('[role="alert"]').text()).toBe('Pause the simulation before stepping it')
  })

  it('shows what the status API gives, LLM latency included', () => {
    setLocale('en')
    const wrapper = mount(StatusPanel, {
      props: { status: makeStatus({ actions_per_minute: 42, fallbacks: 3 }), live: true },
      global: { plugins: [i18n] },
    })
    expect(wrapper.get('[data-test="status-state"] dd').text()).toBe('Running')
    expect(wrapper.get('[data-test="status-apm"] dd').text()).toBe('42')
    expect(wrapper.get('[data-test="status-llm-latency"] dd').text()).toBe('850 ms / 2,400 ms')
    expect(wrapper.get('[data-test="status-fallbacks"] dd').text()).toBe('3')
    expect(wrapper.get('[data-test="status-tiers"] dd').text()).toBe('LLM: 9 · Rules: 3')
    expect(wrapper.get('[data-test="status-policy"] dd').text()).toBe('LLM → Rules')

    const rulesOnly = mount(StatusPanel, {
      props: { status: makeStatus({ llm_latency_ms_p50: null, llm_latency_ms_p95: null }), live: false },
      global: { plugins: [i18n] },
    })
    expect(rulesOnly.get('[data-test="status-llm-latency"] dd').text()).toBe('No LLM calls')
  })

  it("shows the image backend and how the characters' pictures went, or that they are off", async () => {
    setLocale('en')
    const pictures = { backend: 'comfyui', waiting: 2, attached: 1234, failed: { timeout: 3, bad_image: 1 } }
    const wrapper = mount(StatusPanel, { props: { status: makeStatus({ pictures }), live: true }, global: { plugins: [i18n] } })
    expect(wrapper.get('[data-test="status-pictures"] dd').text()).toBe('ComfyUI · 1,234 attached, 4 failed, 2 on their way')
    setLocale('zh-CN')
    await nextTick()
    expect(wrapper.get('[data-test="status-pictures"] dd').text()).toBe('ComfyUI · 已配 1,234 张，失败 4 张，进行中 2 张')
    setLocale('en')
    const off = mount(StatusPanel, { props: { status: makeStatus({ pictures: null }), live: true }, global: { plugins: [i18n] } })
    expect(off.get('[data-test="status-pictures"] dd').text()).toBe('Off: posts are text only')
  })

  it("shows the LLM tier's format, tokens against the budget and fallbacks by reason", async () => {
    const llm = {
      server: 'https://api.deepseek.com/v1',
      model: 'deepseek-chat',
      response_format: {
        setting: 'auto',
        using: 'json_object',
        settled: true,
        tried: { json_schema: 'HTTP 400: This response_format type is unavailable now', json_object: 'works' },
      },
      calls: 40,
      tokens_in: 22678,
      tokens_out: 3410,
      tokens_wasted: 120,
      tokens_today: 26088,
      daily_token_budget: 100000,
      character_daily_token_budget: 2000,
      characters_over_budget: 2,
      fallbacks: { budget: 3, queued: 1 },
      latency_ms_p50: 900,
      latency_ms_p95: 2100,
    }
    const wrapper = mount(StatusPanel, { props: { status: makeStatus({ llm }), live: true }, global: { plugins: [i18n] } })
    expect(wrapper.get('[data-test="status-llm-format"] dd').text()).toBe('json_object (after json_schema)')
    expect(wrapper.get('[data-test="status-llm-tokens"] dd').text()).toBe('22,678 in · 3,410 out · 120 wasted')
    expect(wrapper.get('[data-test="status-llm-today"] dd').text()).toBe(
      '26,088 of 100,000 · 2 characters over their own budget',
    )
    expect(wrapper.get('[data-test="status-llm-fallbacks"] dd').text()).toBe(
      'token budget spent: 3 · no free slot in time: 1',
    )
    setLocale('zh-CN')
    await nextTick()
    expect(wrapper.get('[data-test="status-llm-fallbacks"] dd').text()).toBe('token 预算用完: 3 · 排队超时: 1')
    setLocale('en')

    const settled = { ...llm.response_format, using: 'json_schema', tried: { json_schema: 'works' } }
    const quiet = { ...llm, response_format: settled, daily_token_budget: 0, characters_over_budget: 0, fallbacks: {} }
    const calm = mount(StatusPanel, {
      props: { status: makeStatus({ llm: quiet }), live: true },
      global: { plugins: [i18n] },
    })
    expect(calm.get('[data-test="status-llm-format"] dd').text()).toBe('json_schema')
    expect(calm.get('[data-test="status-llm-today"] dd').text()).toBe('26,088 (no daily budget)')
    expect(calm.get('[data-test="status-llm-fallbacks"] dd').text()).toBe('None')

    // The rules alone: no LLM rows at all.
    const rulesOnly = mount(StatusPanel, { props: { status: makeStatus({ llm: null }), live: true }, global: { plugins: [i18n] } })
    expect(rulesOnly.find('[data-test="status-llm-tokens"]').exists()).toBe(false)
  })

  it('inspector lists characters as buttons and shows the chosen one with its decisions and why', async () => {
    const lin = makeAgent('lin', { display_name: '林小雨' })
    const evil = '<img src=x onerror=alert(1)>'
    const detail = makeDetail(lin, {
      inventory: ['旧胶片相机'],
      memories: [{ seq: 3, sim_time: '2026-06-01T08:00:00', kind: 'conversation', content: evil, importance: 6 }],
      recent_actions: [
        makeAction(9, {
          action: 'post',
          content: '今天的咖啡很香',
          tier: 'rule',
          fallback_reason: 'llm: timeout after 10.0s',
          fallbacks: [{ tier: 'llm', kind: 'timeout' }],
          reason_code: 'share',
          trace: { reason: 'share what is happening', latency_ms: 10012.5, tokens: 0, options_considered: ['rest', 'write a post'] },
          result: 'applied: post.created',
          result_kind: 'applied',
          result_detail: 'post.created',
        }),
      ],
    })
    const { calls } = mockFetch([{ path: '/api/sim/agents/lin', reply: () => ({ status: 200, body: detail }) }])
    const sim = useSimStore()
    sim.agents = [lin, makeAgent('chen', { display_name: '陈默' })]
    const wrapper = mount(AgentInspector, { global: { plugins: [i18n] } })

    await buttonNamed(wrapper, '林小雨').trigger('click')
    await flushPromises()
    expect(calls.map((c) => c.url)).toEqual(['/api/sim/agents/lin'])
    expect(buttonNamed(wrapper, '林小雨').attributes('aria-pressed')).toBe('true')
    expect(wrapper.findAll('h4').map((h) => h.text())).toContain('Decisions')
    const decision = wrapper.get('[data-test="decision"]')
    expect(decision.text()).toContain('Decided by Rules')
    expect(decision.get('[data-test="decision-reason"]').text()).toBe('Share what is happening')
    expect(decision.get('[data-test="decision-fallback"]').text()).toBe('LLM (timeout)')
    expect(decision.get('[data-test="decision-result"]').text()).toBe('Posted')
    expect(decision.text()).toContain('Options considered (2)')
    expect(wrapper.text()).toContain('旧胶片相机')
    // Text from characters is text, never markup.
    expect(wrapper.text()).toContain(evil)
    expect(wrapper.find('[data-test="agent-detail"] img').exists()).toBe(false)
  })

  it('action log filters by character, kind and result, and pages on', async () => {
    const { calls } = mockFetch([
      {
        path: '/api/sim/actions',
        reply: () => {
          const query = new URL(calls[calls.length - 1]!.url, 'http://x').searchParams
          if (query.get('cursor') === 'c1') return { status: 200, body: { items: [makeAction(1)], next_cursor: null } }
          return { status: 200, body: { items: [makeAction(3), makeAction(2)], next_cursor: 'c1' } }
        },
      },
    ])
    const sim = useSimStore()
    sim.agents = makeWorld().locations.flatMap((place) => place.agents)
    const wrapper = mount(ActionLog, { global: { plugins: [i18n] } })
    await flushPromises()
    expect(wrapper.findAll('[data-test="log-item"]')).toHaveLength(2)

    await buttonNamed(wrapper, 'Load more').trigger('click')
    await flushPromises()
    expect(wrapper.findAll('[data-test="log-item"]')).toHaveLength(3)
    expect(wrapper.find('[data-test="load-more"]').exists()).toBe(false)

    await wrapper.get('[data-test="filter-agent"]').setValue('lin')
    await wrapper.get('[data-test="filter-action"]').setValue('post')
    await wrapper.get('[data-test="filter-result"]').setValue('rejected')
    await flushPromises()
    const last = new URL(calls[calls.length - 1]!.url, 'http://x').searchParams
    expect(Object.fromEntries(last)).toEqual({ agent_id: 'lin', action: 'post', result: 'rejected', limit: '30' })
    expect(wrapper.findAll('[data-test="log-item"]')).toHaveLength(2) // started over for the new filters
  })

  it('injects an event with what the form says, and shows the API refusal', async () => {
    const bodies: unknown[] = []
    let refuse = false
    mockFetch([
      {
        method: 'POST',
        path: '/api/sim/events',
        reply: (init) => {
          bodies.push(JSON.parse(String(init.body)))
          if (refuse) return { status: 422, body: { detail: 'No location moon', code: 'unknown_location' } }
          return { status: 201, body: { id: '77', title: '停电', description: '', location_id: 'cafe', starts_at: '2026-06-01T08:30:00Z', ends_at: '2026-06-01T09:00:00Z', source: 'admin', active: false } }
        },
      },
    ])
    const sim = useSimStore()
    sim.places = makeWorld().locations.map(({ agents: _agents, ...place }) => place)
    const wrapper = mount(EventForm, { global: { plugins: [i18n] } })

    await wrapper.get('form').trigger('submit')
    expect(wrapper.get('[role="alert"]').text()).toBe('Give the event a title.')
    expect(bodies).toHaveLength(0)

    await wrapper.get('[data-test="event-title"] input').setValue('停电')
    await wrapper.get('[data-test="event-location"]').setValue('cafe')
    await wrapper.get('[data-test="event-starts-in"] input').setValue('30')
    await wrapper.get('[data-test="event-duration"] input').setValue('30')
    await wrapper.get('input[name="effect_mood"]').setValue('-0.5')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(bodies[0]).toEqual({
      title: '停电',
      kind: 'gathering', // unless another kind is picked
      description: '',
      location_id: 'cafe',
      starts_in_minutes: 30,
      duration_minutes: 30,
      effects: { mood: -0.5 },
    })
    expect(sim.events.map((e) => e.id)).toEqual(['77'])
    expect((wrapper.get('[data-test="event-title"] input').element as HTMLInputElement).value).toBe('')

    refuse = true
    await wrapper.get('[data-test="event-title"] input').setValue('x')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(wrapper.get('[role="alert"]').text()).toBe('No location moon')
  })

  it('sends the picked kind of event, offered by name in the current language', async () => {
    const bodies: Array<Record<string, unknown>> = []
    mockFetch([
      {
        method: 'POST',
        path: '/api/sim/events',
        reply: (init) => {
          const body = JSON.parse(String(init.body)) as Record<string, unknown>
          bodies.push(body)
          return { status: 201, body: { ...body, id: '78', location_id: null, starts_at: '2026-06-01T08:00:00Z', ends_at: '2026-06-01T10:00:00Z', source: 'admin', active: true } }
        },
      },
    ])
    setLocale('zh-CN')
    const sim = useSimStore()
    const wrapper = mount(EventForm, { global: { plugins: [i18n] } })
    const kind = wrapper.get('[data-test="event-kind"]')
    expect(wrapper.get('label:has([data-test="event-kind"]) span').text()).toBe('类型')
    expect(kind.findAll('option').map((option) => [option.attributes('value'), option.text()])).toEqual([
      ['gathering', '聚会'],
      ['market', '集市'],
      ['show', '演出'],
      ['hazard', '险情'],
      ['announcement', '公告'],
    ])
    expect((kind.element as HTMLSelectElement).value).toBe('gathering')

    await wrapper.get('[data-test="event-title"] input').setValue('码头起火')
    await kind.setValue('hazard')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(bodies.map((body) => [body.title, body.kind])).toEqual([['码头起火', 'hazard']])
    expect(sim.events.map((event) => event.kind)).toEqual(['hazard'])
    expect((kind.element as HTMLSelectElement).value).toBe('gathering') // the form starts over
  })

  it('shows the kind of each event, a hazard set apart', () => {
    const wrapper = mount(EventList, {
      props: {
        current: [makeEvent('1', { kind: 'hazard', title: 'Fire at the pier' })],
        upcoming: [makeEvent('2', { kind: 'market' }), makeEvent('3', { kind: undefined })],
        placesById: new Map(),
      },
      global: { plugins: [i18n] },
    })
    const events = wrapper.findAll('[data-test="event"]')
    expect(events.map((event) => event.find('[data-test="event-kind"]').exists() && event.get('[data-test="event-kind"]').text())).toEqual([
      '⚠ Hazard',
      'Market',
      false, // a simulator without kinds
    ])
    expect(events[0]!.get('[data-test="event-kind"]').classes()).toContain('events__kind--hazard')
    expect(events[0]!.classes()).toContain('events__item--hazard')
    expect(events[1]!.get('[data-test="event-kind"]').classes()).not.toContain('events__kind--hazard')
  })

  it('says in the status panel when the town is catching up, and until when', () => {
    const catchingUp = mount(StatusPanel, {
      props: { status: makeStatus({ catching_up: true, catch_up_until: '2026-06-03T07:00:00' }), live: true },
      global: { plugins: [i18n] },
    })
    expect(accessibleName(catchingUp.get('[data-test="catch-up"]').element)).toBe(
      'The town is living its first days (until Wed, Jun 3, 07:00); the feed fills as it goes.',
    )
    expect(catchingUp.get('[data-test="status-catching-up"] dd').text()).toBe('Until Wed, Jun 3, 07:00')

    // An older simulator says nothing about catching up: it is not.
    const caughtUp = mount(StatusPanel, { props: { status: makeStatus(), live: true }, global: { plugins: [i18n] } })
    expect(caughtUp.find('[data-test="catch-up"]').exists()).toBe(false)
    expect(caughtUp.get('[data-test="status-catching-up"] dd').text()).toBe('No')
  })

  it('says in the status panel that this instance is on standby, with the state the leader last wrote', () => {
    const standby = { role: 'standby' as const, is_leader: false, leader: 'simulator-2', steps: 99 }
    const checkpointed = mount(StatusPanel, {
      props: { status: { ...standby, state: 'paused', sim_time: '2026-06-02T10:00:00' }, live: true },
      global: { plugins: [i18n] },
    })
    expect(checkpointed.get('[data-test="standby"]').text()).toBe('This instance is on standby; another one leads.')
    expect(checkpointed.get('[data-test="status-state"] dd').text()).toBe('Paused')
    expect(checkpointed.get('[data-test="status-steps"] dd').text()).toBe('99')

    // Before any leader wrote a checkpoint there is no state to show.
    const unknown = mount(StatusPanel, { props: { status: { ...standby, state: null }, live: true }, global: { plugins: [i18n] } })
    expect(unknown.get('[data-test="status-state"] dd').text()).toBe('–')

    const leading = mount(StatusPanel, { props: { status: makeStatus(), live: true }, global: { plugins: [i18n] } })
    expect(leading.find('[data-test="standby"]').exists()).toBe(false)
  })

  it('names a sleeping character asleep in the inspector', async () => {
    const lin = makeAgent('lin', { display_name: '林小雨', current_action: 'sleep' })
    mockFetch([{ path: '/api/sim/agents/lin', reply: () => ({ status: 200, body: makeDetail(lin) }) }])
    const sim = useSimStore()
    sim.agents = [lin]
    sim.places = makeWorld().locations.map(({ agents: _agents, ...place }) => place)
    const wrapper = mount(AgentInspector, { global: { plugins: [i18n] } })
    await buttonNamed(wrapper, '林小雨').trigger('click')
    await flushPromises()
    expect(wrapper.get('[data-test="inspector-location"]').text()).toBe('Cafe · Asleep')
    setLocale('zh-CN')
    await flushPromises()
    expect(wrapper.get('[data-test="inspector-location"]').text()).toBe('cafe-中文 · 睡觉中')
  })
})
