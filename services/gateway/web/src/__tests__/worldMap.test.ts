import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { i18n, setLocale } from '@/i18n'
import WorldMap from '@/components/world/WorldMap.vue'
import { inLanguage, pickLanguage, placeName } from '@/components/world/format'
import {
  arrangeMarkers,
  BUBBLE_SHOWN_MS,
  chooseBubbles,
  clipToEms,
  daylight,
  derivePaths,
  mapPaths,
  overlaps,
  placeBubble,
  placeLabels,
  type Rect,
  type SpokenLine,
} from '@/components/world/mapGeometry'
import { clampView, MAX_SCALE, zoomAround } from '@/components/world/mapZoom'
import { useLiveStore } from '@/stores/live'
import { SPOKEN_FETCH_DELAY_MS, useSimStore, type Place } from '@/stores/sim'
import { mockFetch } from './helpers'
import { actionStarted, makeAction, makeAgent, makeStatus, makeWorld } from './simFixtures'

const key = ([a, b]: [string, string]) => [a, b].sort().join('-')

describe('map paths', () => {
  const places = [
    { id: 'a', x: 10, y: 10 },
    { id: 'b', x: 20, y: 10 },
    { id: 'c', x: 30, y: 10 },
    { id: 'd', x: 20, y: 40 },
  ]

  it('links every place by the shortest paths when the world file has none', () => {
    const paths = derivePaths(places)
    expect(paths.map(key).sort()).toEqual(['a-b', 'b-c', 'b-d'])
    expect(derivePaths([places[0]!])).toEqual([])
  })

  it("takes the world file's paths between known places, and derives them when none is left", () => {
    expect(mapPaths(places, { paths: [['a', 'd'], ['a', 'gone']], water: [] })).toEqual([['a', 'd']])
    expect(mapPaths(places, { paths: [['x', 'y']], water: [] }).map(key).sort()).toEqual(['a-b', 'b-c', 'b-d'])
    expect(mapPaths(places, null)).toHaveLength(3)
  })
})

describe('the light of the hour', () => {
  it('is night at midnight with lit windows, day at noon, warm at dawn and dusk', () => {
    expect(daylight('2026-06-01T00:30:00')).toMatchObject({ phase: 'night', lit: true })
    expect(daylight('2026-06-01T12:00:00')).toEqual({ phase: 'day', night: 0, warm: 0, lit: false })
    expect(daylight('2026-06-01T06:00:00').phase).toBe('dawn')
    expect(daylight('2026-06-01T06:00:00').warm).toBeGreaterThan(0.1)
    expect(daylight('2026-06-01T18:30:00')).toMatchObject({ phase: 'dusk', lit: false })
    expect(daylight(null).night).toBe(0)
  })

  it('changes smoothly: no jump between one minute and the next all day', () => {
    let previous = daylight('2026-06-01T00:00:00')
    for (let minute = 1; minute < 24 * 60; minute += 1) {
      const at = `2026-06-01T${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}:00`
      const now = daylight(at)
      expect(Math.abs(now.night - previous.night)).toBeLessThan(0.01)
      expect(Math.abs(now.warm - previous.warm)).toBeLessThan(0.01)
      previous = now
    }
  })
})

describe('labels and markers', () => {
  it("puts a place's label beside its building where it covers no other label", () => {
    const labels = placeLabels([
      { id: 'a', at: { x: 100, y: 100 }, width: 60, height: 20, radius: 10 },
      { id: 'b', at: { x: 150, y: 100 }, width: 60, height: 20, radius: 10 },
    ])
    expect(labels.get('a')).toEqual({ x: 70, y: 111, width: 60, height: 20 }) // below its building
    // Below its own building it would cover a's label: above.
    expect(labels.get('b')).toEqual({ x: 120, y: 69, width: 60, height: 20 })
  })

  it("keeps a label at the map's edge within the map", () => {
    const labels = placeLabels([{ id: 'a', at: { x: 10, y: 100 }, width: 80, height: 20, radius: 10 }], {
      x: 0,
      y: 0,
      width: 390,
      height: 300,
    })
    expect(labels.get('a')).toEqual({ x: 2, y: 111, width: 80, height: 20 })
  })

  it('spreads the characters at one place around it: no marker covers a label or another marker', () => {
    const label: Rect = { x: 170, y: 215, width: 60, height: 20 }
    const area = { x: 0, y: 0, width: 400, height: 400 }
    const positions = arrangeMarkers(
      [
        { placeId: 'cafe', at: { x: 200, y: 200 }, agentIds: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] },
        { placeId: 'park', at: { x: 230, y: 230 }, agentIds: ['h'] },
      ],
      [label],
      44,
      area,
    )
    const squares = [...positions.values()].map(({ x, y }) => ({ x: x - 22, y: y - 22, width: 44, height: 44 }))
    expect(squares).toHaveLength(8)
    squares.forEach((square, index) => {
      expect(overlaps(square, label)).toBe(false)
      expect(square.x >= 0 && square.y >= 0 && square.x + 44 <= 400 && square.y + 44 <= 400).toBe(true)
      squares.slice(index + 1).forEach((other) => expect(overlaps(square, other)).toBe(false))
    })
  })
})

