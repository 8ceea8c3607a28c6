// The simulator's public reading of the town's story: a character's transcript, and the day's action log.
import { api } from './client'
import type { ActionPage } from './sim'

/** A line said aloud in a conversation in person (GET /api/sim/agents/{id}/transcript). Direct
 * messages are never in a transcript: they are private to the two who wrote them. */
export interface TranscriptLine {
  id: string
  decision: number
  sim_time: string
  conversation_id: string
  speaker_id: string
  listener_id: string
  /** talk (it opened the conversation), say, goodbye (it closed it). */
  action: string
  text: string
  location_id: string
}

export interface TranscriptPage {
  agent_id: string
  items: TranscriptLine[]
  next_cursor: string | null
}

/** The action log's largest page. */
export const ACTION_PAGE_LIMIT = 200

export const storyApi = {
  transcript: (agentId: string, cursor: string | null = null, limit = 50) =>
    api.get<TranscriptPage>(`/sim/agents/${encodeURIComponent(agentId)}/transcript`, { cursor, limit }),
  actions: (cursor: string | null) => api.get<ActionPage>('/sim/actions', { cursor, limit: ACTION_PAGE_LIMIT }),
}
