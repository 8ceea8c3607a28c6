// The simulator's API (/api/sim/*) and the shapes of its live events; only the fields the UI reads.
import { api } from './client'

export type SimRunState = 'running' | 'paused' | 'stopped'
/** What a simulator instance does: the leader runs the simulation, a standby waits to take over. */
export type SimRole = 'leader' | 'standby'
export type SimCommand = 'start' | 'stop' | 'pause' | 'resume' | 'step' | 'set_speed' | 'status'

/** GET /api/sim/status. A standby instance gives the state, time and steps of the leader's last
 * checkpoint (state null before there is one) and who leads. */
export interface SimStatus {
  state: SimRunState | null
  /** Absent from older simulators: is_leader says the same. */
  role?: SimRole
  is_leader: boolean
  leader: string | null
  sim_time?: string
  speed?: number
  seed?: number
  steps?: number
  decisions?: number
  agents?: number
  agents_with_accounts?: number
  actions_per_minute?: number
  decision_latency_ms_p50?: number | null
  decision_latency_ms_p95?: number | null
  policy?: string
  llm_latency_ms_p50?: number | null
  llm_latency_ms_p95?: number | null
  decisions_by_tier?: Record<string, number>
  fallbacks?: number
  checkpoint?: { state: string; sim_time: string; steps: number } | null
  /** True while the town lives its first days as fast as it can (absent means false). */
  catching_up?: boolean
  /** The simulated time the catch-up runs to. */
  catch_up_until?: string | null
  /** The LLM tier (absent or null when the rules decide alone). */
  llm?: SimLlmStatus | null
  /** The image backend and its pictures since the leader started (absent or null: posts are text only). */
  pictures?: SimPicturesStatus | null
}

export interface SimPicturesStatus {
  backend: string
  waiting: number
  attached: number
  failed: Record<string, number>
}

/** What status says of the LLM tier: its server, the response format it negotiated, tokens, fallbacks. */
export interface SimLlmStatus {
  server: string
  model: string
  response_format: { setting: string; using: string; settled: boolean; tried: Record<string, string> }
  calls: number
  tokens_in: number
  tokens_out: number
  tokens_wasted: number
  tokens_today: number
  /** 0: no budget. */
  daily_token_budget: number
  character_daily_token_budget: number
  characters_over_budget: number
  /** Decisions the LLM could not make, by kind of reason (timeout, queued, budget, invalid_output...). */
  fallbacks: Record<string, number>
  latency_ms_p50: number | null
  latency_ms_p95: number | null
}

export interface ControlRequest {
  command: SimCommand
  steps?: number
  speed?: number
}

export interface AgentSummary {
  id: string
  username: string
  display_name: string
  /** The character's social account, once created (the profile link goes there). */
  user_id: string | null
  location_id: string
  current_action: string | null
  energy: number
  sociability: number
  mood: number
  summary: string
  summary_en: string
}

export interface LocationView {
  id: string
  name: string
  name_en: string
  kind: string
  /** Map position, 0-100 on both axes. */
  x: number
  y: number
  capacity: number
  open_now: boolean
  /** "中文 · English" in the default world; absent from older simulators. */
  description?: string
  agents: AgentSummary[]
}

/** What sort of event: it decides who comes and how the characters take it. */
export const EVENT_KINDS = ['gathering', 'market', 'show', 'hazard', 'announcement'] as const
export type EventKind = (typeof EVENT_KINDS)[number]

export interface GameEvent {
  id: string
  title: string
  /** One of EVENT_KINDS; absent from simulators that predate kinds. */
  kind?: string
  description: string
  location_id: string | null
  starts_at: string
  ends_at: string
  /** "world" (scheduled) or "admin" (injected). */
  source: string
  active: boolean
}

/** The world file's drawing aids, in the places' 0-100 coordinates. */
export interface WorldMapView {
  /** Footpaths, as [from place id, to place id]. */
  paths: Array<[string, string]>
  /** Lakes and sea: polygons of [x, y] points. */
  water: Array<Array<[number, number]>>
}

export interface WorldView {
  sim_time: string | null
  locations: LocationView[]
  events: GameEvent[]
  /** Null (or absent from older simulators) when the world file has no map: the UI derives paths. */
  map?: WorldMapView | null
}

export interface MemoryView {
  seq: number
  sim_time: string
  kind: string
  content: string
  importance: number
}

