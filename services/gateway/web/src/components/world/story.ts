// The town's story as the World page tells it: a character's conversations, the day replayed from the
// action log, who is at an event, and links to the people and places an activity line names.
import type { ActionView, AgentSummary, GameEvent } from '@/api/sim'
import { simTimeMs } from '@/api/sim'
import type { TranscriptLine } from '@/api/simStory'
import type { TickerEntry } from '@/stores/sim'
import { describeAction, placeName, type Directory } from './format'

type Translate = (key: string, values?: Record<string, unknown>) => string

// ------------------------------------------------------------------ links

/** A character's social profile, once it has an account (the profile page takes the account id). */
export function profilePath(agent: Pick<AgentSummary, 'user_id'> | undefined): string | null {
  return agent?.user_id ? `/users/${encodeURIComponent(agent.user_id)}` : null
}

/** The World page opened on a place: the place is selected and shown. */
export function placePath(placeId: string): string {
  return `/world?place=${encodeURIComponent(placeId)}`
}

/** A piece of an activity line: plain text, or a name that links to a person or a place. */
export type LinePart =
  | { kind: 'text'; text: string }
  | { kind: 'person'; text: string; to: string | null; agentId: string }
  | { kind: 'place'; text: string; to: string; placeId: string }

// Names in a line are first written as markers, so that the translated sentence decides where they go
// (word order differs between languages); the markers are then replaced by links.
const MARK = '\u2063'
const markerPattern = new RegExp(`${MARK}([AP]):([^${MARK}]*)${MARK}`, 'g')

/** The activity line of `describeAction`, with the characters and the place it names as links. */
export function linkedAction(entry: TickerEntry, directory: Directory, t: Translate, locale: string): LinePart[] {
  const marked: Directory = {
    agentsById: new Map(
      [...directory.agentsById].map(([id, agent]) => [id, { ...agent, display_name: `${MARK}A:${id}${MARK}` }]),
    ),
    placesById: new Map(
      [...directory.placesById].map(([id, place]) => {
        const marker = `${MARK}P:${id}${MARK}`
        return [id, { ...place, name: marker, name_en: marker }]
      }),
    ),
  }
  const text = describeAction(entry, marked, t, locale)
  const parts: LinePart[] = []
  let last = 0
  for (const match of text.matchAll(markerPattern)) {
    if (match.index > last) parts.push({ kind: 'text', text: text.slice(last, match.index) })
    const [, kind, id] = match as unknown as [string, 'A' | 'P', string]
    if (kind === 'A') {
      const agent = directory.agentsById.get(id)
      parts.push({ kind: 'person', text: agent?.display_name ?? id, to: profilePath(agent), agentId: id })
    } else {
      const place = directory.placesById.get(id)
      parts.push({ kind: 'place', text: placeName(place, locale) || id, to: placePath(id), placeId: id })
    }
    last = match.index + match[0].length
  }
  if (last < text.length) parts.push({ kind: 'text', text: text.slice(last) })
  return parts
}

// ------------------------------------------------------------------ transcripts

export interface TranscriptConversation {
  id: string
  /** The character it was with. */
  otherId: string
  locationId: string
  startedAt: string
  /** Oldest first, as it was said. */
  lines: Array<{ id: string; speakerId: string; text: string; simTime: string; mine: boolean }>
}

/** A character's lines (newest first, as the API gives them) as its conversations, newest first, each
 * told in the order it was said. */
export function buildTranscript(agentId: string, lines: TranscriptLine[]): TranscriptConversation[] {
  const byId = new Map<string, TranscriptConversation>()
  const seen = new Set<string>()
  for (const line of [...lines].sort((a, b) => a.decision - b.decision)) {
    if (seen.has(line.id)) continue // pages may overlap while the town runs on
    seen.add(line.id)
    let conversation = byId.get(line.conversation_id)
    if (!conversation) {
      conversation = {
        id: line.conversation_id,
        otherId: line.speaker_id === agentId ? line.listener_id : line.speaker_id,
        locationId: line.location_id,
        startedAt: line.sim_time,
        lines: [],
      }
      byId.set(line.conversation_id, conversation)
    }
    conversation.lines.push({
      id: line.id,
      speakerId: line.speaker_id,
      text: line.text,
      simTime: line.sim_time,
      mine: line.speaker_id === agentId,
    })
  }
  return [...byId.values()].sort((a, b) => simTimeMs(b.startedAt) - simTimeMs(a.startedAt))
}

