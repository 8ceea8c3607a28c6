import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { ApiError } from '@/api/client'
import type { Post } from '@/api/types'
import { MAX_POST_IMAGES, checkImageFile, uploadImage } from '@/api/upload'
import { useFeedStore } from './feed'

/** Uploads at once: the files service decodes only a couple of images at a time anyway. */
export const PARALLEL_UPLOADS = 3

export type ImageStatus = 'waiting' | 'uploading' | 'done' | 'failed'

export interface ComposeImage {
  key: number
  file: File
  previewUrl: string
  status: ImageStatus
  /** 0 to 1 while uploading. */
  progress: number
  /** Why it failed: an ApiError (the server's, or the same codes found before sending) or a network error. */
  error: unknown
  /** Checked before sending: retrying cannot help. */
  rejected: boolean
  fileId: string | null
}

/** The post being written: its text and its images, uploaded as soon as they are picked. */
export const useComposeStore = defineStore('compose', () => {
  const content = ref('')
  const images = ref<ComposeImage[]>([])
  const aborts = new Map<number, AbortController>()
  let nextKey = 1

  const uploading = computed(() => images.value.some((image) => image.status === 'waiting' || image.status === 'uploading'))
  const failed = computed(() => images.value.some((image) => image.status === 'failed'))
  const room = computed(() => MAX_POST_IMAGES - images.value.length)

  /** Adds picked files (as many as still fit) and starts their uploads; returns how many did not fit. */
  function addFiles(files: File[]): number {
    const fitting = files.slice(0, Math.max(0, room.value))
    for (const file of fitting) {
      const problem = checkImageFile(file)
      images.value.push({
        key: nextKey++,
        file,
        previewUrl: problem === 'unsupported_image' ? '' : URL.createObjectURL(file),
        status: problem ? 'failed' : 'waiting',
        progress: 0,
        // Same code and status as the server would answer, so both read alike.
        error: problem ? new ApiError(problem === 'file_too_large' ? 413 : 422, problem, '') : null,
        rejected: problem !== null,
        fileId: null,
      })
    }
    pump()
    return files.length - fitting.length
  }

  function find(key: number): ComposeImage | undefined {
    return images.value.find((image) => image.key === key)
  }

  function pump(): void {
    let running = images.value.filter((image) => image.status === 'uploading').length
    for (const image of images.value) {
      if (running >= PARALLEL_UPLOADS) break
      if (image.status !== 'waiting') continue
      running += 1
      void upload(image.key)
    }
  }

  async function upload(key: number): Promise<void> {
    const image = find(key)
    if (!image) return
    const controller = new AbortController()
    aborts.set(key, controller)
    image.status = 'uploading'
    image.progress = 0
    image.error = null
    try {
      const uploaded = await uploadImage(image.file, {
        signal: controller.signal,
        onProgress: (fraction) => {
          const current = find(key)
          if (current) current.progress = fraction
        },
      })
      const current = find(key)
      if (current) {
        current.status = 'done'
        current.progress = 1
        current.fileId = uploaded.id
      }
    } catch (error) {
      const current = find(key)
      if (current && !controller.signal.aborted) {
        current.status = 'failed'
        current.error = error
      }
    } finally {
      aborts.delete(key)
      pump()
    }
  }

  function retry(key: number): void {
    const image = find(key)
    if (!image || image.status !== 'failed' || image.rejected) return
    image.status = 'waiting'
    image.error = null
    pump()
  }

  /** Takes an image out of the post; an upload still running is cancelled. */
  function remove(key: number): void {
    aborts.get(key)?.abort()
    const image = find(key)
    if (image?.previewUrl) URL.revokeObjectURL(image.previewUrl)
    images.value = images.value.filter((item) => item.key !== key)
    pump()
  }

  function reset(): void {
    for (const image of [...images.value]) remove(image.key)
    content.value = ''
  }

  async function submit(): Promise<Post> {
    if (uploading.value || failed.value) throw new Error('Images are not ready')
    const ids = images.value.map((image) => image.fileId).filter((id): id is string => id !== null)
    const post = await useFeedStore().create(content.value, ids)
    reset()
    return post
  }

  return { content, images, uploading, failed, room, addFiles, retry, remove, reset, submit }
})
