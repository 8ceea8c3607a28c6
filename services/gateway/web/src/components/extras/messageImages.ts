import { computed, onBeforeUnmount, ref } from 'vue'
import { ApiError } from '@/api/client'
import { checkImageFile, uploadImage } from '@/api/upload'

/** The social service's limit (AIC_MAX_IMAGES_PER_MESSAGE). */
export const MAX_MESSAGE_IMAGES = 4

export interface PendingImage {
  key: number
  previewUrl: string
  status: 'uploading' | 'done' | 'failed'
  progress: number
  error: unknown
  fileId: string | null
}

/**
 * The images of a message being written: each is uploaded (files service) as soon as it is picked,
 * with its progress; a removed one's upload is cancelled. ``ids`` are the uploaded ones, in order.
 */
export function useMessageImages() {
  const images = ref<PendingImage[]>([])
  const aborts = new Map<number, AbortController>()
  let nextKey = 1

  const uploading = computed(() => images.value.some((image) => image.status === 'uploading'))
  const failed = computed(() => images.value.some((image) => image.status === 'failed'))
  const ready = computed(() => images.value.length > 0 && !uploading.value && !failed.value)
  const room = computed(() => MAX_MESSAGE_IMAGES - images.value.length)
  const ids = computed(() => images.value.map((image) => image.fileId).filter((id): id is string => id !== null))

  function find(key: number): PendingImage | undefined {
    return images.value.find((image) => image.key === key)
  }

  async function upload(key: number, file: File): Promise<void> {
    const controller = new AbortController()
    aborts.set(key, controller)
    try {
      const uploaded = await uploadImage(file, {
        signal: controller.signal,
        onProgress: (fraction) => {
          const image = find(key)
          if (image) image.progress = fraction
        },
      })
      const image = find(key)
      if (image) Object.assign(image, { status: 'done', progress: 1, fileId: uploaded.id })
    } catch (error) {
      const image = find(key)
      if (image && !controller.signal.aborted) Object.assign(image, { status: 'failed', error })
    } finally {
      aborts.delete(key)
    }
  }

  /** Adds what fits and starts uploading it; answers how many did not fit. */
  function add(files: File[]): number {
    const fitting = files.slice(0, Math.max(0, room.value))
    for (const file of fitting) {
      const key = nextKey++
      const problem = checkImageFile(file)
      images.value.push({
        key,
        previewUrl: problem === 'unsupported_image' ? '' : URL.createObjectURL(file),
        status: problem ? 'failed' : 'uploading',
        progress: 0,
        error: problem ? new ApiError(problem === 'file_too_large' ? 413 : 422, problem, '') : null,
        fileId: null,
      })
      if (!problem) void upload(key, file)
    }
    return files.length - fitting.length
  }

  function remove(key: number): void {
    aborts.get(key)?.abort()
    const image = find(key)
    if (image?.previewUrl) URL.revokeObjectURL(image.previewUrl)
    images.value = images.value.filter((item) => item.key !== key)
  }

  function clear(): void {
    for (const image of [...images.value]) remove(image.key)
  }

  onBeforeUnmount(clear)

  return { images, uploading, failed, ready, room, ids, add, remove, clear }
}
