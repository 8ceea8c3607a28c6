// The one image viewer of the app (post pictures in the feed, on a post's page, on profiles): opened
// from anywhere with openImageViewer(), drawn by a single ImageViewer mounted on first use.
import { createApp } from 'vue'
import { i18n } from '@/i18n'
import ImageViewer from './ImageViewer.vue'
import { viewerState } from './imageViewerState'

let mounted = false

function mountOnce(): void {
  if (mounted) return
  mounted = true
  const host = document.createElement('div')
  document.body.appendChild(host)
  createApp(ImageViewer).use(i18n).mount(host)
}

/**
 * Shows `images` (full-size URLs) from `start`. `opener`: the element that opened it (the thumbnail),
 * focused again when the viewer closes, so a keyboard user is back where they were.
 */
export function openImageViewer(images: string[], start = 0, opener: HTMLElement | null = null): void {
  if (!images.length) return
  mountOnce()
  Object.assign(viewerState, { images, start, opener, show: true })
}

export function closeImageViewer(): void {
  viewerState.show = false
}

export { viewerState }