export interface DecisionTrace {
  /** "dm" for a line sent by direct message (private: its text is for operators only). */
  channel?: string
  reason?: string
  /** What the day's plan said the character was doing (the plan's language). */
  plan?: string
  latency_ms?: number
  tokens?: number
  memories_used?: number[]
  options_considered?: string[]
  /** Operators: `privacy_guard_picture` when the character's photo description was dropped because it
   * would repeat something private. */
  detail?: Record<string, unknown>
  /** A post with a picture: how making it went (absent from posts without one and older simulators). */
  picture?: PictureTrace
}

/** The image backends that make characters' pictures (the simulator's backend names). */
export const PICTURE_BACKENDS = ['builtin', 'comfyui', 'images-api'] as const
/** What a character's picture is of (the simulator's Moment.subject). */
export const PICTURE_SUBJECTS = ['place', 'event', 'item', 'food', 'sky'] as const
/** Why a picture could not be made or stored (the backends' and the studio's PictureFailed reasons). */
export const PICTURE_FAILURES = [
  'timeout',
  'unreachable',
  'bad_workflow',
  'execution_error',
  'bad_image',
  'no_image',
  'bad_request',
  'refused',
  'rate_limited',
  'server_error',
  'quota_exceeded',
  'rejected',
  'store_failed',
  'cancelled',
  'error',
] as const

/** A post's picture in the decision's trace: asked for, made and stored (its file), or failed and why. */
export interface PictureTrace {
  status: 'making' | 'attached' | 'failed'
  /** One of PICTURE_BACKENDS. */
  backend?: string
  /** What the picture shows, as the backend was asked (English for most models). */
  prompt: string
  seed: number
  /** One of PICTURE_SUBJECTS. */
  subject: string
  /** "1024x768". */
  size?: string
  generate_ms?: number
  store_ms?: number
  /** The stored picture (attached). */
  file_id?: string
  /** One of PICTURE_FAILURES (failed). */
  reason?: string
  /** What went wrong, as the backend said it (failed). */
  error?: string
}

/** The policy tiers that decide (the simulator's policy names). */
export const POLICY_TIERS = ['llm', 'rule'] as const

/** Why a tier could not decide, by kind (the simulator's metrics.fallback_kind, and status's cancelled). */
export const FALLBACK_KINDS = [
  'timeout',
  'queued',
  'budget',
  'invalid_output',
  'invalid_response',
  'http_error',
  'unreachable',
  'refused',
  'no_options',
  'not_recorded',
  'error',
  'cancelled',
  'other',
] as const

/** The reasons the rules give, by code (the simulator's rules.Why). */
export const RULE_REASONS = [
  'say_goodbye',
  'keep_talking',
  'answer_first',
  'end_conversation',
  'friend_wrote',
  'answer_comment',
  'night',
  'home_to_sleep',
  'hazard',
  'spread_news',
  'tired',
  'plan',
  'at_work',
  'event_here',
  'catch_up',
  'share',
  'talk',
  'wander',
  'like',
  'repost',
  'comment',
  'follow',
  'unfollow',
  'search',
  'reach_out',
  'pick_up',
  'use_item',
  'take_break',
  'join_event',
] as const

/** What an action's target is (the simulator's TargetKind). */
export const TARGET_KINDS = ['place', 'person', 'post', 'event', 'item', 'query'] as const
export type TargetKind = (typeof TARGET_KINDS)[number]

/** A tier above the deciding one that failed, and the kind of its failure (one of FALLBACK_KINDS). */
export interface FallbackView {
  tier: string
  kind: string
}

/** One decision of the action log. Non-operators get no trace and no private text. */
export interface ActionView {
  id: string
  decision: number
  step: number
  agent_id: string
  sim_time: string
  ends_at: string
  action: string
  target: string | null
  content: string | null
  location_id: string
  /** Which policy decided: "llm" or "rule". */
  tier: string
  /** Why the tiers above the deciding one did not decide. */
  fallback_reason: string | null
  trace: DecisionTrace
  outcome: string
  /** What social did with the command: "applied: post.created", "rejected: <code>", or null. */
  result: string | null
  /** The same, typed: pending until social answers, null when the action sent no command. */
  result_kind?: 'applied' | 'rejected' | 'pending' | null
  /** The event social answered with, or the code it refused with. */
  result_detail?: string | null
  /** What the target is, and its name (a place's or item's Chinese name, a post's author; null when
   * unknown) with the English name where it has one. Absent from older simulators. */
  target_kind?: TargetKind | null
  target_name?: string | null
  target_name_en?: string | null
  /** Operators: the code of a reason the rules wrote (RULE_REASONS), null for an LLM's own words. */
  reason_code?: string | null
  /** Operators: the tiers that failed before the deciding one, and why. */
  fallbacks?: FallbackView[]
}

