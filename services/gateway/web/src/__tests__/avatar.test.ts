import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Author } from '@/api/types'
import { AVATAR_COLOURS, AVATAR_TEXT_COLOUR, avatarColour, initialOf } from '@/components/avatar'
import UserAvatar from '@/components/UserAvatar.vue'
import PlaceList from '@/components/world/PlaceList.vue'
import { setLocale } from '@/i18n'
import { mountWithApp } from './helpers'
import { makeAgent, makePlace } from './simFixtures'

/** WCAG 2 contrast ratio of two #rrggbb (or #rgb) colours. */
function contrast(a: string, b: string): number {
  const luminance = (hex: string) => {
    const digits = hex.length === 4 ? [...hex.slice(1)].map((d) => d + d).join('') : hex.slice(1)
    const [r, g, b] = [0, 2, 4].map((i) => {
      const channel = parseInt(digits.slice(i, i + 2), 16) / 255
      return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
  }
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x)
  return (light! + 0.05) / (dark! + 0.05)
}

/** A colour as the DOM writes it back, to compare with an element's style. */
function asStyled(colour: string): string {
  const probe = document.createElement('span')
  probe.style.background = colour
  return probe.style.background
}

const person = (id: string, name = 'Alice'): Author => ({ id, username: 'alice', display_name: name, avatar_url: null, is_ai: false })

describe('avatar colours', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('gives the initial a contrast of at least 4.5:1 (WCAG AA) on every colour', () => {
    for (const colour of AVATAR_COLOURS) expect(contrast(colour, AVATAR_TEXT_COLOUR), colour).toBeGreaterThanOrEqual(4.5)
  })

  it('keeps one colour per id and spreads ids over the palette', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `0b6c${i}-4f1e-8a2d-${i * 7}`)
    const first = ids.map(avatarColour)
    expect(ids.map((id) => avatarColour([...id].join('')))).toEqual(first) // equal ids, not the same string object
    // Pinned: a change of the hash would recolour everybody (and every character on the World page) at once.
    expect(['', 'a', 'user-lin'].map(avatarColour)).toEqual(['#1461b3', '#6929c4', '#4a3aa8'])
    expect(new Set(ids.map(avatarColour)).size).toBe(AVATAR_COLOURS.length)
  })

  it('takes a whole first character for the initial', () => {
    expect(initialOf(' alice')).toBe('A')
    expect(initialOf('🌅 Dawn')).toBe('🌅')
    expect(initialOf('林小雨')).toBe('林')
  })

  it("colours a person's avatar by their account, as the World page colours that character", async () => {
    const lin = makeAgent('lin', { user_id: 'u-lin-account' })
    const { wrapper: world } = await mountWithApp(PlaceList, {
      places: [makePlace('cafe')],
      agentsByPlace: new Map([['cafe', [lin]]]),
      eventPlaceIds: new Set(),
    })
    const { wrapper: feed } = await mountWithApp(UserAvatar, { user: person('u-lin-account', '林小雨') })
    const chip = world.get('.agent-chip__avatar').element as HTMLElement
    const avatar = feed.get('[data-test="avatar-initial"]').element as HTMLElement
    expect(avatar.style.background).toBe(asStyled(avatarColour('u-lin-account')))
    expect(chip.style.background).toBe(avatar.style.background)
    expect(avatar.textContent!.trim()).toBe('林')

    const others = await Promise.all(['u2', 'u3', 'u4', 'u5'].map((id) => mountWithApp(UserAvatar, { user: person(id) })))
    const colours = others.map(({ wrapper }) => (wrapper.get('[data-test="avatar-initial"]').element as HTMLElement).style.background)
    expect(new Set(colours).size).toBeGreaterThan(1) // not the same blue for everyone
  })
})