describe('speech bubbles', () => {
  const line = (id: string, agentId: string, simTime: string, text = `line ${id}`): SpokenLine => ({ id, agentId, text, simTime })

  it("shows each character's latest line of the last half hour, nothing said later or longer ago", () => {
    const lines = [
      line('1', 'lin', '2026-06-01T08:00:00Z'),
      line('3', 'lin', '2026-06-01T08:10:00Z'),
      line('2', 'chen', '2026-06-01T07:20:00Z'), // 40 minutes before
      line('4', 'emma', '2026-06-01T08:20:00Z'), // after the moment shown (a replay)
      line('5', 'hana', '2026-06-01T08:12:00Z', '  '),
    ]
    const bubbles = chooseBubbles(lines, '2026-06-01T08:15:00Z')
    expect([...bubbles.keys()]).toEqual(['lin'])
    expect(bubbles.get('lin')!.text).toBe('line 3')
    expect(BUBBLE_SHOWN_MS).toBe(30 * 60 * 1000)
  })

  it("go above their speaker, else beside it where they cover no one else", () => {
    const area = { x: 0, y: 0, width: 400, height: 400 }
    const box = { width: 100, height: 26 }
    const free = placeBubble({ x: 200, y: 200 }, box, 18, [], area)
    expect(free).toEqual({ side: 'above', rect: { x: 150, y: 156, width: 100, height: 26 } })
    // A character just above: below instead.
    const neighbour = { x: 180, y: 130, width: 44, height: 44 }
    expect(placeBubble({ x: 200, y: 200 }, box, 18, [neighbour], area).side).toBe('below')
    // Near the right edge, the side free of others (right, pushed back left) would hide its own speaker.
    const speaker = { x: 366, y: 186, width: 28, height: 28 }
    const others = [
      { x: 300, y: 150, width: 10, height: 10 }, // above
      { x: 300, y: 230, width: 10, height: 10 }, // below
      { x: 200, y: 190, width: 10, height: 10 }, // left
    ]
    const squeezed = placeBubble({ x: 380, y: 200 }, { width: 176, height: 42 }, 18, others, area, speaker)
    expect(squeezed.side).toBe('above')
    expect(placeBubble({ x: 380, y: 200 }, { width: 176, height: 42 }, 18, others, area).side).toBe('right')
    // At the top edge of the map, kept within it.
    expect(placeBubble({ x: 20, y: 10 }, box, 18, [], area).rect).toMatchObject({ x: 2, y: 2 })
  })

  it('are cut to what their two lines hold', () => {
    expect(clipToEms('公园真是让人着迷', 4)).toBe('公园真是…')
    expect(clipToEms('Hello there', 10)).toBe('Hello there') // 6.8 ems
    expect(clipToEms('Hello there friend', 6)).toBe('Hello the…')
  })

  it('come from lines said aloud and posts, never from a direct message', async () => {
    setActivePinia(createPinia())
    mockFetch([
      { path: '/api/sim/world', reply: () => ({ status: 200, body: makeWorld() }) },
      { path: '/api/sim/events', reply: () => ({ status: 200, body: [] }) },
      { path: '/api/sim/status', reply: () => ({ status: 200, body: makeStatus({ sim_time: '2026-06-01T08:01:00' }) }) },
      {
        path: '/api/sim/actions',
        reply: () => ({
          status: 200,
          body: {
            items: [
              makeAction(9, { agent_id: 'lin', action: 'say', content: 'Lovely morning!' }),
              // An operator's log has the text of a goodbye sent by direct message: never shown.
              makeAction(8, { agent_id: 'chen', action: 'goodbye', content: 'dm secret', trace: { channel: 'dm' } }),
              makeAction(7, { agent_id: 'chen', action: 'message', content: 'private' }),
              makeAction(6, { agent_id: 'emma', action: 'post', content: 'Fresh coffee!' }),
            ],
            next_cursor: null,
          },
        }),
      },
    ])
    const sim = useSimStore()
    await sim.loadWorld()
    expect(sim.spokenLines.map((entry) => [entry.agentId, entry.text])).toEqual([
      ['lin', 'Lovely morning!'],
      ['emma', 'Fresh coffee!'],
    ])
    expect(sim.worldMap).toBeNull()
  })

  it('reads what a live line said from the log a moment later', async () => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
    let said = false
    mockFetch([
      { path: '/api/sim/world', reply: () => ({ status: 200, body: { ...makeWorld(), map: { paths: [['cafe', 'park']], water: [] } } }) },
      { path: '/api/sim/events', reply: () => ({ status: 200, body: [] }) },
      { path: '/api/sim/status', reply: () => ({ status: 500, body: {} }) },
      {
        path: '/api/sim/actions',
        reply: () => ({
          status: 200,
          body: { items: said ? [makeAction(12, { agent_id: 'lin', action: 'talk', content: 'Hi Chen!', sim_time: '2026-06-01T08:05:00' })] : [], next_cursor: null },
        }),
      },
    ])
    const sim = useSimStore()
    await sim.loadWorld()
    expect(sim.worldMap).toEqual({ paths: [['cafe', 'park']], water: [] })
    const stop = sim.follow()
    said = true
    await useLiveStore().dispatch(actionStarted('12', 'lin', 'talk', { summary: 'talked with chen' }))
    expect(sim.spokenLines).toEqual([]) // the live event carries no words
    await vi.advanceTimersByTimeAsync(SPOKEN_FETCH_DELAY_MS)
    await flushPromises()
    expect(sim.spokenLines.map((entry) => entry.text)).toEqual(['Hi Chen!'])
    stop()
    vi.useRealTimers()
  })
})

