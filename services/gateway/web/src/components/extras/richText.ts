// Plain text cut into pieces a template renders as nodes: words, links and @mentions. Nothing here is
// ever HTML: the pieces are interpolated or bound to attributes, so a post cannot inject markup.

export type TextPiece =
  | { kind: 'text'; text: string }
  | { kind: 'url'; text: string; href: string }
  | { kind: 'mention'; text: string; username: string }

/** http(s) URLs up to whitespace or a character that cannot end one; mentions by the social service's
 * own rule (aic_social.service.MENTION): @ and 3 to 32 letters, digits or underscores, not after a
 * letter, digit, underscore or @ (so not in an email address). */
const PIECE = /(https?:\/\/[^\s<>"'`]+)|(?<![\p{L}\p{N}_@])@([A-Za-z0-9_]{3,32})/gu
/** Punctuation that ends a sentence rather than a URL ("see https://x.org/a." or "(https://x.org)"). */
const TRAILING = /[.,;:!?)\]}'"，。；：！？）、」』]+$/u

function trimUrl(raw: string): string {
  let url = raw.replace(TRAILING, '')
  // Keep a closing parenthesis that closes one inside the URL (Wikipedia's "Foo_(bar)").
  if (raw.length > url.length && raw[url.length] === ')' && url.includes('(')) url += ')'
  return url
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0
  } catch {
    return false
  }
}

export function splitText(text: string): TextPiece[] {
  const pieces: TextPiece[] = []
  let plain = ''
  let last = 0
  const flush = () => {
    if (plain) pieces.push({ kind: 'text', text: plain })
    plain = ''
  }
  for (const match of text.matchAll(PIECE)) {
    const start = match.index ?? 0
    plain += text.slice(last, start)
    if (match[1]) {
      const url = trimUrl(match[1])
      if (isHttpUrl(url)) {
        flush()
        pieces.push({ kind: 'url', text: url, href: url })
      } else {
        plain += url
      }
      last = start + url.length
    } else {
      flush()
      pieces.push({ kind: 'mention', text: match[0], username: match[2]! })
      last = start + match[0].length
    }
  }
  plain += text.slice(last)
  flush()
  return pieces
}

/** The first http(s) link of a text: the one a preview card shows. */
export function firstUrl(text: string): string | null {
  const piece = splitText(text).find((p) => p.kind === 'url')
  return piece && piece.kind === 'url' ? piece.href : null
}
