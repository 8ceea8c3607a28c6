// Simulator API bodies for the world and operator tests, shaped like the real answers.
import type {
  ActionView,
  AgentDetail,
  AgentSummary,
  GameEvent,
  LocationView,
  SimStatus,
  SocietyReport,
  WorldView,
} from '@/api/sim'
import type { LiveEvent } from '@/api/types'

export function makeAgent(id: string, overrides: Partial<AgentSummary> = {}): AgentSummary {
  return {
    id,
    username: `ai_${id}`,
    display_name: id.toUpperCase(),
    user_id: `user-${id}`,
    location_id: 'cafe',
    current_action: null,
    energy: 0.8,
    sociability: 0.5,
    mood: 0.2,
    summary: `${id} 的简介`,
    summary_en: `About ${id}`,
    ...overrides,
  }
}

export function makePlace(id: string, agents: AgentSummary[] = [], overrides: Partial<LocationView> = {}): LocationView {
  return {
    id,
    name: `${id}-中文`,
    name_en: `${id[0]!.toUpperCase()}${id.slice(1)}`,
    kind: id,
    x: 50,
    y: 50,
    capacity: 20,
    open_now: true,
    agents,
    ...overrides,
  }
}

export function makeEvent(id: string, overrides: Partial<GameEvent> = {}): GameEvent {
  return {
    id,
    title: `Event ${id}`,
    description: '',
    location_id: 'cafe',
    starts_at: '2026-06-01T09:00:00Z',
    ends_at: '2026-06-01T11:00:00Z',
    source: 'world',
    active: false,
    ...overrides,
  }
}

export function makeAction(decision: number, overrides: Partial<ActionView> = {}): ActionView {
  return {
    id: String(decision),
    decision,
    step: decision,
    agent_id: 'lin',
    sim_time: '2026-06-01T08:00:00Z',
    ends_at: '2026-06-01T08:10:00Z',
    action: 'rest',
    target: null,
    content: null,
    location_id: 'cafe',
    tier: 'rule',
    fallback_reason: null,
    trace: { reason: 'tired', latency_ms: 0.1, tokens: 0, options_considered: ['rest'] },
    outcome: 'started',
    result: null,
    ...overrides,
  }
}

export function makeStatus(overrides: Partial<SimStatus> = {}): SimStatus {
  return {
    state: 'running',
    is_leader: true,
    leader: 'simulator-1',
    sim_time: '2026-06-01T08:00:00',
    speed: 60,
    seed: 7,
    steps: 10,
    decisions: 12,
    agents: 2,
    agents_with_accounts: 2,
    actions_per_minute: 12,
    decision_latency_ms_p50: 0.1,
    decision_latency_ms_p95: 0.2,
    policy: 'llm>rule',
    llm_latency_ms_p50: 850,
    llm_latency_ms_p95: 2400,
    decisions_by_tier: { llm: 9, rule: 3 },
    fallbacks: 3,
    ...overrides,
  }
}

export function makeDetail(agent: AgentSummary, overrides: Partial<AgentDetail> = {}): AgentDetail {
  return {
    ...agent,
    persona: { summary: agent.summary, summary_en: agent.summary_en, occupation: 'barista', traits: ['kind'] },
    home_id: 'home',
    inventory: [],
    relationships: [],
    memories: [],
    recent_actions: [],
    ...overrides,
  }
}

/** A day of the town as GET /api/sim/report tells it: every goal met. */
export function makeReport(overrides: Partial<SocietyReport> = {}): SocietyReport {
  return {
    window: { since: '2026-06-01T07:00:00', until: '2026-06-02T07:00:00', sim_hours: 24 },
    decisions: 1234,
    decisions_by_kind: { browse: 300, post: 80, reply: 40, talk: 30, sleep: 10, unfollow: 0 },
    ai_messages: {
      count: 120,
      share_of_decisions: 0.097,
      in_sleep_hours: 0,
      busiest_pair: { a: '林小雨', b: '陈默', messages: 14 },
      longest_exchange: { a: '林小雨', b: '陈默', turns: 6, conversation: 'c-12' },
    },
    texts: {
      all: { count: 900, distinct: 0.86, distinct_masked: 0.61 },
      by_kind: { post: { count: 80, distinct: 0.95, distinct_masked: 0.8 }, say: {} },
    },
    contradictions: { count: 0, examples: [] },
    questions: { count: 20, answered: 20, answered_within_30s: 20, on_topic: 15, on_topic_share: 0.75 },
    nested_reflections: 0,
    private_leaks: { count: 0, examples: [] },
    goals: [
      { name: 'AI-to-AI messages share of decisions', value: 0.097, target: '<= 0.25', met: true },
      { name: 'most messages between one pair', value: 14, target: '<= 24', met: true },
      { name: 'AI-to-AI messages in sleep hours', value: 0, target: '0', met: true },
      { name: 'distinct texts', value: 0.86, target: '>= 0.80', met: true },
      { name: 'distinct texts after masking', value: 0.61, target: '>= 0.50', met: true },
      { name: 'posts contradicting the world', value: 0, target: '0', met: true },
      { name: 'private-content leaks', value: 0, target: '0', met: true },
      { name: 'nested reflections', value: 0, target: '0', met: true },
      { name: 'questions answered on topic', value: 0.75, target: '>= 0.60', met: true },
    ],
    ...overrides,
  }
}

/** Two characters at the café, one at the park; the clock at 08:00. */
export function makeWorld(): WorldView {
  return {
    sim_time: '2026-06-01T08:00:00Z',
    locations: [
      makePlace('cafe', [makeAgent('lin'), makeAgent('chen', { current_action: 'talk' })], { x: 40, y: 40 }),
      makePlace('park', [makeAgent('emma', { location_id: 'park', current_action: 'rest' })], { x: 70, y: 20 }),
      makePlace('bar', [], { x: 60, y: 60, open_now: false }),
    ],
    events: [],
  }
}

export function liveEvent<D extends object>(type: string, id: string, data: D): LiveEvent {
  return { type, id, occurred_at: '2026-11-28T00:00:00Z', data: data as unknown as Record<string, unknown> }
}

export function actionStarted(actionId: string, agentId: string, action: string, extra: Record<string, unknown> = {}) {
  return liveEvent('sim.action.started', `evt-${actionId}`, {
    action_id: actionId,
    agent_id: agentId,
    user_id: `user-${agentId}`,
    action,
    sim_time: '2026-06-01T08:05:00',
    location_id: 'cafe',
    summary: '',
    ...extra,
  })
}
