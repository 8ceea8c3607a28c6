// How the world pages write simulated times, places and characters' actions in the current language.
import type { AgentSummary } from '@/api/sim'
import { ACTION_KINDS, EVENT_KINDS, simTimeMs } from '@/api/sim'
import type { Place, TickerEntry } from '@/stores/sim'
import { avatarColour } from '@/components/avatar'

type Translate = (key: string, values?: Record<string, unknown>) => string

// Simulated times are wall-clock readings of the town, not instants in the reader's time zone.
const TOWN_ZONE = 'UTC'

export function formatSimDateTime(value: string | null | undefined, locale: string): string {
  if (!value) return ''
  return new Intl.DateTimeFormat(locale, {
    timeZone: TOWN_ZONE,
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(simTimeMs(value))
}

export function formatSimClock(value: string | null | undefined, locale: string): string {
  if (!value) return ''
  return new Intl.DateTimeFormat(locale, {
    timeZone: TOWN_ZONE,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(simTimeMs(value))
}

// ------------------------------------------------------------------ one language at a time
// The one place that picks the reader's language of the world's bilingual texts.

const CJK = /[\u2e80-\u9fff\uf900-\ufaff]/
const HALVES = /\s*·\s*/

function readsChinese(locale: string): boolean {
  return locale.startsWith('zh')
}

/** The text in the reader's language of a Chinese and an English one; the other when one is empty. */
export function pickLanguage(zh: string | null | undefined, en: string | null | undefined, locale: string): string {
  return (readsChinese(locale) ? zh || en : en || zh) ?? ''
}

/**
 * A world text written "中文 · English" (titles, descriptions) in the reader's language only: the half
 * in Chinese script for Chinese, the other for English. A text not written so is shown as it is.
 */
export function inLanguage(text: string | null | undefined, locale: string): string {
  if (!text) return ''
  const halves = text.split(HALVES)
  if (halves.length < 2) return text
  const chinese = halves.filter((half) => CJK.test(half))
  const english = halves.filter((half) => !CJK.test(half))
  if (!chinese.length || !english.length) return text
  return (readsChinese(locale) ? chinese : english).join(' · ')
}

export function placeName(place: Place | undefined, locale: string): string {
  if (!place) return ''
  return pickLanguage(place.name, place.name_en, locale)
}

export function agentSummary(agent: AgentSummary, locale: string): string {
  return pickLanguage(agent.summary, agent.summary_en, locale)
}

export { avatarColour, initialOf } from '@/components/avatar'

/** A character's colour: that of its social account once it has one, so its posts show it too. */
export function characterColour(agent: Pick<AgentSummary, 'id' | 'user_id'>): string {
  return avatarColour(agent.user_id ?? agent.id)
}

const KNOWN_DOINGS = new Set<string>(ACTION_KINDS)

/** What a character is doing now, from its current action. */
export function describeDoing(action: string | null, t: Translate): string {
  if (!action) return t('world.doing.none')
  return KNOWN_DOINGS.has(action) ? t(`world.doing.${action}`) : t('world.doing.other', { action })
}

/** A kind of action by name ("Sleep"), or the kind itself when this UI does not know it. */
export function actionName(action: string, t: Translate): string {
  return KNOWN_DOINGS.has(action) ? t(`world.action.${action}`) : action
}

const KNOWN_EVENT_KINDS = new Set<string>(EVENT_KINDS)

/** The label of an event's kind; '' for an event without one, the kind itself for one this UI does not know. */
export function eventKindName(kind: string | undefined, t: Translate): string {
  if (!kind) return ''
  return KNOWN_EVENT_KINDS.has(kind) ? t(`world.eventKind.${kind}`) : kind
}

export interface Directory {
  agentsById: Map<string, AgentSummary>
  placesById: Map<string, Place>
}

/** One sentence for the activity ticker, per kind of action. */
export function describeAction(entry: TickerEntry, directory: Directory, t: Translate, locale: string): string {
  const name = directory.agentsById.get(entry.agentId)?.display_name ?? t('world.someone')
  const place = placeName(directory.placesById.get(entry.locationId ?? ''), locale) || t('world.somewhere')
  switch (entry.action) {
    case 'post':
    case 'comment':
      return entry.text
        ? t(`world.ticker.${entry.action}`, { name, text: entry.text })
        : t(`world.ticker.${entry.action}NoText`, { name })
    case 'repost': {
      // "X reposted Y's post": the author is named when the log says who wrote it.
      const author = entry.targetName
      const key = `world.ticker.${author ? 'repost' : 'repostSomeone'}${entry.text ? '' : 'NoText'}`
      return t(key, { name, author, text: entry.text })
    }
    case 'move':
      return t('world.ticker.move', { name, place })
    case 'attend_event':
      return t('world.ticker.attend_event', { name, place })
    case 'talk': {
      const other = directory.agentsById.get(entry.target ?? '')
      return other
        ? t('world.ticker.talk', { name, other: other.display_name })
        : t('world.ticker.talkSomeone', { name })
    }
    default:
      return KNOWN_DOINGS.has(entry.action)
        ? t(`world.ticker.${entry.action}`, { name })
        : t('world.ticker.other', { name, action: entry.action })
  }
}
