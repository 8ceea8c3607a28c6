import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve as resolvePath } from 'node:path'
import { describe, expect, it } from 'vitest'

// Colours live in src/styles.css as tokens (--aic-*, --van-*) with a light and a dark value, so the
// dark theme is one place. These tests keep literal colours from creeping back into components and
// check that both themes give every text a 4.5:1 contrast on the backgrounds it is drawn on.

// Tests run from the web app's folder (package.json's).
const SRC = resolvePath(process.cwd(), 'src')
const STYLES = readFileSync(join(SRC, 'styles.css'), 'utf8')

/** Literal colours: #rgb…#rrggbbaa, rgb()/rgba()/hsl()/hsla(), and named colours in colour properties. */
const LITERAL = /#[0-9a-f]{3,8}\b|\b(?:rgba?|hsla?)\(/gi
const NAMED = /^\s*(?:color|background(?:-color)?|border(?:-[a-z]+)*|outline(?:-color)?|fill|stroke|box-shadow)\s*:[^;]*(?<![-\w])(?:white|black|red|green|blue|gray|grey|orange|yellow|purple|pink|silver)\b/i

/** Where literal colours belong, each with why. */
function allowed(file: string, line: string): boolean {
  // The tokens themselves: a custom property's value (light or dark) in styles.css.
  if (file === 'styles.css') return /^\s*--[a-z0-9-]+\s*:/.test(line)
  // Data, not chrome: each account's avatar colour (white initials on each, checked in avatar.test.ts).
  if (file === 'components/avatar.ts') return true
  // The ground drawn under a cropped picture's transparent pixels: part of the saved JPEG, not the page.
  if (file === 'components/identity/cropImage.ts') return /fillStyle = '#fff'/.test(line)
  // The World map's illustration palette (light and dark), declared once at the top of its style.
  if (file === 'components/world/WorldMap.vue') return /^\s*--map-[a-z-]+\s*:/.test(line)
  return false
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === '__tests__' ? [] : sourceFiles(path)
    return /\.(vue|ts|css)$/.test(entry.name) ? [path] : []
  })
}

/** The lines of one file holding a literal colour where none belongs, as "file:line: text". */
function strayColoursIn(file: string, text: string): string[] {
  return text.split('\n').flatMap((line, index) => {
    const code = line.replace(/\/\*.*?\*\/|\/\/ .*$/g, '')
    const literal = LITERAL.test(code) || NAMED.test(code)
    LITERAL.lastIndex = 0
    return literal && !allowed(file, line) ? [`${file}:${index + 1}: ${line.trim()}`] : []
  })
}

/** Every such line in src, tests aside. */
function strayColours(): string[] {
  return sourceFiles(SRC).flatMap((path) =>
    strayColoursIn(relative(SRC, path).split('\\').join('/'), readFileSync(path, 'utf8')),
  )
}

/** The custom properties one block of styles.css sets: `:root { … }` or the dark one. */
function tokens(block: string): Map<string, string> {
  return new Map([...block.matchAll(/^\s*(--[a-z0-9-]+)\s*:\s*([^;]+);/gm)].map(([, name, value]) => [name!, value!.trim()]))
}

const lightBlock = STYLES.slice(STYLES.indexOf(':root {'), STYLES.indexOf('\n}\n', STYLES.indexOf(':root {')))
const darkStart = STYLES.indexOf('@media (prefers-color-scheme: dark)')
const darkBlock = STYLES.slice(darkStart, STYLES.indexOf('\n}\n', darkStart))
const LIGHT = tokens(lightBlock)
const DARK = new Map([...LIGHT, ...tokens(darkBlock)])

// Vant's own defaults for the variables the app does not set in light mode.
const VANT_LIGHT: Record<string, string> = {
  '--van-text-color': '#323233',
  '--van-background': '#f7f8fa',
  '--van-background-2': '#ffffff',
  '--van-background-3': '#ffffff',
}

function resolve(theme: Map<string, string>, name: string): string {
  const value = theme.get(name) ?? VANT_LIGHT[name]
  if (!value) throw new Error(`${name} is not defined`)
  const reference = /^var\((--[a-z0-9-]+)\)$/.exec(value)
  return reference ? resolve(theme, reference[1]!) : value
}

