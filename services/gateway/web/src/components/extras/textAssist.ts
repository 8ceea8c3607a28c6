import { nextTick, onBeforeUnmount, ref, useId, watch, type Ref } from 'vue'
import { api } from '@/api/client'
import type { Author, SearchResults } from '@/api/types'
import { insertText } from './emoji'

/** An @ and the start of a username just before the caret (the social service's mention characters),
 * not after a letter, digit, underscore or @ (an email address is no mention). */
const TYPING_MENTION = /(?<![\p{L}\p{N}_@])@([A-Za-z0-9_]{1,32})$/u
export const MENTION_SUGGESTIONS = 6
/** How long typing rests before the search is asked. */
export const MENTION_DEBOUNCE_MS = 150

/** The username being typed after an @ at ``caret``, or null. */
export function mentionAt(text: string, caret: number): { query: string; start: number } | null {
  const found = TYPING_MENTION.exec(text.slice(0, caret))
  return found ? { query: found[1]!, start: caret - found[0].length } : null
}

/**
 * What a text box gets besides typing: ``insert`` puts text (an emoji) at the caret, and @mention
 * suggestions: typing "@li" asks the search for accounts starting so; the arrow keys move, Enter or
 * Tab takes one (``onKeydown`` answers whether it used the key), Escape closes the list.
 */
export function useTextAssist(model: Ref<string>, textarea: () => HTMLTextAreaElement | null | undefined) {
  const people = ref<Author[]>([])
  const active = ref(0)
  const mention = ref<{ query: string; start: number } | null>(null)
  const listId = useId()
  let timer: ReturnType<typeof setTimeout> | undefined
  let asked = 0

  function caret(): number {
    return textarea()?.selectionStart ?? model.value.length
  }

  async function placeCaret(position: number): Promise<void> {
    await nextTick()
    const box = textarea()
    if (!box) return
    box.focus()
    box.setSelectionRange(position, position)
  }

  function insert(text: string): void {
    const box = textarea()
    const start = box?.selectionStart ?? model.value.length
    const end = box?.selectionEnd ?? start
    const next = insertText(model.value, text, start, end)
    model.value = next.value
    void placeCaret(next.caret)
  }

  function close(): void {
    clearTimeout(timer)
    asked += 1 // an answer on its way is dropped
    mention.value = null
    people.value = []
  }

  /** Looks at the text before the caret: an @name being typed asks for suggestions. */
  function update(): void {
    const found = mentionAt(model.value, caret())
    if (!found) {
      close()
      return
    }
    if (found.query === mention.value?.query && found.start === mention.value.start) return
    mention.value = found
    clearTimeout(timer)
    const ask = ++asked
    timer = setTimeout(async () => {
      try {
        const results = await api.get<SearchResults>('/search', {
          q: found.query,
          type: 'users',
          limit: MENTION_SUGGESTIONS,
        })
        if (ask !== asked) return
        people.value = results.users.slice(0, MENTION_SUGGESTIONS)
        active.value = 0
      } catch {
        if (ask === asked) people.value = [] // no suggestions is no harm: typing goes on
      }
    }, MENTION_DEBOUNCE_MS)
  }

  function choose(index: number): void {
    const person = people.value[index]
    const at = mention.value
    if (!person || !at) return
    const next = insertText(model.value, `@${person.username} `, at.start, caret())
    model.value = next.value
    close()
    void placeCaret(next.caret)
  }

  function onKeydown(event: KeyboardEvent): boolean {
    if (!people.value.length || event.isComposing) return false
    const count = people.value.length
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      active.value = (active.value + (event.key === 'ArrowDown' ? 1 : count - 1)) % count
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      choose(active.value)
    } else if (event.key === 'Escape') {
      close()
    } else {
      return false
    }
    event.preventDefault()
    event.stopPropagation()
    return true
  }

  // The text box tells assistive technology about the list (Vant's Field does not pass these on).
  watch(
    [people, active, textarea],
    () => {
      const box = textarea()
      if (!box) return
      // No aria-expanded: a text box (not a combobox) may not carry it; the active option is enough.
      box.setAttribute('aria-autocomplete', 'list')
      box.setAttribute('aria-controls', listId)
      if (people.value.length) box.setAttribute('aria-activedescendant', `${listId}-${active.value}`)
      else box.removeAttribute('aria-activedescendant')
    },
    { flush: 'post' },
  )

  onBeforeUnmount(() => clearTimeout(timer))

  return { people, active, listId, insert, update, close, choose, onKeydown }
}

export type TextAssist = ReturnType<typeof useTextAssist>
