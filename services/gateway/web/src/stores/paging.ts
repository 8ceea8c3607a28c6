import type { Page } from '@/api/types'

/** A list the API serves a page at a time (`?cursor=&limit=` → `{items, next_cursor}`). */
export interface PagedList<T> {
  items: T[]
  cursor: string | null
  finished: boolean
  loading: boolean
  error: unknown
}

export function emptyPagedList<T>(): PagedList<T> {
  return { items: [], cursor: null, finished: false, loading: false, error: null }
}

/**
 * Fetches the page after `list.cursor` and appends the items not already there (a live item may be on
 * top already, or a page boundary may have shifted). `add` replaces the appending for lists that place
 * items themselves. Returns the page, or null when the list was busy or complete.
 */
export async function loadNextPage<T extends { id: string }, P extends Page<T> = Page<T>>(
  list: PagedList<T>,
  fetchPage: (cursor: string | null) => Promise<P>,
  add?: (items: T[]) => void,
): Promise<P | null> {
  if (list.loading || list.finished) return null
  list.loading = true
  list.error = null
  try {
    const page = await fetchPage(list.cursor)
    if (add) add(page.items)
    else {
      const seen = new Set(list.items.map((item) => item.id))
      list.items.push(...page.items.filter((item) => !seen.has(item.id)))
    }
    list.cursor = page.next_cursor ?? null
    list.finished = !page.next_cursor
    return page
  } catch (error) {
    list.error = error
    throw error
  } finally {
    list.loading = false
  }
}
