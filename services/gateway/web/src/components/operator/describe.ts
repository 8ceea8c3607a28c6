// How the console words the simulator's internal names in the reader's language: policy tiers, why a
// tier fell back, what social did with a command, an action's target, the rules' reasons, memory kinds.
// A name this UI does not know is worded generically ("Done", "Refused", "Other"), never shown raw.
import {
  FALLBACK_KINDS,
  POLICY_TIERS,
  RULE_REASONS,
  TARGET_KINDS,
  type ActionResultFilter,
  type ActionView,
} from '@/api/sim'

type Translate = (key: string, values?: Record<string, unknown>) => string

const KNOWN_TIERS = new Set<string>(POLICY_TIERS)
const KNOWN_FALLBACKS = new Set<string>(FALLBACK_KINDS)
const KNOWN_REASONS = new Set<string>(RULE_REASONS)
const KNOWN_TARGETS = new Set<string>(TARGET_KINDS)

/** The events social answers a character's command with, by the word the console uses. */
const APPLIED_EVENTS: Record<string, string> = {
  'post.created': 'posted',
  'comment.created': 'commented',
  'post.liked': 'liked',
  'post.reposted': 'reposted',
  'user.followed': 'followed',
  'user.unfollowed': 'unfollowed',
  'message.sent': 'sent',
}
/** The codes social refuses a command with that the console words; any other is "Refused". */
export const REFUSAL_CODES = [
  'not_found',
  'already_liked',
  'already_reposted',
  'original_deleted',
  'already_following',
  'not_following',
  'self_follow',
  'self_message',
  'not_an_ai_account',
  'rate_limited',
] as const
const KNOWN_REFUSALS = new Set<string>(REFUSAL_CODES)

export const MEMORY_KINDS = ['observation', 'conversation', 'plan', 'reflection'] as const
const KNOWN_MEMORY_KINDS = new Set<string>(MEMORY_KINDS)
const KNOWN_OUTCOMES = new Set(['started', 'finished'])

/** "LLM", "Rules"… */
export function tierName(tier: string, t: Translate): string {
  return t(`operator.tier.${KNOWN_TIERS.has(tier) ? tier : 'other'}`)
}

/** The status's policy, "llm>rule", as "LLM → Rules". */
export function policyName(policy: string, t: Translate): string {
  return policy
    .split('>')
    .map((tier) => tierName(tier.trim(), t))
    .join(' → ')
}

/** Why a tier could not decide, by kind ("Timeout"). */
export function fallbackKindName(kind: string, t: Translate): string {
  return t(`operator.fallbackKind.${KNOWN_FALLBACKS.has(kind) ? kind : 'other'}`)
}

/** Why the tiers above the deciding one did not decide ("LLM (timeout)"), or '' when none failed. */
export function fallbackReasons(item: ActionView, t: Translate): string {
  const failed = item.fallbacks ?? []
  if (failed.length) {
    return failed
      .map((f) => t('operator.log.fallbackItem', { tier: tierName(f.tier, t), kind: fallbackKindName(f.kind, t) }))
      .join(t('operator.log.listSeparator'))
  }
  // An older simulator gives only the text: it is said that a tier failed, not why.
  return item.fallback_reason ? t('operator.log.fallbackUnknown') : ''
}

export interface ResultWords {
  kind: ActionResultFilter
  text: string
}

/** What social did with the command the action sent ("Posted", "Refused: liked already"); null if none. */
export function resultWords(item: ActionView, t: Translate): ResultWords | null {
  let kind = item.result_kind ?? null
  let detail = item.result_detail ?? null
  if (!kind && item.result) {
    // An older simulator: "applied: post.created", "rejected: <code>".
    const [first, ...rest] = item.result.split(':')
    kind = first === 'rejected' ? 'rejected' : 'applied'
    detail = rest.join(':').trim() || null
  }
  if (!kind) return null
  if (kind === 'pending') return { kind, text: t('operator.result.pending') }
  if (kind === 'rejected') {
    const code = detail && KNOWN_REFUSALS.has(detail) ? detail : 'other'
    return { kind, text: t(`operator.result.refused.${code}`) }
  }
  return { kind, text: t(`operator.result.applied.${(detail && APPLIED_EVENTS[detail]) || 'done'}`) }
}

/** Whom or what the action was for, by name ("To Moments Café"); '' when it has none or the
 * simulator does not say what it is (an id alone means nothing to a reader). */
export function targetText(item: ActionView, t: Translate, locale: string): string {
  const kind = item.target_kind
  if (!kind || !KNOWN_TARGETS.has(kind)) return ''
  const zh = locale.startsWith('zh')
  const name = zh ? item.target_name || item.target_name_en : item.target_name_en || item.target_name
  return name ? t(`operator.target.${kind}`, { name }) : t(`operator.targetUnknown.${kind}`)
}

export interface ReasonWords {
  /** Whose words the text is: translated from a rule's code, the rules' own (English), the character's. */
  source: 'translated' | 'rules' | 'character'
  text: string
  /** The text's language when it is known to differ from the page's (the rules write English). */
  lang?: string
}

/** Why the action was chosen: a rule's reason in the reader's language; a reason the UI has no words
 * for as it was written (the rules' own are English); an LLM's in the character's words. */
export function reasonWords(item: ActionView, t: Translate): ReasonWords | null {
  const code = item.reason_code
  if (code && KNOWN_REASONS.has(code)) {
    const plan = item.trace.plan
    const text = code === 'plan' && !plan ? t('operator.reason.planUnknown') : t(`operator.reason.${code}`, { plan })
    return { source: 'translated', text }
  }
  const written = item.trace.reason
  if (!written) return null
  return item.tier === 'rule' ? { source: 'rules', text: written, lang: 'en' } : { source: 'character', text: written }
}

/** "Observation", "Conversation"… */
export function memoryKindName(kind: string, t: Translate): string {
  return t(`operator.memoryKind.${KNOWN_MEMORY_KINDS.has(kind) ? kind : 'other'}`)
}

/** "Under way", "Done"; '' for an outcome this UI does not know. */
export function outcomeName(outcome: string, t: Translate): string {
  return KNOWN_OUTCOMES.has(outcome) ? t(`operator.outcome.${outcome}`) : ''
}
