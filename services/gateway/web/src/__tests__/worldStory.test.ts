import { describe, expect, it } from 'vitest'
import { i18n, setLocale } from '@/i18n'
import type { TranscriptLine } from '@/api/simStory'
import {
  agentsByPlaceAt,
  buildTranscript,
  dayActions,
  eventAttendees,
  linesAt,
  linkedAction,
  placePath,
  positionsAt,
  profilePath,
} from '@/components/world/story'
import { simTimeMs } from '@/api/sim'
import type { Place } from '@/stores/sim'
import { makeAction, makeAgent, makeEvent, makePlace } from './simFixtures'

const t = (key: string, values?: Record<string, unknown>) => i18n.global.t(key, values ?? {})
const at = (time: string) => simTimeMs(`2026-06-01T${time}:00Z`)

function said(decision: number, speaker: string, listener: string, text: string, conversation = 'c1'): TranscriptLine {
  return {
    id: String(100 + decision),
    decision,
    sim_time: `2026-06-01T08:${String(decision).padStart(2, '0')}:00Z`,
    conversation_id: conversation,
    speaker_id: speaker,
    listener_id: listener,
    action: 'say',
    text,
    location_id: 'cafe',
  }
}

describe('transcript', () => {
  it('groups lines into conversations, newest conversation first, each in the order it was said', () => {
    // The API gives lines newest first; a second page repeats a line the first had.
    const lines = [
      said(9, 'emma', 'lin', 'See you!', 'c2'),
      said(8, 'lin', 'emma', 'Hi Emma', 'c2'),
      said(3, 'chen', 'lin', 'New beans.'),
      said(2, 'lin', 'chen', 'Good coffee today'),
      said(2, 'lin', 'chen', 'Good coffee today'),
    ]
    const conversations = buildTranscript('lin', lines)
    expect(conversations.map((c) => [c.id, c.otherId])).toEqual([
      ['c2', 'emma'],
      ['c1', 'chen'],
    ])
    expect(conversations[1]!.lines.map((l) => [l.text, l.mine])).toEqual([
      ['Good coffee today', true],
      ['New beans.', false],
    ])
    expect(conversations[1]!.startedAt).toBe('2026-06-01T08:02:00Z')
  })
})

describe('replay', () => {
  const places = new Set(['cafe', 'park', 'home'])
  const agents = [makeAgent('lin', { location_id: 'park' }), makeAgent('chen', { location_id: 'home' }), makeAgent('emma', { location_id: 'cafe' })]
  const day = [
    makeAction(1, { agent_id: 'lin', action: 'rest', location_id: 'home', sim_time: '2026-06-01T07:00:00Z' }),
    makeAction(2, { agent_id: 'lin', action: 'move', target: 'cafe', location_id: 'home', sim_time: '2026-06-01T08:00:00Z' }),
    makeAction(3, { agent_id: 'lin', action: 'talk', content: 'Hello!', location_id: 'cafe', sim_time: '2026-06-01T08:10:00Z' }),
    makeAction(4, { agent_id: 'lin', action: 'move', target: 'park', location_id: 'cafe', sim_time: '2026-06-01T09:00:00Z' }),
    makeAction(5, { agent_id: 'chen', action: 'move', target: 'nowhere', location_id: 'home', sim_time: '2026-06-01T09:30:00Z' }),
  ]

  it('puts each character where its latest action by then left it, or where its first one was', () => {
    expect(Object.fromEntries(positionsAt(day, at('06:00'), agents, places))).toEqual({ lin: 'home', chen: 'home', emma: 'cafe' })
    expect(positionsAt(day, at('08:05'), agents, places).get('lin')).toBe('cafe') // a move: its destination
    expect(positionsAt(day, at('08:59'), agents, places).get('lin')).toBe('cafe')
    expect(positionsAt(day, at('09:00'), agents, places).get('lin')).toBe('park')
    expect(positionsAt(day, at('10:00'), agents, places).get('chen')).toBe('home') // no such place: stays
  })

  it('gathers characters by place for the map at the scrubbed moment', () => {
    const byPlace = agentsByPlaceAt(agents, positionsAt(day, at('08:30'), agents, places))
    expect(byPlace.get('cafe')!.map((a) => a.id)).toEqual(['lin', 'emma'])
    expect(byPlace.get('cafe')![0]!.location_id).toBe('cafe')
    expect(byPlace.get('park')).toBeUndefined()
  })

  it('shows the lines said in the minutes before the moment, and keeps only the day from the pages', () => {
    expect(linesAt(day, at('08:20')).map((a) => a.content)).toEqual(['Hello!'])
    expect(linesAt(day, at('08:05'))).toEqual([])
    expect(linesAt(day, at('09:00'))).toEqual([]) // said too long before
    const pages = [[day[4]!, day[3]!], [day[3]!, day[2]!, day[1]!, day[0]!]]
    expect(dayActions(pages, at('08:00')).map((a) => a.decision)).toEqual([2, 3, 4, 5])
  })
})