export interface Relationship {
  other: string
  affinity: number
  interactions: number
  note: string
}

export interface AgentDetail extends AgentSummary {
  persona: Record<string, unknown>
  home_id: string
  inventory: string[]
  relationships: Relationship[]
  memories: MemoryView[]
  recent_actions: ActionView[]
}

export interface ActionPage {
  items: ActionView[]
  next_cursor: string | null
}

export type ActionResultFilter = 'applied' | 'rejected' | 'pending'

export interface ActionFilters {
  agent_id?: string
  action?: string
  tier?: string
  result?: ActionResultFilter | ''
}

export interface EventCreate {
  title: string
  kind?: EventKind
  description?: string
  location_id?: string | null
  starts_in_minutes?: number
  duration_minutes?: number
  effects?: Partial<Record<'mood' | 'energy' | 'sociability', number>>
}

// Live events (`data` of /api/stream frames). Times are simulated and carry no zone.
export interface SimClockAdvancedData {
  sim_time: string
  previous_sim_time: string
}

export interface SimActionStartedData {
  action_id: string
  agent_id: string
  user_id: string | null
  action: string
  sim_time: string
  location_id: string | null
  summary: string
}

export interface SimActionFinishedData {
  action_id: string
  agent_id: string
  user_id: string | null
  action: string
  sim_time: string
  outcome: string
}

export interface SimStateChangedData {
  state: SimRunState
  sim_time: string
  speed: number
}

/** Every kind of action a character can take (the simulator's ActionKind). */
export const ACTION_KINDS = [
  'browse',
  'post',
  'repost',
  'comment',
  'like',
  'follow',
  'message',
  'reply',
  'move',
  'talk',
  'pick_up',
  'use_item',
  'attend_event',
  'rest',
  'work',
  'say',
  'goodbye',
  'sleep',
  'unfollow',
  'search',
] as const

// GET /api/sim/report (operators): how the society behaved over a window of simulated time, with the
// goals it is held to.
export interface TextStats {
  count?: number
  /** Share of distinct texts, 0-1 (null without texts); "masked" after names, numbers and places are masked. */
  distinct?: number | null
  distinct_masked?: number | null
}

export interface ReportExample {
  decision: number
  agent: string
  sim_time?: string
  content?: string
  why: string
}

export interface ReportFindings {
  count: number
  examples: ReportExample[]
}

export interface ReportGoal {
  name: string
  /** null when the window holds nothing to measure (no texts, no questions...). */
  value: number | null
  /** How the value is judged, e.g. "<= 0.25". */
  target: string
  /** null when there was no value to judge. */
  met: boolean | null
}

export interface SocietyReport {
  window: { since: string; until: string; sim_hours: number }
  decisions: number
  decisions_by_kind: Record<string, number>
  ai_messages: {
    count: number
    share_of_decisions: number
    in_sleep_hours: number
    busiest_pair: { a: string; b: string; messages: number } | null
    longest_exchange: { a: string; b: string; turns: number; conversation: string } | null
  }
  texts: { all: TextStats; by_kind: Record<string, TextStats> }
  contradictions: ReportFindings
  questions: {
    count: number
    answered: number
    answered_within_30s: number
    on_topic: number
    on_topic_share: number | null
  }
  nested_reflections: number
  private_leaks: ReportFindings
  goals: ReportGoal[]
}

export const simApi = {
  status: () => api.get<SimStatus>('/sim/status'),
  control: (body: ControlRequest) => api.post<SimStatus>('/sim/control', body),
  world: () => api.get<WorldView>('/sim/world'),
  agents: () => api.get<AgentSummary[]>('/sim/agents'),
  agent: (id: string) => api.get<AgentDetail>(`/sim/agents/${encodeURIComponent(id)}`),
  actions: (filters: ActionFilters, cursor: string | null, limit = 30) =>
    api.get<ActionPage>('/sim/actions', { ...filters, cursor, limit }),
  events: () => api.get<GameEvent[]>('/sim/events'),
  createEvent: (body: EventCreate) => api.post<GameEvent>('/sim/events', body),
  report: () => api.get<SocietyReport>('/sim/report'),
}

/** Milliseconds of a simulated time. The simulator writes them with or without a "Z"; both mean UTC. */
export function simTimeMs(value: string): number {
  return Date.parse(/(Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`)
}
