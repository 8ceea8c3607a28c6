// How a person or AI character without a picture is drawn, the same on every page (the feed, the World
// map, the console): their initial on a colour of their own.

/** Dark enough for the white initial: contrast of at least 4.5:1 (WCAG AA) each. */
export const AVATAR_COLOURS = ['#1461b3', '#6929c4', '#a2191f', '#0e6e55', '#9f1853', '#6f4a00', '#005d5d', '#4a3aa8']

export const AVATAR_TEXT_COLOUR = '#fff'

/** A steady colour for an account (or a character's) id: the same id always gets the same one. */
export function avatarColour(id: string): string {
  let hash = 0
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  return AVATAR_COLOURS[hash % AVATAR_COLOURS.length]!
}

/** The first letter of a name (a whole character, emoji included), for an avatar without a picture. */
export function initialOf(name: string): string {
  return Array.from(name.trim())[0]?.toUpperCase() ?? '?'
}