describe('event attendees', () => {
  const agents = [makeAgent('lin', { location_id: 'bar' }), makeAgent('chen', { location_id: 'cafe' }), makeAgent('emma', { location_id: 'park' })]
  const jazz = makeEvent('7', { location_id: 'bar', starts_at: '2026-06-01T20:00:00Z', ends_at: '2026-06-01T23:00:00Z' })

  it('are the characters at its place while it is on, and those who went to it', () => {
    const went = [{ agent_id: 'emma', action: 'attend_event', target: '7' }, { agent_id: 'chen', action: 'attend_event', target: '8' }]
    expect(eventAttendees(jazz, agents, went, at('21:00')).map((a) => a.id)).toEqual(['lin', 'emma'])
    expect(eventAttendees(jazz, agents, went, at('19:00')).map((a) => a.id)).toEqual(['emma']) // not on yet
    expect(eventAttendees({ ...jazz, location_id: null }, agents, [], at('21:00'))).toEqual([])
  })
})

describe('links', () => {
  const lin = makeAgent('lin')
  const emma = makeAgent('emma', { user_id: null })
  const cafe: Place = (({ agents: _a, ...place }) => place)(makePlace('cafe'))
  const directory = { agentsById: new Map([['lin', lin], ['emma', emma]]), placesById: new Map([['cafe', cafe]]) }

  it('build profile and place paths', () => {
    expect(profilePath(lin)).toBe('/users/user-lin')
    expect(profilePath(emma)).toBeNull() // no account yet
    expect(placePath('café 1')).toBe('/world?place=caf%C3%A9%201')
  })

  it('turn the names in an activity line into links, in the word order of each language', () => {
    const move = { id: '1', agentId: 'lin', action: 'move', simTime: '2026-06-01T08:00:00Z', locationId: 'cafe', text: null, target: null }
    setLocale('en')
    expect(linkedAction(move, directory, t, 'en')).toEqual([
      { kind: 'person', text: 'LIN', to: '/users/user-lin', agentId: 'lin' },
      { kind: 'text', text: ' is heading to ' },
      { kind: 'place', text: 'Cafe', to: '/world?place=cafe', placeId: 'cafe' },
    ])
    setLocale('zh-CN')
    const zh = linkedAction(move, directory, t, 'zh-CN')
    expect(zh.map((part) => part.text).join('')).toBe(i18n.global.t('world.ticker.move', { name: 'LIN', place: 'cafe-中文' }))
    expect(zh.find((part) => part.kind === 'place')).toMatchObject({ text: 'cafe-中文', to: '/world?place=cafe' })
    const talk = { ...move, action: 'talk', target: 'emma' }
    expect(linkedAction(talk, directory, t, 'zh-CN').filter((p) => p.kind === 'person')).toEqual([
      { kind: 'person', text: 'LIN', to: '/users/user-lin', agentId: 'lin' },
      { kind: 'person', text: 'EMMA', to: null, agentId: 'emma' },
    ])
    setLocale('en')
  })
})