describe('one language at a time', () => {
  it('takes the half of a "中文 · English" text in the chosen language', () => {
    expect(inLanguage('早市开张 · Market opens', 'zh-CN')).toBe('早市开张')
    expect(inLanguage('早市开张 · Market opens', 'en')).toBe('Market opens')
    expect(inLanguage('新鲜的荔枝到了!· Fresh lychees have arrived!', 'en-US')).toBe('Fresh lychees have arrived!')
    expect(inLanguage('新鲜的荔枝到了!· Fresh lychees have arrived!', 'zh-CN')).toBe('新鲜的荔枝到了!')
    // Not a pair of languages: as written.
    expect(inLanguage('Jazz · Blues', 'zh-CN')).toBe('Jazz · Blues')
    expect(inLanguage('突发:停电', 'en')).toBe('突发:停电')
    expect(inLanguage(undefined, 'en')).toBe('')
  })

  it('picks a name in the chosen language, the other when one is missing', () => {
    expect(pickLanguage('中心广场', 'Central Plaza', 'zh-CN')).toBe('中心广场')
    expect(pickLanguage('中心广场', 'Central Plaza', 'en')).toBe('Central Plaza')
    expect(pickLanguage('中心广场', '', 'en')).toBe('中心广场')
    expect(placeName({ name: '湖畔公园', name_en: 'Lakeside Park' } as Place, 'en')).toBe('Lakeside Park')
  })
})

describe('zooming', () => {
  const size = { width: 400, height: 300 }

  it('keeps the point under the fingers still, between 1× and 4×, the map covering its frame', () => {
    const zoomed = zoomAround({ scale: 1, x: 0, y: 0 }, 2, { x: 100, y: 100 }, size)
    expect(zoomed).toEqual({ scale: 2, x: -100, y: -100 })
    expect(zoomAround(zoomed, 10, { x: 0, y: 0 }, size).scale).toBe(MAX_SCALE)
    expect(zoomAround(zoomed, 0.1, { x: 0, y: 0 }, size)).toEqual({ scale: 1, x: 0, y: 0 })
    expect(clampView({ scale: 2, x: 50, y: -1000 }, size)).toEqual({ scale: 2, x: 0, y: -300 })
  })
})