// ------------------------------------------------------------------ the day replayed

export const DAY_MS = 24 * 60 * 60 * 1000
/** Lines said this long before the scrubbed moment still show beside the map. */
export const LINES_SHOWN_MS = 20 * 60 * 1000
// Kinds of action that say a line aloud; the public log leaves out the text of private ones.
const SPOKEN = new Set(['talk', 'say', 'goodbye'])

/** The actions of the day to replay, oldest first, from pages of the log (newest first). */
export function dayActions(pages: ActionView[][], since: number): ActionView[] {
  const byDecision = new Map<number, ActionView>()
  for (const action of pages.flat()) {
    if (simTimeMs(action.sim_time) >= since) byDecision.set(action.decision, action)
  }
  return [...byDecision.values()].sort((a, b) => a.decision - b.decision)
}

/** Where a character is after an action: a move's destination when it is a place, else where it acted. */
function placeAfter(action: ActionView, placeIds: Set<string>): string {
  return action.action === 'move' && action.target && placeIds.has(action.target) ? action.target : action.location_id
}

/**
 * Where each character is at `at`, from the day's actions (oldest first): after its latest action by
 * then; before its first one, where it took that one (a move is logged at its start place); a character
 * with no action in the day stays where it is now.
 */
export function positionsAt(
  actions: ActionView[],
  at: number,
  agents: AgentSummary[],
  placeIds: Set<string>,
): Map<string, string> {
  const positions = new Map(agents.map((agent) => [agent.id, agent.location_id]))
  const placed = new Set<string>()
  for (const action of actions) {
    if (simTimeMs(action.sim_time) <= at) {
      positions.set(action.agent_id, placeAfter(action, placeIds))
      placed.add(action.agent_id)
    } else if (!placed.has(action.agent_id)) {
      positions.set(action.agent_id, action.location_id)
      placed.add(action.agent_id)
    }
  }
  return positions
}

/** The characters by place for the map, as they were at a moment of the replay. */
export function agentsByPlaceAt(agents: AgentSummary[], positions: Map<string, string>): Map<string, AgentSummary[]> {
  const byPlace = new Map<string, AgentSummary[]>()
  for (const agent of agents) {
    const placeId = positions.get(agent.id) ?? agent.location_id
    const moved = { ...agent, location_id: placeId }
    const here = byPlace.get(placeId)
    if (here) here.push(moved)
    else byPlace.set(placeId, [moved])
  }
  return byPlace
}

/** The lines said aloud in the LINES_SHOWN_MS up to `at`, newest first. */
export function linesAt(actions: ActionView[], at: number): ActionView[] {
  return actions
    .filter((action) => {
      const when = simTimeMs(action.sim_time)
      return SPOKEN.has(action.action) && !!action.content && when <= at && when > at - LINES_SHOWN_MS
    })
    .reverse()
}

// ------------------------------------------------------------------ events

/**
 * Who is at an event: for one going on now, the characters at its place; for any, those whose log says
 * they went to it (attend_event names the event). Nobody for an event everywhere that no one joined.
 */
export function eventAttendees(
  event: GameEvent,
  agents: AgentSummary[],
  actions: Array<Pick<ActionView, 'agent_id' | 'action' | 'target'>>,
  now: number,
): AgentSummary[] {
  const onNow = simTimeMs(event.starts_at) <= now && now < simTimeMs(event.ends_at)
  const joined = new Set(
    actions.filter((action) => action.action === 'attend_event' && action.target === event.id).map((a) => a.agent_id),
  )
  return agents.filter(
    (agent) => joined.has(agent.id) || (onNow && !!event.location_id && agent.location_id === event.location_id),
  )
}
