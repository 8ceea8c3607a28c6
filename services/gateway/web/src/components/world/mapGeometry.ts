// The geometry of the World map, apart from drawing it: which paths link the places, what part of the
// 0-100 world is shown, the light of the hour, where labels and characters go without covering each other,
// and which line each character's speech bubble shows.
import type { WorldMapView } from '@/api/sim'
import { simTimeMs } from '@/api/sim'

export interface Point {
  x: number
  y: number
}

/** A box in screen pixels: x, y its top left corner. */
export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

interface Located {
  id: string
  x: number
  y: number
}

// ------------------------------------------------------------------ paths and bounds

/**
 * Paths for a world file without a map: the shortest set of straight paths that connects every place
 * (a minimum spanning tree, Prim's), so any world looks like a town whose places can be walked between.
 */
export function derivePaths(places: Located[]): Array<[string, string]> {
  if (places.length < 2) return []
  const paths: Array<[string, string]> = []
  const linked = new Set([places[0]!.id])
  // For each place not linked yet: its nearest linked place and the distance to it.
  const nearest = new Map(places.slice(1).map((place) => [place.id, { to: places[0]!, distance: distance(place, places[0]!) }]))
  const byId = new Map(places.map((place) => [place.id, place]))
  while (nearest.size) {
    let nextId = ''
    let best = Infinity
    for (const [id, candidate] of nearest) {
      if (candidate.distance < best) [nextId, best] = [id, candidate.distance]
    }
    const next = byId.get(nextId)!
    paths.push([nearest.get(nextId)!.to.id, nextId])
    nearest.delete(nextId)
    linked.add(nextId)
    for (const [id, candidate] of nearest) {
      const through = distance(byId.get(id)!, next)
      if (through < candidate.distance) nearest.set(id, { to: next, distance: through })
    }
  }
  return paths
}

/** The world file's paths between known places, or derived ones when it has none. */
export function mapPaths(places: Located[], worldMap: WorldMapView | null | undefined): Array<[string, string]> {
  const known = new Set(places.map((place) => place.id))
  const given = (worldMap?.paths ?? []).filter(([from, to]) => known.has(from) && known.has(to))
  return given.length ? given : derivePaths(places)
}

function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y)
}

export interface Bounds {
  left: number
  top: number
  width: number
  height: number
}

/** Map units around the outermost places: room for a building, its label and characters. */
export const BOUNDS_MARGIN = 10

/** The part of the 0-100 world the map shows: the places with a margin, within 0-100. */
export function mapBounds(places: Point[]): Bounds {
  if (!places.length) return { left: 0, top: 0, width: 100, height: 100 }
  const xs = places.map((place) => place.x)
  const ys = places.map((place) => place.y)
  const left = Math.max(0, Math.min(...xs) - BOUNDS_MARGIN)
  const top = Math.max(0, Math.min(...ys) - BOUNDS_MARGIN)
  const right = Math.min(100, Math.max(...xs) + BOUNDS_MARGIN)
  const bottom = Math.min(100, Math.max(...ys) + BOUNDS_MARGIN)
  return { left, top, width: Math.max(right - left, 20), height: Math.max(bottom - top, 20) }
}

// ------------------------------------------------------------------ the light of the hour

export type DayPhase = 'dawn' | 'day' | 'dusk' | 'night'

export interface Daylight {
  phase: DayPhase
  /** Opacity of the dark blue of the night over the map, 0-1. */
  night: number
  /** Opacity of the warm light of dawn and dusk, 0-1. */
  warm: number
  /** Windows are lit. */
  lit: boolean
}

// [hour, night, warm]: the light changes linearly between these hours, so it never jumps.
const LIGHT_KEYS: Array<[number, number, number]> = [
  [0, 0.5, 0],
  [4.5, 0.5, 0],
  [6, 0.18, 0.22],
  [7.5, 0, 0],
  [17, 0, 0],
  [18.5, 0.08, 0.24],
  [20, 0.38, 0.06],
  [21, 0.5, 0],
  [24, 0.5, 0],
]

