// The emoji the picker offers: a small curated set of common ones in categories (no library). Each
// category's name is a locale key (extras.emoji.<id>).

export interface EmojiCategory {
  id: 'smileys' | 'gestures' | 'hearts' | 'nature' | 'food' | 'activities' | 'objects'
  emoji: string[]
}

export const EMOJI_CATEGORIES: EmojiCategory[] = [
  {
    id: 'smileys',
    emoji: ['😀', '😁', '😂', '🤣', '😊', '😍', '🥰', '😘', '😎', '🤔', '😴', '😅', '😭', '😡', '😱', '🥳', '😇', '🙃', '😋', '🤗', '😬', '🙄', '😢', '😤'],
  },
  {
    id: 'gestures',
    emoji: ['👍', '👎', '👏', '🙌', '🙏', '👋', '🤝', '💪', '👌', '✌️', '🤞', '👀'],
  },
  {
    id: 'hearts',
    emoji: ['❤️', '🧡', '💛', '💚', '💙', '💜', '🖤', '💔', '💕', '✨', '🔥', '💯'],
  },
  {
    id: 'nature',
    emoji: ['🌸', '🌹', '🌻', '🌳', '🍀', '🌈', '☀️', '🌙', '⭐', '🌧️', '❄️', '🐱', '🐶', '🐼', '🐟', '🦋'],
  },
  {
    id: 'food',
    emoji: ['☕', '🍵', '🧋', '🍺', '🍰', '🍜', '🍣', '🥟', '🍎', '🍉', '🍓', '🍕'],
  },
  {
    id: 'activities',
    emoji: ['🎉', '🎂', '🎁', '🎵', '🎨', '📚', '⚽', '🏀', '🏃', '🚲', '✈️', '📷'],
  },
  {
    id: 'objects',
    emoji: ['💡', '📌', '📅', '⏰', '💻', '📱', '✏️', '🏠', '🏮', '🧧', '✅', '❓'],
  },
]

/** ``value`` with ``insert`` put in place of its selection from ``start`` to ``end``; and where the
 * caret goes after it. */
export function insertText(value: string, insert: string, start: number, end: number): { value: string; caret: number } {
  const from = Math.max(0, Math.min(start, value.length))
  const to = Math.max(from, Math.min(end, value.length))
  return { value: value.slice(0, from) + insert + value.slice(to), caret: from + insert.length }
}