/** WCAG 2 contrast ratio of two #rgb / #rrggbb colours. */
function contrast(a: string, b: string): number {
  const luminance = (hex: string) => {
    const digits = hex.length === 4 ? [...hex.slice(1)].map((d) => d + d).join('') : hex.slice(1, 7)
    const [r, g, bl] = [0, 2, 4].map((i) => {
      const channel = parseInt(digits.slice(i, i + 2), 16) / 255
      return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!
  }
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x)
  return (light! + 0.05) / (dark! + 0.05)
}

const PAGE_BACKGROUNDS = ['--aic-bg', '--aic-surface', '--aic-surface-2', '--van-background', '--van-background-2']
const PAGE_TEXTS = [
  '--aic-text',
  '--aic-text-strong',
  '--aic-text-2',
  '--aic-text-3',
  '--aic-muted',
  '--aic-accent',
  '--aic-danger',
  '--aic-danger-strong',
  '--aic-success',
  '--aic-warning',
  '--aic-warning-text',
  '--aic-like',
  '--aic-ai-text',
  '--aic-chip-neutral-text',
  '--van-text-color',
  '--van-text-color-2',
  '--van-text-color-3',
  '--van-primary-color',
  '--van-danger-color',
  '--van-success-color',
  '--van-warning-color',
]
/** Texts drawn on one particular background: [text, background]. */
const PAIRS: [string, string][] = [
  ...PAGE_TEXTS.flatMap((text) => PAGE_BACKGROUNDS.map((bg): [string, string] => [text, bg])),
  ...['--aic-text', '--aic-text-2', '--aic-muted', '--aic-accent'].map((text): [string, string] => [text, '--aic-accent-soft']),
  ...['--aic-text', '--aic-text-2', '--aic-muted'].map((text): [string, string] => [text, '--aic-unread-bg']),
  ['--aic-accent-deep', '--aic-accent-soft'],
  ['--aic-on-accent', '--aic-accent-fill'],
  ['--aic-on-accent-2', '--aic-accent-fill'],
  ['--aic-on-accent', '--aic-danger-fill'],
  ['--aic-on-accent', '--aic-danger-strong-fill'],
  ['--aic-on-accent', '--aic-warning-fill'],
  ['--aic-on-accent', '--aic-event-fill'],
  ['--aic-on-accent', '--van-button-primary-background'],
  ['--aic-on-accent', '--van-button-danger-background'],
  ['--aic-on-accent', '--van-badge-background'],
  ['--aic-chip-neutral-text', '--aic-chip-neutral-bg'],
  ['--aic-text-2', '--aic-chip-neutral-bg'],
  ['--aic-chip-ai-text', '--aic-chip-ai-bg'],
  ['--aic-chip-success-text', '--aic-chip-success-bg'],
  ['--aic-chip-warning-text', '--aic-chip-warning-bg'],
  ['--aic-chip-caution-text', '--aic-chip-caution-bg'],
  ['--aic-chip-danger-text', '--aic-chip-danger-bg'],
  ['--aic-danger-strong', '--aic-danger-soft'],
  ['--aic-text-2', '--aic-surface-tint'],
  ['--van-field-placeholder-text-color', '--van-background-2'],
]
// Vant's light badge is its own red; the app sets the badge's background only for dark mode.
LIGHT.set('--van-badge-background', LIGHT.get('--van-danger-color')!)

describe('theme colours', () => {
  it('leaves no literal colour in components, views or their styles: all come from the tokens', () => {
    expect(strayColours()).toEqual([])
  })

  it('catches a literal colour, a named one and an rgb() one outside the tokens', () => {
    const component = [
      '<style scoped>',
      '.a {',
      '  color: #646566;',
      '  background: white;',
      '  white-space: nowrap;',
      '  box-shadow: 0 1px 2px rgba(0, 0, 0, 0.2);',
      '  border: 1px solid var(--aic-border); /* was #ebedf0 */',
      '}',
      '</style>',
    ].join('\n')
    expect(strayColoursIn('components/Example.vue', component)).toEqual([
      'components/Example.vue:3: color: #646566;',
      'components/Example.vue:4: background: white;',
      'components/Example.vue:6: box-shadow: 0 1px 2px rgba(0, 0, 0, 0.2);',
    ])
    // Only the token definitions may hold them in styles.css, and only the palette in the map.
    expect(strayColoursIn('styles.css', '  --aic-bg: #f7f8fa;\n  color: #c8161d;')).toEqual(['styles.css:2: color: #c8161d;'])
    expect(strayColoursIn('components/world/WorldMap.vue', '  --map-grass: #cfe5b0;\n  fill: #cfe5b0;')).toHaveLength(1)
  })

  it('gives every --aic-* token a dark value too', () => {
    const appTokens = [...LIGHT.keys()].filter((name) => name.startsWith('--aic-') && name !== '--aic-on-accent')
    const withoutDark = appTokens.filter((name) => !tokens(darkBlock).has(name))
    // Over photos and fills that stay dark, a token keeps one value in both themes.
    const sameInBoth = [
      '--aic-accent-fill',
      '--aic-danger-fill',
      '--aic-danger-strong-fill',
      '--aic-warning-fill',
      '--aic-event-fill',
      '--aic-scrim',
      '--aic-scrim-soft',
      '--aic-scrim-fade',
      '--aic-crop-mask',
      '--aic-danger-scrim',
    ]
    expect(withoutDark.sort()).toEqual(sameInBoth.sort())
    expect(STYLES).toMatch(/@media \(prefers-color-scheme: dark\) \{\s*:root \{\s*color-scheme: dark;/)
  })

  it('makes the page dark in dark mode and keeps it light otherwise', () => {
    const luminanceOf = (hex: string) => parseInt(hex.slice(1, 3), 16) + parseInt(hex.slice(3, 5), 16)
    expect(luminanceOf(resolve(LIGHT, '--aic-bg'))).toBeGreaterThan(400)
    expect(luminanceOf(resolve(DARK, '--aic-bg'))).toBeLessThan(80)
    expect(resolve(LIGHT, '--aic-accent')).toBe('#1461b3')
    expect(resolve(LIGHT, '--aic-muted')).toBe('#646566')
  })

  it.each([
    ['light', LIGHT],
    ['dark', DARK],
  ])('keeps every text at 4.5:1 on its background in the %s theme', (_theme, theme) => {
    const failing = PAIRS.map(([text, bg]) => [text, bg, contrast(resolve(theme, text), resolve(theme, bg))] as const)
      .filter(([, , ratio]) => ratio < 4.5)
      .map(([text, bg, ratio]) => `${text} on ${bg}: ${ratio.toFixed(2)}`)
    expect(failing).toEqual([])
  })
})