/** The light over the town at a simulated time (the town's clock is UTC); full day without a time. */
export function daylight(simTime: string | null | undefined): Daylight {
  if (!simTime) return { phase: 'day', night: 0, warm: 0, lit: false }
  const at = new Date(simTimeMs(simTime))
  const hour = at.getUTCHours() + at.getUTCMinutes() / 60
  let index = 0
  while (index < LIGHT_KEYS.length - 2 && LIGHT_KEYS[index + 1]![0] <= hour) index += 1
  const [fromHour, fromNight, fromWarm] = LIGHT_KEYS[index]!
  const [toHour, toNight, toWarm] = LIGHT_KEYS[index + 1]!
  const share = (hour - fromHour) / (toHour - fromHour)
  const night = fromNight + (toNight - fromNight) * share
  const warm = fromWarm + (toWarm - fromWarm) * share
  const phase: DayPhase =
    hour >= 4.5 && hour < 7.5 ? 'dawn' : hour >= 7.5 && hour < 17 ? 'day' : hour >= 17 && hour < 21 ? 'dusk' : 'night'
  return { phase, night, warm, lit: night >= 0.15 }
}

// ------------------------------------------------------------------ labels and markers

const WIDE_CHAR = /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/

function emsOf(char: string): number {
  return WIDE_CHAR.test(char) ? 1 : 0.62
}

/** The width of a one-line label: CJK characters are a full em, others a generous 0.62 em. */
export function labelWidth(text: string, fontPx: number, padding = 8): number {
  let ems = 0
  for (const char of text) ems += emsOf(char)
  return Math.ceil(ems * fontPx + padding)
}

/** A text cut to what fits in `ems` (with an ellipsis when cut): a bubble's two lines. */
export function clipToEms(text: string, ems: number): string {
  const chars = Array.from(text.trim())
  let used = 0
  for (let index = 0; index < chars.length; index += 1) {
    used += emsOf(chars[index]!)
    if (used > ems) return `${chars.slice(0, index).join('').trimEnd()}…`
  }
  return chars.join('')
}

export function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

function inside(rect: Rect, area: Rect): boolean {
  return rect.x >= area.x && rect.y >= area.y && rect.x + rect.width <= area.x + area.width && rect.y + rect.height <= area.y + area.height
}

export interface LabelRequest {
  id: string
  /** The place's centre on screen. */
  at: Point
  width: number
  height: number
  /** Half the drawn building's size on screen: the label goes beside it. */
  radius: number
}

/** A rect moved into `area` (as far as it fits). */
function within(rect: Rect, area: Rect | undefined): Rect {
  if (!area) return rect
  const x = Math.max(area.x + 2, Math.min(rect.x, area.x + area.width - rect.width - 2))
  const y = Math.max(area.y + 2, Math.min(rect.y, area.y + area.height - rect.height - 2))
  return { ...rect, x, y }
}

/**
 * Where each place's label goes: below its building, else above, right or left, the first that covers
 * no other label nor building; below when none is free. Labels are kept within `area` (the map's edges).
 */
export function placeLabels(requests: LabelRequest[], area?: Rect): Map<string, Rect> {
  const buildings = requests.map(({ at, radius }) => ({ x: at.x - radius, y: at.y - radius, width: 2 * radius, height: 2 * radius }))
  const placed = new Map<string, Rect>()
  for (const { id, at, width, height, radius } of requests) {
    const candidates: Rect[] = [
      { x: at.x - width / 2, y: at.y + radius + 1, width, height },
      { x: at.x - width / 2, y: at.y - radius - height - 1, width, height },
      { x: at.x + radius + 2, y: at.y - height / 2, width, height },
      { x: at.x - radius - width - 2, y: at.y - height / 2, width, height },
    ].map((rect) => within(rect, area))
    const free = candidates.find(
      (rect) => ![...placed.values(), ...buildings].some((other) => overlaps(rect, other)),
    )
    placed.set(id, free ?? candidates[0]!)
  }
  return placed
}

export interface MarkerGroup {
  placeId: string
  at: Point
  agentIds: string[]
}

const MAX_RINGS = 6

/**
 * Where each character's marker goes (its centre on screen): on rings around its place, the first spot
 * whose `size` square covers no label, no other marker and stays within `area`. Characters at one place
 * are spread around it instead of on top of each other. When no spot is free (a crowded town on a small
 * screen), the one covering least.
 */