describe('WorldMap', () => {
  beforeEach(() => setLocale('en'))
  afterEach(() => setLocale('en'))

  function render(props: Record<string, unknown> = {}) {
    const world = makeWorld()
    const places = world.locations.map(({ agents: _agents, ...place }) => ({ ...place, description: '小咖啡馆 · A small café' }))
    const agentsByPlace = new Map(world.locations.map((place) => [place.id, place.agents]))
    agentsByPlace.set('cafe', [...agentsByPlace.get('cafe')!, makeAgent('hana', { display_name: 'Hana' })])
    return mount(WorldMap, {
      props: { places, agentsByPlace, eventPlaceIds: new Set(['park']), simTime: '2026-06-01T08:15:00Z', ...props },
      global: { plugins: [i18n] },
      attachTo: document.body,
    })
  }

  it('draws each place by its kind with paths, and each character as a named button that follows on a tap', async () => {
    const wrapper = render({
      lines: [{ id: '5', agentId: 'lin', text: 'Lovely morning!', simTime: '2026-06-01T08:10:00Z' }],
      followedAgentId: 'emma',
    })
    expect(wrapper.findAll('[data-map-place]').map((place) => place.attributes('data-kind'))).toEqual(['cafe', 'park', 'bar'])
    expect(wrapper.findAll('line.path')).toHaveLength(2) // derived: three places, two paths
    const markers = wrapper.findAll('button[data-test="map-marker"]')
    expect(markers.map((marker) => marker.attributes('data-agent'))).toEqual(['chen', 'emma', 'hana', 'lin'])
    expect(wrapper.get('[data-agent="lin"]').attributes('aria-label')).toBe('LIN, at Cafe, said: “Lovely morning!”')
    expect(wrapper.get('[data-agent="emma"]').attributes('aria-pressed')).toBe('true')
    expect(wrapper.get('[data-test="bubble"]').text()).toBe('Lovely morning!')
    await wrapper.get('[data-agent="hana"]').trigger('click')
    expect(wrapper.emitted('select-agent')).toEqual([['hana']])
    expect(wrapper.emitted('select')).toEqual([['hana']])
    wrapper.unmount()
  })

  it('shows names in the chosen language only and the light of the hour', async () => {
    setLocale('zh-CN')
    const wrapper = render({ simTime: '2026-06-01T23:00:00Z' })
    await flushPromises()
    const labels = wrapper.findAll('[data-test="place-label"]').map((label) => label.text())
    expect(labels).toEqual(['cafe-中文', 'park-中文', 'bar-中文'])
    expect(wrapper.get('[data-map-place="cafe"] title').text()).toBe('cafe-中文: 小咖啡馆')
    expect(wrapper.get('figure').attributes('data-phase')).toBe('night')
    expect(wrapper.findAll('.glow circle').length).toBeGreaterThan(0)
    wrapper.unmount()
  })

  it('zooms with ctrl + wheel and its buttons, and shows the whole town again', async () => {
    const wrapper = render()
    const frame = wrapper.get('[data-test="map-frame"]')
    expect(frame.attributes('data-scale')).toBe('1.000')
    await frame.trigger('wheel', { deltaY: -100, ctrlKey: true, clientX: 100, clientY: 100 })
    expect(Number(frame.attributes('data-scale'))).toBeGreaterThan(2)
    await frame.trigger('wheel', { deltaY: -100 }) // a plain wheel scrolls the page
    expect(Number(frame.attributes('data-scale'))).toBeLessThan(MAX_SCALE)
    await wrapper.get('[data-test="map-reset"]').trigger('click')
    expect(frame.attributes('data-scale')).toBe('1.000')
    await wrapper.get('[aria-label="Zoom in"]').trigger('click')
    expect(frame.attributes('data-scale')).toBe('1.500')
    await wrapper.get('[data-test="map-reset"]').trigger('click')
    await frame.trigger('dblclick', { clientX: 50, clientY: 50 })
    expect(frame.attributes('data-scale')).toBe('2.000')
    wrapper.unmount()
  })
})
