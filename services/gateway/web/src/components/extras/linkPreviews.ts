import { ApiError, request } from '@/api/client'

/** What GET /api/link-preview answers: a page's site name, title and description (never an image). */
export interface LinkPreviewData {
  url: string
  site_name: string | null
  title: string
  description: string | null
}

/** One request per link per page load, shared by every card showing it; null: the link has no preview. */
const previews = new Map<string, Promise<LinkPreviewData | null>>()
const MAX_REMEMBERED = 200

export function linkPreview(url: string): Promise<LinkPreviewData | null> {
  let found = previews.get(url)
  if (!found) {
    // No token needed: previews are public (and cached alike for everyone by the server).
    found = request<LinkPreviewData>('/link-preview', { query: { url }, auth: false }).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 404) return null
      previews.delete(url) // a network failure may pass: asked again next time
      return null
    })
    previews.set(url, found)
    if (previews.size > MAX_REMEMBERED) previews.delete(previews.keys().next().value!)
  }
  return found
}

export function forgetLinkPreviews(): void {
  previews.clear()
}