export function arrangeMarkers(groups: MarkerGroup[], labels: Rect[], size: number, area: Rect): Map<string, Point> {
  const positions = new Map<string, Point>()
  const taken: Rect[] = []
  const square = (centre: Point): Rect => ({ x: centre.x - size / 2, y: centre.y - size / 2, width: size, height: size })
  for (const { at, agentIds } of groups) {
    for (const agentId of agentIds) {
      let chosen: Point | null = null
      let fallback: { centre: Point; covered: number } | null = null
      for (let ring = 0; ring < MAX_RINGS && !chosen; ring += 1) {
        const radius = size * (0.75 + ring * 0.95)
        const slots = Math.max(4, Math.floor((2 * Math.PI * radius) / size))
        for (let slot = 0; slot < slots; slot += 1) {
          // From the top, clockwise; odd rings are turned half a slot so they fill the gaps.
          const angle = -Math.PI / 2 + ((slot + (ring % 2) / 2) * 2 * Math.PI) / slots
          const centre = { x: at.x + radius * Math.cos(angle), y: at.y + radius * Math.sin(angle) }
          const rect = square(centre)
          if (!inside(rect, area)) continue
          const covered = [...labels, ...taken].filter((other) => overlaps(rect, other)).length
          if (covered === 0) {
            chosen = centre
            break
          }
          if (!fallback || covered < fallback.covered) fallback = { centre, covered }
        }
      }
      const centre = chosen ?? fallback?.centre ?? at
      positions.set(agentId, centre)
      taken.push(square(centre))
    }
  }
  return positions
}

// ------------------------------------------------------------------ speech bubbles

export type BubbleSide = 'above' | 'below' | 'right' | 'left'

/**
 * Where a bubble goes beside its speaker's marker (centre `at`, `gap` from it): above, else below, right
 * or left, the first side that covers nothing of `obstacles` and stays within `area`; else the side that
 * covers least, and never its own speaker (`speaker`, its visible dot) when another side does not.
 */
export function placeBubble(
  at: Point,
  box: { width: number; height: number },
  gap: number,
  obstacles: Rect[],
  area: Rect,
  speaker?: Rect,
): { side: BubbleSide; rect: Rect } {
  const { width, height } = box
  const candidates: Array<{ side: BubbleSide; rect: Rect }> = [
    { side: 'above', rect: { x: at.x - width / 2, y: at.y - gap - height, width, height } },
    { side: 'below', rect: { x: at.x - width / 2, y: at.y + gap, width, height } },
    { side: 'right', rect: { x: at.x + gap, y: at.y - height / 2, width, height } },
    { side: 'left', rect: { x: at.x - gap - width, y: at.y - height / 2, width, height } },
  ].map(({ side, rect }) => ({ side: side as BubbleSide, rect: within(rect, area) }))
  let best = candidates[0]!
  let bestCovered = Infinity
  for (const candidate of candidates) {
    const hidesSpeaker = speaker !== undefined && overlaps(candidate.rect, speaker)
    const covered = obstacles.filter((other) => overlaps(candidate.rect, other)).length + (hidesSpeaker ? 100 : 0)
    if (covered === 0) return candidate
    if (covered < bestCovered) [best, bestCovered] = [candidate, covered]
  }
  return best
}

/** A line a character said aloud or posted: the text anyone may read. */
export interface SpokenLine {
  id: string
  agentId: string
  text: string
  simTime: string
}

/** A bubble shows a line for this long in simulated time after it was said. */
export const BUBBLE_SHOWN_MS = 30 * 60 * 1000

/**
 * Each character's bubble: its latest line said no later than `simTime` and within BUBBLE_SHOWN_MS of it.
 * Without a simulated time, each one's latest line.
 */
export function chooseBubbles(lines: SpokenLine[], simTime: string | null | undefined): Map<string, SpokenLine> {
  const now = simTime ? simTimeMs(simTime) : Infinity
  const bubbles = new Map<string, SpokenLine>()
  for (const line of lines) {
    if (!line.text.trim()) continue
    const when = simTimeMs(line.simTime)
    if (when > now || now - when > BUBBLE_SHOWN_MS) continue
    const shown = bubbles.get(line.agentId)
    if (!shown || simTimeMs(shown.simTime) < when || (shown.simTime === line.simTime && Number(shown.id) < Number(line.id))) {
      bubbles.set(line.agentId, line)
    }
  }
  return bubbles
}
