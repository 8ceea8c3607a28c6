import { reactive } from 'vue'

/** What the image viewer shows; changed through openImageViewer() / closeImageViewer(). */
export const viewerState = reactive({
  show: false,
  images: [] as string[],
  start: 0,
  opener: null as HTMLElement | null,
})
